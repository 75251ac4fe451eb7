"""A real Celery worker process, over the configured broker (Redis in CI), runs the upload-processing job."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image as PILImage

from annotator.celery import app as celery_app
from labeling.models import JobStatus, PyramidStatus
from tests.api.conftest import client_for, make_user
from tests.conftest import jpeg_bytes
from tests.integration.workers import new_queue_name, print_logs, start_worker, stop_worker, wait_for_job

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def worker(tmp_path):
    """A worker on a queue of its own, which this process sends its CPU tasks to."""
    queue = new_queue_name()
    previous = celery_app.conf.task_default_queue
    celery_app.conf.task_default_queue = queue
    process = start_worker(queues=[queue], log_path=tmp_path / "worker.log")
    yield process
    stop_worker(process)
    celery_app.conf.task_default_queue = previous
    print_logs(tmp_path)


def test_upload_is_processed_by_a_real_worker(worker):
    from labeling.services.projects import project_create

    manager = make_user("manager")
    project = project_create(user=manager, name="Integration", kind="instance")
    client = client_for(manager)
    response = client.post(
        reverse("project-images", kwargs={"project_pk": project.pk}),
        {"files": [SimpleUploadedFile("a.jpg", jpeg_bytes(700, 300, seed=1)),
                   SimpleUploadedFile("b.jpg", jpeg_bytes(50, 40, seed=2))]},
        format="multipart",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["accepted"] == 2
    job = wait_for_job(body["job"]["id"])
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert job.attempts == 1 and job.progress == 1.0
    assert sorted(job.result["processed"]) == sorted(r["image_id"] for r in body["results"])
    image_id = body["results"][0]["image_id"]
    image = client.get(reverse("image-detail", kwargs={"pk": image_id})).json()
    assert image["pyramid_status"] == PyramidStatus.READY
    assert image["pyramid_levels"][0][:2] == [700, 300]
    # The worker really wrote the tiles the viewer asks for.
    tile = client.get(reverse("image-tile", kwargs={"pk": image_id, "level": 0, "x": 2, "y": 1}))
    assert tile.status_code == 200
    assert PILImage.open(io.BytesIO(b"".join(tile.streaming_content))).size == (700 - 512, 300 - 256)


def test_a_label_import_is_applied_by_a_real_worker_or_not_at_all(worker):
    import json

    from labeling.models import Annotation, Image, Segment
    from labeling.services.projects import label_class_create, project_create

    manager = make_user("manager")
    project = project_create(user=manager, name="Imports", kind="instance")
    label_class_create(project=project, name="car", kind="thing", color="#ff0000")
    client = client_for(manager)
    response = client.post(reverse("project-images", kwargs={"project_pk": project.pk}),
                           {"files": [SimpleUploadedFile("a.jpg", jpeg_bytes(64, 48, seed=3))]}, format="multipart")
    assert wait_for_job(response.json()["job"]["id"]).status == JobStatus.SUCCEEDED
    image = Image.objects.get(project=project)

    def post(annotations):
        document = {"images": [{"id": 1, "file_name": "a.jpg", "width": 64, "height": 48}],
                    "categories": [{"id": 1, "name": "car"}], "annotations": annotations}
        reply = client.post(reverse("project-imports", kwargs={"project_pk": project.pk}),
                            {"format": "coco_instances",
                             "file": SimpleUploadedFile("coco.json", json.dumps(document).encode())},
                            format="multipart")
        assert reply.status_code == 202, reply.content
        return wait_for_job(reply.json()["id"])

    square = {"id": 1, "image_id": 1, "category_id": 1, "segmentation": [[8, 8, 24, 8, 24, 24, 8, 24]]}
    failed = post([square, {"id": 2, "image_id": 1, "category_id": 1, "segmentation": [[1, 1, 2, 2]]}])
    assert failed.status == JobStatus.FAILED and failed.result["problems"][0]["code"] == "bad_polygon"
    assert not Annotation.objects.filter(image=image, annotator__isnull=True).exists()
    job = post([square])
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert job.result["applied"] and job.result["images"] == 1
    (segment,) = Segment.objects.filter(annotation__image=image, annotation__annotator__isnull=True)
    assert segment.area == 16 * 16 and segment.source == "import"
