"""Learning from approved labels through the API (eager Celery): training a pixel classifier, its pre-labels and
uncertainty, active-learning order, the retrain loop, cancelling, and bad requests."""

import io
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image as PILImage

from labeling.models import Image, Job, JobStatus, Membership, Role, Segment, TaskState, TrainedModel
from labeling.services.images import images_upload
from labeling.services.labelmaps import SegmentInput, annotation_get_or_create, labelmap_replace
from labeling.services.learning import retrain_if_due, training_start
from labeling.services.reconcile import orphan_files_sweep
from labeling.services.stored_files import image_delete
from labeling.services.tasks import annotation_submit, image_approve, tasks_assign
from labeling.services.trained_models import image_uncertainty_save
from labeling.services.training import training_run
from tests.api.conftest import client_for, make_user
from tests.own_model_fixtures import png_of
from workers.runners.pixel_forest import uncertainty_png
from workers.tasks import train_model

pytestmark = pytest.mark.django_db

WIDTH, HEIGHT = 96, 64


def street(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A noisy grey-blue road with one or two noisy red cars; the label map: road segment 1, cars 2 and 3."""
    rng = np.random.default_rng(seed)
    rgb = np.empty((HEIGHT, WIDTH, 3), dtype=np.int16)
    rgb[:] = (70, 80, 120)
    label_map = np.ones((HEIGHT, WIDTH), dtype=np.uint32)
    for car in range(1 + seed % 2):
        x, y = 8 + 44 * car + int(rng.integers(0, 12)), int(rng.integers(6, 34))
        rgb[y:y + 20, x:x + 28] = (210, 40, 40)
        label_map[y:y + 20, x:x + 28] = 2 + car
    rgb += rng.integers(-15, 16, size=rgb.shape, dtype=np.int16)
    return np.clip(rgb, 0, 255).astype(np.uint8), label_map


def upload(world, capture, seeds) -> list[Image]:
    with capture(execute=True):
        batch = images_upload(project=world.project, user=world.users["manager"], files=[
            SimpleUploadedFile(f"street{seed}.png", png_of(street(seed)[0])) for seed in seeds])
    return [Image.objects.get(pk=r.image_id) for r in batch.results]


def approve(world, image: Image, seed: int) -> None:
    """The annotator labels the image exactly (road and cars), submits it, and the reviewer approves it."""
    annotator = world.users[Role.ANNOTATOR]
    annotation, _ = annotation_get_or_create(image=image, user=annotator)
    label_map = street(seed)[1]
    rows = [SegmentInput(segment_id=1, class_id=world.stuff.pk)] + [
        SegmentInput(segment_id=int(s), class_id=world.thing.pk, instance=int(s) - 1)
        for s in np.unique(label_map) if s > 1]
    labelmap_replace(annotation=annotation, label_map=label_map, segments=rows, user=annotator)
    annotation_submit(annotation=annotation, user=annotator)
    image_approve(image=image, user=world.users[Role.REVIEWER])


@pytest.fixture
def approved_streets(world, django_capture_on_commit_callbacks):
    """Six approved streets (seeds 0-5) and three new ones (seeds 10-12), beside the world's noise image."""
    images = upload(world, django_capture_on_commit_callbacks, range(6))
    with django_capture_on_commit_callbacks(execute=True):
        for seed, image in enumerate(images):
            approve(world, image, seed)
    fresh = upload(world, django_capture_on_commit_callbacks, [10, 11, 12])
    return images, fresh


def train(world, capture, user="manager", **body):
    client = client_for(world.users[user])
    with capture(execute=True):
        response = client.post(reverse("project-models-train", kwargs={"project_pk": world.project.pk}), body,
                               format="json")
    return response


def trained(world, capture, **body) -> tuple[Job, TrainedModel]:
    started = time.monotonic()
    response = train(world, capture, **body)
    seconds = time.monotonic() - started
    assert response.status_code == 202, response.content
    assert response.json()["model"] is None
    job = Job.objects.get(pk=response.json()["job"]["id"])
    assert job.status == JobStatus.SUCCEEDED, job.error
    print(f"training took {seconds:.2f} s; val {job.result['val']}")  # noqa: T201 - the measurement the report gives
    return job, TrainedModel.objects.get(pk=job.result["trained_model"])


def test_training_registers_a_trained_model_with_its_record(world, approved_streets,
                                                           django_capture_on_commit_callbacks):
    images, fresh = approved_streets
    job, model = trained(world, django_capture_on_commit_callbacks)
    assert job.kind == "train" and job.progress == 1.0 and job.params["trigger"] == "manual"
    assert model.origin == "trained" and model.format == "pixel_forest"
    assert model.file == f"models/{world.project.pk}/{model.sha256}.skops" and default_storage.exists(model.file)
    training = model.training
    assert training["learner"] == "pixel_classifier" and training["job"] == job.pk and training["split"] == "seeded"
    assert len(training["val_image_ids"]) == 1 and len(training["train_image_ids"]) == 5
    assert sorted(training["train_image_ids"] + training["val_image_ids"]) == sorted(i.pk for i in images)
    assert training["params"] == {"max_side": 512, "samples_per_image": 2000, "max_samples_per_class": 50_000,
                                  "n_estimators": 32, "max_depth": 12, "seed": 0, "val_share": 0.2}
    assert training["rounds"][0]["train_pixel_accuracy"] > 0.95
    assert training["val"]["images"] == 1 and training["val"]["miou"] > 0.9  # two classes that are easy to tell
    assert [c["name"] for c in training["classes"]] == ["car", "road"]
    assert job.result["trained_model"] == model.pk and job.result["val"] == training["val"]

    listed = client_for(world.users[Role.ANNOTATOR]).get(
        reverse("project-models", kwargs={"project_pk": world.project.pk})).json()
    assert [(m["name"], m["origin"], m["format"], m["classes"]) for m in listed] == [
        ("Pixel classifier 1", "trained", "pixel_forest", ["car", "road"])]
    assert listed[0]["training"]["val"]["miou"] == training["val"]["miou"]

    # A redelivered job whose model is registered answers it again and registers nothing more.
    assert training_run(job=job, progress=lambda fraction: True)["trained_model"] == model.pk
    assert TrainedModel.objects.filter(project=world.project).count() == 1


def test_a_stored_split_chooses_the_train_and_val_images(world, approved_streets, django_capture_on_commit_callbacks):
    images, _ = approved_streets
    for image, split in zip(images, ["train", "train", "val", "val", "test", ""]):
        Image.objects.filter(pk=image.pk).update(split=split)
    _, model = trained(world, django_capture_on_commit_callbacks, params={"n_estimators": 8})
    assert model.training["split"] == "stored" and model.training["params"]["n_estimators"] == 8
    assert model.training["train_image_ids"] == [images[0].pk, images[1].pk]
    assert model.training["val_image_ids"] == [images[2].pk, images[3].pk]


def test_the_trained_model_prelabels_with_scores_and_uncertainty(world, approved_streets,
                                                                django_capture_on_commit_callbacks):
    images, fresh = approved_streets
    _, model = trained(world, django_capture_on_commit_callbacks)
    manager = client_for(world.users["manager"])
    with django_capture_on_commit_callbacks(execute=True):
        response = manager.post(reverse("model-prelabel", kwargs={"pk": model.pk}), {"state": "new", "all": True},
                                format="json")
    job = Job.objects.get(pk=response.json()["job"]["id"])
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert job.result["labeled"] == 4 and job.result["uncertainty_scored"] == 4  # 3 streets + the noise image

    image = fresh[1]  # seed 11: two cars
    annotations = client_for(world.users[Role.ANNOTATOR]).get(
        reverse("image-annotations", kwargs={"pk": image.pk})).json()
    assert [(a["annotator"], a["trained_model"], a["trained_model_name"], a["trained_model_origin"])
            for a in annotations] == [(None, model.pk, "Pixel classifier 1", "trained")]
    segments = list(Segment.objects.filter(annotation_id=annotations[0]["id"]).order_by("segment_id"))
    cars = [s for s in segments if s.label_class_id == world.thing.pk]
    roads = [s for s in segments if s.label_class_id == world.stuff.pk]
    assert len(roads) == 1 and roads[0].instance is None
    big_cars = [s for s in cars if s.area > 200]
    assert sorted(s.instance for s in big_cars) == [1, 2][:len(big_cars)] and len(big_cars) == 2
    assert all(s.source == "model" and 0.5 < s.score <= 1 for s in segments)

    image.refresh_from_db()
    assert 0 < image.uncertainty < 0.3
    noise = world.image
    noise.refresh_from_db()
    assert noise.uncertainty > image.uncertainty  # random pixels are neither road nor car
    response = client_for(world.users[Role.ANNOTATOR]).get(reverse("image-uncertainty", kwargs={"pk": image.pk}))
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    picture = PILImage.open(io.BytesIO(b"".join(response.streaming_content)))
    assert picture.mode == "L" and picture.size == (WIDTH, HEIGHT)
    assert np.asarray(picture).mean() / 255 == pytest.approx(image.uncertainty, abs=0.01)
    # An approved image no model scored has no map.
    assert manager.get(reverse("image-uncertainty", kwargs={"pk": images[0].pk})).status_code == 404

    listed = manager.get(reverse("project-images", kwargs={"project_pk": world.project.pk}),
                         {"ordering": "-uncertainty"}).json()["results"]
    scored = sorted([noise, *[Image.objects.get(pk=i.pk) for i in fresh]], key=lambda i: -i.uncertainty)
    assert [i["id"] for i in listed[:4]] == [i.pk for i in scored]
    assert [i["uncertainty"] for i in listed[4:]] == [None] * 6  # nulls last

    # Deleting an image removes its map with its other files.
    with django_capture_on_commit_callbacks(execute=True):
        image_delete(image=image, user=world.users["manager"])
    assert not default_storage.exists(f"uncertainty/{image.pk}.png")


def test_image_list_orders_by_uncertainty_with_unscored_images_last(world, django_capture_on_commit_callbacks):
    images = upload(world, django_capture_on_commit_callbacks, [20, 21, 22, 23])
    for image, value in zip(images, [0.2, None, 0.7, 0.2]):
        Image.objects.filter(pk=image.pk).update(uncertainty=value)
    client = client_for(world.users[Role.ANNOTATOR])
    url = reverse("project-images", kwargs={"project_pk": world.project.pk})
    ids = [world.image.pk, *(i.pk for i in images)]

    def order(value):
        return [i["id"] for i in client.get(url, {"ordering": value}).json()["results"]]

    assert order("-uncertainty") == [ids[3], ids[1], ids[4], ids[0], ids[2]]
    assert order("uncertainty") == [ids[1], ids[4], ids[3], ids[0], ids[2]]
    assert order("-id") == list(reversed(ids)) and order("id") == ids
    assert client.get(url, {"ordering": "-uncertainty", "state": "new"}).json()["results"][0]["uncertainty"] == 0.7
    response = client.get(url, {"ordering": "name"})
    assert response.status_code == 400 and "ordering" in response.json()["message"]


def test_next_task_follows_uncertainty_when_the_project_asks(world, django_capture_on_commit_callbacks):
    images = upload(world, django_capture_on_commit_callbacks, [20, 21, 22])
    for image, value in zip(images, [0.1, 0.6, 0.3]):  # world.image, the oldest, was never scored
        Image.objects.filter(pk=image.pk).update(uncertainty=value)
    world.project.next_task_order = "uncertainty"
    world.project.save()
    annotator = world.users[Role.ANNOTATOR]
    others = []
    for name in ("second", "third", "fourth"):
        others.append(make_user(name))
        Membership.objects.create(project=world.project, user=others[-1], role=Role.ANNOTATOR)
    tasks_assign(project=world.project, image_ids=[images[0].pk], user_ids=[annotator.pk], by=world.users["manager"])
    url = reverse("project-next-task", kwargs={"project_pk": world.project.pk})

    def next_image(user):
        body = client_for(user).post(url).json()
        return body["image"]["id"] if body["image"] else None, body["why"]

    # Every other rule still comes first: an assignment outranks uncertainty, and one's own draft stays first.
    assert next_image(annotator) == (images[0].pk, "assigned")
    assert next_image(annotator) == (images[0].pk, "draft")
    # Among the rest: the most uncertain first, unscored images last.
    assert [next_image(user) for user in others] == [
        (images[1].pk, "unlabelled"), (images[2].pk, "unlabelled"), (world.image.pk, "unlabelled")]


def test_next_task_keeps_oldest_first_by_default(world, django_capture_on_commit_callbacks):
    images = upload(world, django_capture_on_commit_callbacks, [20, 21])
    Image.objects.filter(pk=images[1].pk).update(uncertainty=0.9)
    Image.objects.filter(pk=world.image.pk).delete()
    body = client_for(world.users[Role.ANNOTATOR]).post(
        reverse("project-next-task", kwargs={"project_pk": world.project.pk})).json()
    assert body["image"]["id"] == images[0].pk


def test_retrain_every_n_approvals_then_prelabel_new_images(world, django_capture_on_commit_callbacks):
    world.project.retrain_every = 3
    world.project.prelabel_new = True
    world.project.save()
    images = upload(world, django_capture_on_commit_callbacks, range(7))
    trainings = Job.objects.filter(project=world.project, kind="train")
    with django_capture_on_commit_callbacks(execute=True):
        approve(world, images[0], 0)
        approve(world, images[1], 1)
    assert not trainings.exists()
    with django_capture_on_commit_callbacks(execute=True):
        approve(world, images[2], 2)
    job = trainings.get()
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert job.params["trigger"] == "retrain_every"
    model = TrainedModel.objects.get(pk=job.result["trained_model"])
    assert model.training["approved_image_ids"] == sorted(i.pk for i in images[:3])

    # prelabel_new: the best model pre-labelled the images nobody started.
    prelabel = Job.objects.get(pk=job.result["prelabel_job"])
    assert prelabel.kind == "prelabel" and prelabel.status == JobStatus.SUCCEEDED, prelabel.error
    assert prelabel.params["trained_model_id"] == model.pk
    assert sorted(prelabel.params["image_ids"]) == sorted([world.image.pk, *(i.pk for i in images[3:])])
    assert Image.objects.filter(pk__in=prelabel.params["image_ids"], uncertainty__isnull=False).count() == 5

    with django_capture_on_commit_callbacks(execute=True):
        approve(world, images[3], 3)
        approve(world, images[4], 4)
    assert trainings.count() == 1  # two since the last training
    with django_capture_on_commit_callbacks(execute=True):
        approve(world, images[5], 5)
    assert trainings.count() == 2 and trainings.latest("id").status == JobStatus.SUCCEEDED


def test_one_training_at_a_time_per_project(world, approved_streets):
    first = training_start(project=world.project, user=world.users["manager"])  # queued: on-commit never fires here
    response = client_for(world.users["manager"]).post(
        reverse("project-models-train", kwargs={"project_pk": world.project.pk}), {}, format="json")
    assert response.status_code == 202 and response.json()["job"]["id"] == first.pk
    world.project.retrain_every = 1
    world.project.save()
    assert retrain_if_due(project_id=world.project.pk) is None  # not while one is queued


def test_cancel_stops_a_training_before_it_registers_anything(world, approved_streets, monkeypatch):
    from workers.runners import pixel_forest

    job = training_start(project=world.project, user=world.users["manager"])
    sampled = []
    real = pixel_forest.image_samples

    def sample_then_cancel(*args, **kwargs):
        sampled.append(1)
        if len(sampled) == 2:  # the manager cancels while the second image is read
            assert client_for(world.users["manager"]).post(reverse("job-cancel", kwargs={"pk": job.pk})
                                                           ).status_code == 200
        return real(*args, **kwargs)

    monkeypatch.setattr(pixel_forest, "image_samples", sample_then_cancel)
    train_model(job.pk)
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLED and len(sampled) == 2
    assert not TrainedModel.objects.filter(project=world.project).exists()
    assert not default_storage.exists(f"models/{world.project.pk}")
    train_model(job.pk)  # a late copy of the message does nothing
    assert len(sampled) == 2


def test_bad_training_requests(world, django_capture_on_commit_callbacks):
    response = train(world, django_capture_on_commit_callbacks)
    assert response.status_code == 400 and response.json()["code"] == "no_approved_images"
    for body, field in [({"params": {"n_estimators": 0}}, "params.n_estimators"),
                        ({"params": {"trees": 3}}, "params.trees"),
                        ({"params": {"seed": 1.5}}, "params.seed"),
                        ({"params": {"max_side": True}}, "params.max_side")]:
        response = train(world, django_capture_on_commit_callbacks, **body)
        assert response.status_code == 400 and response.json()["extra"]["field"] == field, (body, response.json())
    response = train(world, django_capture_on_commit_callbacks, learner="unet")
    assert response.status_code == 400
    assert train(world, django_capture_on_commit_callbacks, user=Role.REVIEWER).status_code == 403


def test_a_training_on_one_class_fails_with_a_message(world, django_capture_on_commit_callbacks):
    images = upload(world, django_capture_on_commit_callbacks, [0, 1])
    annotator = world.users[Role.ANNOTATOR]
    with django_capture_on_commit_callbacks(execute=True):
        for image in images:
            annotation, _ = annotation_get_or_create(image=image, user=annotator)
            labelmap_replace(annotation=annotation, label_map=np.ones((HEIGHT, WIDTH), dtype=np.uint32),
                             segments=[SegmentInput(segment_id=1, class_id=world.stuff.pk)], user=annotator)
            annotation_submit(annotation=annotation, user=annotator)
            image_approve(image=image, user=world.users[Role.REVIEWER])
    response = train(world, django_capture_on_commit_callbacks)
    job = Job.objects.get(pk=response.json()["job"]["id"])
    assert job.status == JobStatus.FAILED and "at least two classes" in job.error
    assert Image.objects.filter(project=world.project, state=TaskState.APPROVED).count() == 2


def test_the_sweep_removes_uncertainty_maps_of_images_that_are_gone(world, settings):
    settings.ANNOTATOR = {**settings.ANNOTATOR, "ORPHAN_FILE_GRACE_SECONDS": 3600}
    png = uncertainty_png(np.zeros((4, 4), np.float32))
    image_uncertainty_save(image=world.image, score=0.0, png=png)
    orphan = "uncertainty/999999.png"
    default_storage.save(orphan, ContentFile(png))
    old = time.time() - 7200
    for name in (orphan, f"uncertainty/{world.image.pk}.png"):
        os.utime(Path(settings.MEDIA_ROOT) / name, (old, old))
    assert orphan_files_sweep() == {"uncertainty_maps": 1}
    assert not default_storage.exists(orphan) and default_storage.exists(f"uncertainty/{world.image.pk}.png")


def test_a_web_process_never_imports_scikit_learn():
    """The API and the task registry (which a web process loads to send jobs) leave the pixel classifier to the
    worker that runs it."""
    code = ("import django, sys; django.setup(); import annotator.urls; from celery import current_app; "
            "current_app.tasks['workers.tasks.train_model']; print('sklearn' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120,
                         env={**os.environ, "DJANGO_SETTINGS_MODULE": "annotator.settings"})
    assert out.stdout.strip() == "False", out.stderr[-2000:]
