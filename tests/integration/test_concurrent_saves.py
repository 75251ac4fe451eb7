"""Two editors save from the same base version at the same moment over real HTTP: exactly one wins."""

import base64
import threading

import numpy as np
import pytest
import requests
from rest_framework.authtoken.models import Token

from labeling.masks.tiles import encode_tile
from labeling.models import Annotation, Membership, Revision, Role, Segment
from labeling.services.projects import label_class_create, project_create
from tests.api.conftest import make_user

pytestmark = [pytest.mark.django_db(transaction=True)]


def _body(class_id: int, segment_id: int) -> dict:
    tile = np.zeros((100, 120), dtype=np.uint32)
    tile[segment_id: segment_id + 10, 0:10] = segment_id
    return {"base_version": 0,
            "tiles": [{"tx": 0, "ty": 0, "data": base64.b64encode(encode_tile(tile)).decode()}],
            "segments": [{"segment_id": segment_id, "class_id": class_id}]}


def test_racing_saves_one_wins_one_gets_409(live_server):
    from labeling.models import Image

    manager = make_user("manager")
    reviewer = make_user("reviewer")
    project = project_create(user=manager, name="Race", kind="instance")
    Membership.objects.create(project=project, user=reviewer, role=Role.REVIEWER)
    car = label_class_create(project=project, name="car", kind="thing", color="#ff0000")
    image = Image.objects.create(project=project, file="x.png", original_name="x.png", format="PNG", width=120,
                                 height=100, size_bytes=1, sha256="1" * 64)
    annotation = Annotation.objects.create(image=image, annotator=manager)
    url = f"{live_server.url}/api/annotations/{annotation.pk}/save/"
    tokens = [Token.objects.create(user=manager).key, Token.objects.create(user=reviewer).key]

    for round_ in range(5):
        base = Annotation.objects.get(pk=annotation.pk).version
        barrier = threading.Barrier(2)
        statuses = [None, None]

        def save(i, base=base, barrier=barrier, statuses=statuses, round_=round_):
            body = _body(car.pk, segment_id=1 + i + 2 * round_)
            body["base_version"] = base
            barrier.wait()
            statuses[i] = requests.post(url, json=body, headers={"Authorization": f"Token {tokens[i]}"}, timeout=30)

        threads = [threading.Thread(target=save, args=(i,)) for i in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        codes = sorted(r.status_code for r in statuses)
        assert codes == [200, 409], [r.text for r in statuses]
        loser = next(r for r in statuses if r.status_code == 409).json()
        assert loser["code"] == "stale_version" and loser["extra"]["current_version"] == base + 1
    assert Annotation.objects.get(pk=annotation.pk).version == 5
    assert Revision.objects.filter(annotation=annotation).count() == 5
    # Every save rewrote the only tile, so only the last winner's segment keeps pixels; rows stay consistent.
    painted = [s for s in Segment.objects.filter(annotation=annotation) if s.area]
    assert len(painted) == 1 and painted[0].area == 100
