import hashlib
import math
import time
from collections.abc import Mapping

from django.contrib.auth import authenticate, login, logout
from django.core.cache import cache as default_cache
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_protect
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.authtoken.models import Token
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView

from labeling.errors import ApplicationError


class TokenRequestSerializer(serializers.Serializer):
    username = serializers.CharField()
    password = serializers.CharField(style={"input_type": "password"})


class TokenResponseSerializer(serializers.Serializer):
    token = serializers.CharField()


class MeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    is_superuser = serializers.BooleanField()


def _me(user) -> dict:
    return {"id": user.pk, "username": user.get_username(), "is_superuser": user.is_superuser}


def _credentials_user(request):
    """The active user matching the posted username and password, or a 400 that does not say which was wrong."""
    data = TokenRequestSerializer(data=request.data)
    data.is_valid(raise_exception=True)
    user = authenticate(request, **data.validated_data)
    if user is None or not user.is_active:
        LoginThrottle().record_failure(request)
        raise ApplicationError("wrong username or password", code="bad_credentials")
    return user


class LoginThrottle(BaseThrottle):
    """Failed logins, counted per account (the posted username, stripped and lower-cased) and per client address,
    each over a sliding window with its own rate, in Django's cache. Only failures count, and a login is refused
    (429 with Retry-After) only while its own account or its own address is over its limit: one person's typos
    cannot lock out others behind the same proxy, and guessing one account's password from many addresses still
    stops at the account's limit."""

    account_rate = "10/min"  # failed logins per account
    address_rate = "100/min"  # failed logins per address (DRF's get_ident: REMOTE_ADDR, or X-Forwarded-For)
    cache = default_cache
    timer = time.time

    def allow_request(self, request, view) -> bool:
        now = self.timer()
        self.retry_after = 0.0
        for key, (limit, duration) in self._counters(request):
            failures = self._failures(key, now, duration)
            if len(failures) >= limit:
                # Newest first: the limit-th newest failure leaving the window brings the count under the limit.
                self.retry_after = max(self.retry_after, failures[limit - 1] + duration - now)
        return self.retry_after <= 0

    def wait(self) -> int:
        return max(1, math.ceil(self.retry_after))

    def record_failure(self, request) -> None:
        now = self.timer()
        for key, (limit, duration) in self._counters(request):
            failures = [now, *self._failures(key, now, duration)][:limit]
            self.cache.set(key, failures, duration)

    def _counters(self, request) -> list[tuple[str, tuple[int, int]]]:
        counters = [(f"login_failures:address:{self.get_ident(request)}", _parse_rate(self.address_rate))]
        data = request.data
        username = data.get("username") if isinstance(data, Mapping) else None
        if isinstance(username, str) and username.strip():
            digest = hashlib.sha256(username.strip().lower().encode()).hexdigest()  # any text makes a valid key
            counters.append((f"login_failures:account:{digest}", _parse_rate(self.account_rate)))
        return counters

    def _failures(self, key: str, now: float, duration: int) -> list[float]:
        return [t for t in self.cache.get(key, []) if t > now - duration]


def _parse_rate(rate: str) -> tuple[int, int]:
    """A DRF-style rate as (count, seconds): "10/min" -> (10, 60); the period is s, min, hour or day."""
    count, period = rate.split("/")
    return int(count), {"s": 1, "m": 60, "h": 3600, "d": 86400}[period[0]]


class TokenView(APIView):
    """Trade a username and password for an API token (for the SDK, CLI and scripts)."""

    permission_classes = [AllowAny]
    authentication_classes = []
    throttle_classes = [LoginThrottle]

    @extend_schema(request=TokenRequestSerializer, responses=TokenResponseSerializer)
    def post(self, request):
        user = _credentials_user(request)
        token, _ = Token.objects.get_or_create(user=user)
        return Response({"token": token.key})


class MeView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses=MeSerializer)
    def get(self, request):
        return Response(_me(request.user))


class SessionLoginView(APIView):
    """Log in the browser app with a session cookie. CSRF is enforced here too (against login CSRF)."""

    permission_classes = [AllowAny]
    authentication_classes = []
    throttle_classes = [LoginThrottle]

    @method_decorator(csrf_protect)
    def dispatch(self, request, *args, **kwargs):
        return super().dispatch(request, *args, **kwargs)

    @extend_schema(request=TokenRequestSerializer, responses=MeSerializer)
    def post(self, request):
        user = _credentials_user(request)
        login(request._request, user)
        return Response(_me(user))


class SessionLogoutView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses={204: None})
    def post(self, request):
        logout(request._request)
        return Response(status=204)
