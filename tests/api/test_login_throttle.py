"""The login throttle counts failed logins per account and per address, so one person's typos lock no one else out."""

import pytest
from django.core.cache import cache
from django.urls import reverse
from rest_framework.test import APIClient

from labeling.api.auth import LoginThrottle
from tests.api.conftest import make_user


@pytest.fixture(autouse=True)
def empty_cache():
    cache.clear()  # the throttle's counters live in the cache, which outlives a test
    yield
    cache.clear()


def token_login(username, password, address="10.0.0.1"):
    return APIClient().post(reverse("auth-token"), {"username": username, "password": password}, format="json",
                            REMOTE_ADDR=address)


def test_one_accounts_wrong_passwords_do_not_lock_out_others_at_the_same_address(db):
    make_user("alice")
    make_user("bob")
    answers = [token_login("alice", "wrong").status_code for _ in range(30)]
    assert answers.count(400) == 10 and answers[10:] == [429] * 20  # alice's own limit
    assert token_login("bob", "pw-bob-123").status_code == 200
    assert token_login("bob", "wrong").status_code == 400  # and bob's own failures count for bob


def test_wrong_passwords_from_many_addresses_lock_the_account_but_not_others(db):
    make_user("alice")
    make_user("bob")
    for i in range(10):
        assert token_login("alice", "wrong", address=f"10.1.0.{i}").status_code == 400
    locked = token_login("Alice ", "pw-alice-123", address="10.9.9.9")  # the right password, a new address
    assert locked.status_code == 429
    assert locked.json()["code"] == "throttled" and {"message", "code", "extra"} <= set(locked.json())
    assert 1 <= int(locked.headers["Retry-After"]) <= 60
    assert token_login("bob", "pw-bob-123", address="10.1.0.3").status_code == 200


def test_an_address_over_its_limit_is_refused_for_every_account(db, monkeypatch):
    monkeypatch.setattr(LoginThrottle, "address_rate", "5/min")
    make_user("bob")
    for i in range(5):
        assert token_login(f"guess{i}", "wrong").status_code == 400
    assert token_login("bob", "pw-bob-123").status_code == 429
    assert token_login("bob", "pw-bob-123", address="10.0.0.2").status_code == 200


def test_successful_logins_do_not_count(db):
    make_user("alice")
    for _ in range(15):
        assert token_login("alice", "pw-alice-123").status_code == 200


def test_failures_leave_the_window(db, monkeypatch):
    make_user("alice")
    now = [1000.0]
    monkeypatch.setattr(LoginThrottle, "timer", lambda self: now[0])
    for _ in range(10):
        assert token_login("alice", "wrong").status_code == 400
    refused = token_login("alice", "pw-alice-123")
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "60"
    now[0] += 61
    assert token_login("alice", "pw-alice-123").status_code == 200


def test_the_browser_login_shares_the_counters(db):
    make_user("alice")
    for _ in range(10):
        assert token_login("alice", "wrong").status_code == 400
    client = APIClient()  # CSRF is not enforced by the test client unless asked
    answer = client.post(reverse("auth-login"), {"username": "alice", "password": "pw-alice-123"}, format="json",
                         REMOTE_ADDR="10.0.0.1")
    assert answer.status_code == 429
