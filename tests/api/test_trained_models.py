"""Own models through the API: upload checks, pre-label jobs (eager Celery), failures, and annotators starting
from a model's pre-label."""

import json

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from labeling.models import Annotation, Image, Job, JobStatus, Role, Segment, TrainedModel
from labeling.services.images import images_upload
from labeling.services.projects import label_class_create
from tests.api.conftest import client_for
from tests.own_model_fixtures import (
    FailingNet,
    FailsOnGreenNet,
    HogsOnContentNet,
    InstanceNet,
    SemanticNet,
    blob_image,
    create_model,
    manifest,
    onnx_semantic_bytes,
    pickle_bytes,
    png_of,
    torchscript_bytes,
)

pytestmark = pytest.mark.django_db


def _upload(client, project, *, data: bytes, manifest_json, name="segmenter", filename="model.pt"):
    body = {"file": SimpleUploadedFile(filename, data), "name": name,
            "manifest": manifest_json if isinstance(manifest_json, str) else json.dumps(manifest_json)}
    return client.post(reverse("project-models", kwargs={"project_pk": project.pk}), body, format="multipart")


def _blob_images(world, capture, *rgbs):
    with capture(execute=True):
        batch = images_upload(project=world.project, user=world.users["manager"], files=[
            SimpleUploadedFile(f"blobs{i}.png", png_of(rgb)) for i, rgb in enumerate(rgbs)
        ])
    return [Image.objects.get(pk=r.image_id) for r in batch.results]


def _run(client, trained_model, capture, **body):
    with capture(execute=True):
        response = client.post(reverse("model-prelabel", kwargs={"pk": trained_model.pk}), body, format="json")
    assert response.status_code == 202, response.content
    return Job.objects.get(pk=response.json()["job"]["id"])


def test_manager_uploads_onnx_everyone_lists_it(world):
    manager = client_for(world.users["manager"])
    response = _upload(manager, world.project, data=onnx_semantic_bytes(), manifest_json=manifest("semantic_logits"),
                       filename="seg.onnx")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["format"] == "onnx" and body["output"] == "semantic_logits" and body["classes"] == ["car", "road"]
    assert body["manifest"]["normalize"] == {"scale": 255.0, "mean": [0.0, 0.0, 0.0], "std": [1.0, 1.0, 1.0]}
    stored = TrainedModel.objects.get(pk=body["id"])
    assert stored.file == f"models/{world.project.pk}/{stored.sha256}.onnx"
    assert default_storage.exists(stored.file) and stored.size_bytes == default_storage.size(stored.file)

    annotator = client_for(world.users[Role.ANNOTATOR])
    listed = annotator.get(reverse("project-models", kwargs={"project_pk": world.project.pk}))
    assert [m["name"] for m in listed.json()] == ["segmenter"]
    assert _upload(annotator, world.project, data=onnx_semantic_bytes(), manifest_json=manifest("semantic_logits"),
                   name="mine").status_code == 403


@pytest.mark.parametrize(
    ("data", "manifest_json", "code", "fragment"),
    [
        (lambda: pickle_bytes(SemanticNet()), manifest("semantic_logits"), "bad_model_file", "torch.save checkpoint"),
        (lambda: pickle_bytes(SemanticNet().state_dict()), manifest("semantic_logits"), "bad_model_file",
         "never loaded"),
        (lambda: b"not a model at all" * 10, manifest("semantic_logits"), "bad_model_file", "does not parse"),
        (lambda: onnx_semantic_bytes(), "{not json", "bad_manifest", "not valid JSON"),
        (lambda: onnx_semantic_bytes(), manifest("semantic_logits", class_map={"1": "truck"}), "bad_manifest",
         "does not have: truck"),
        (lambda: onnx_semantic_bytes(), manifest("semantic_logits", input_size=[32, 32]), "bad_manifest",
         "input shape is [1, 3, 16, 16]"),
        (lambda: onnx_semantic_bytes(), manifest("semantic_logits", class_map={"7": "car"}), "bad_manifest",
         "outputs 3 classes but class_map uses index 7"),
        (lambda: torchscript_bytes(SemanticNet()), manifest("instance_masks"), "bad_manifest",
         "needs masks, scores, labels"),
        (lambda: torchscript_bytes(FailingNet()), manifest("semantic_logits"), "model_failed",
         "deliberate failure inside the model"),
    ],
    ids=["pickled-module", "state-dict", "garbage", "manifest-json", "unknown-class", "input-size", "class-index",
         "wrong-output-kind", "model-raises"],
)
def test_bad_uploads_are_400_and_store_nothing(world, data, manifest_json, code, fragment):
    world.users["manager"].is_staff = True  # staff may upload TorchScript (see the test below)
    world.users["manager"].save(update_fields=["is_staff"])
    response = _upload(client_for(world.users["manager"]), world.project, data=data(), manifest_json=manifest_json)
    assert response.status_code == 400, response.content
    assert response.json()["code"] == code
    assert fragment in response.json()["message"]
    assert not TrainedModel.objects.exists()
    assert not default_storage.exists(f"models/{world.project.pk}") or not default_storage.listdir(
        f"models/{world.project.pk}")[1]


def test_size_limit_and_duplicate_name(world, settings):
    manager = client_for(world.users["manager"])
    data = onnx_semantic_bytes()
    assert _upload(manager, world.project, data=data, manifest_json=manifest("semantic_logits")).status_code == 201
    again = _upload(manager, world.project, data=data, manifest_json=manifest("semantic_logits"))
    assert again.status_code == 400 and again.json()["code"] == "duplicate_name"
    settings.ANNOTATOR = {**settings.ANNOTATOR, "MAX_MODEL_BYTES": 100}
    big = _upload(manager, world.project, data=data, manifest_json=manifest("semantic_logits"), name="other")
    assert big.status_code == 400 and big.json()["code"] == "model_too_large"


def test_prelabel_job_writes_model_segments_and_reruns_replace_them(world, django_capture_on_commit_callbacks):
    (image,) = _blob_images(world, django_capture_on_commit_callbacks, blob_image())
    trained_model = create_model(world.project, data=torchscript_bytes(SemanticNet()),
                                 manifest_json=manifest("semantic_logits", input_size=[48, 64]))
    manager = client_for(world.users["manager"])
    job = _run(manager, trained_model, django_capture_on_commit_callbacks, image_ids=[image.pk])
    assert job.kind == "prelabel" and job.status == JobStatus.SUCCEEDED, job.error
    assert job.result == {"trained_model": trained_model.pk, "images": 1, "labeled": 1, "skipped": 0, "failed": 0,
                          "segments": 3, "errors": []}
    prelabel = Annotation.objects.get(image=image, annotator__isnull=True)
    assert prelabel.trained_model == trained_model and prelabel.version == 1
    segments = list(Segment.objects.filter(annotation=prelabel))
    assert {s.source for s in segments} == {"model"}
    assert sorted((s.label_class.name, s.instance) for s in segments) == [("car", 1), ("car", 2), ("road", None)]
    assert all(0.99 < s.score <= 1 for s in segments)
    assert sorted(s.area for s in segments) == [256, 256, 1024]

    again = _run(manager, trained_model, django_capture_on_commit_callbacks, all=True)
    assert again.status == JobStatus.SUCCEEDED and again.params["image_ids"] == [w.pk for w in Image.objects.filter(
        project=world.project).order_by("id")]
    prelabel.refresh_from_db()
    assert Annotation.objects.filter(image=image, annotator__isnull=True).count() == 1
    assert prelabel.version == 2 and Segment.objects.filter(annotation=prelabel).count() == 3
    # The fixture's noise image got a pre-label of its own, untouched images keep state "new".
    assert Image.objects.get(pk=image.pk).state == "new"


def test_annotator_starts_from_the_newest_prelabel(world, django_capture_on_commit_callbacks):
    (image,) = _blob_images(world, django_capture_on_commit_callbacks, blob_image())
    semantic = create_model(world.project, data=torchscript_bytes(SemanticNet()),
                            manifest_json=manifest("semantic_logits", input_size=[48, 64]), name="semantic")
    instances = create_model(world.project, data=torchscript_bytes(InstanceNet()),
                             manifest_json=manifest("instance_masks", input_size=[48, 64]), name="instances")
    manager = client_for(world.users["manager"])
    _run(manager, semantic, django_capture_on_commit_callbacks, image_ids=[image.pk])
    _run(manager, instances, django_capture_on_commit_callbacks, image_ids=[image.pk])  # newest

    annotator = client_for(world.users[Role.ANNOTATOR])
    opened = annotator.post(reverse("image-annotations", kwargs={"pk": image.pk}))
    assert opened.status_code == 201
    body = opened.json()
    newest = Annotation.objects.get(image=image, trained_model=instances)
    expected = list(Segment.objects.filter(annotation=newest).order_by("segment_id"))
    assert body["version"] == 1 and body["annotator"] == world.users[Role.ANNOTATOR].pk
    assert [(s["segment_id"], s["source"], s["score"], s["instance"], s["area"]) for s in body["segments"]] == [
        (s.segment_id, "model", s.score, s.instance, s.area) for s in expected
    ]
    assert [(s["segment_id"], s["score"]) for s in body["segments"]] == [(1, 0.9), (2, 0.7)]
    tile = annotator.get(reverse("annotation-tile", kwargs={"pk": body["id"], "tx": 0, "ty": 0}))
    assert tile.content == bytes(newest.tiles.get(tx=0, ty=0).data)
    revisions = annotator.get(reverse("annotation-revisions", kwargs={"pk": body["id"]})).json()["results"]
    assert [(r["version"], r["author"]) for r in revisions] == [(1, None)]
    # Editing goes on from there: a save against version 1 deletes a model segment.
    saved = annotator.post(reverse("annotation-save", kwargs={"pk": body["id"]}), {
        "base_version": 1, "tiles": [], "segments": [], "deleted_segment_ids": [],
    }, format="json")
    assert saved.status_code == 200 and saved.json()["version"] == 2
    # Opening again does not copy again; the pre-labels themselves are untouched.
    assert annotator.post(reverse("image-annotations", kwargs={"pk": image.pk})).json()["version"] == 2
    assert Segment.objects.filter(annotation=newest).count() == 2


def test_image_without_prelabel_starts_empty(world):
    response = client_for(world.users["manager"]).post(reverse("image-annotations", kwargs={"pk": world.image.pk}))
    assert response.status_code == 201
    assert response.json()["version"] == 0 and response.json()["segments"] == []


def test_per_image_failures_are_listed_and_the_job_succeeds(world, django_capture_on_commit_callbacks):
    red_only = blob_image()
    red_only[32:] = 0
    good, bad = _blob_images(world, django_capture_on_commit_callbacks, red_only, blob_image())
    trained_model = create_model(world.project, data=torchscript_bytes(FailsOnGreenNet()),
                                 manifest_json=manifest("semantic_logits", input_size=[48, 64]))
    job = _run(client_for(world.users["manager"]), trained_model, django_capture_on_commit_callbacks,
               image_ids=[good.pk, bad.pk])
    assert job.status == JobStatus.SUCCEEDED
    assert job.result["labeled"] == 1 and job.result["failed"] == 1
    assert job.result["errors"] == [{"image_id": bad.pk, "name": "blobs1.png",
                                     "message": "the model failed: RuntimeError: deliberate failure on green pixels"}]
    assert Annotation.objects.filter(image=good, annotator__isnull=True).exists()
    assert not Annotation.objects.filter(image=bad, annotator__isnull=True).exists()


def test_out_of_memory_fails_the_job_cleanly_and_the_next_job_runs(world, django_capture_on_commit_callbacks):
    (image,) = _blob_images(world, django_capture_on_commit_callbacks, blob_image())
    hog = create_model(world.project, data=torchscript_bytes(HogsOnContentNet()),
                       manifest_json=manifest("semantic_logits", input_size=[48, 64]), name="hog")
    manager = client_for(world.users["manager"])
    failed = _run(manager, hog, django_capture_on_commit_callbacks, image_ids=[image.pk])
    assert failed.status == JobStatus.FAILED
    assert failed.error.startswith("PrelabelFailed: every image failed (1); image")
    assert "the model ran out of memory" in failed.error and "can't allocate memory" in failed.error
    assert failed.result["errors"][0]["image_id"] == image.pk
    assert not Annotation.objects.filter(image=image, annotator__isnull=True).exists()
    # The queue goes on: the next job, with a working model, succeeds.
    good = create_model(world.project, data=torchscript_bytes(SemanticNet()),
                        manifest_json=manifest("semantic_logits", input_size=[48, 64]), name="good")
    assert _run(manager, good, django_capture_on_commit_callbacks, image_ids=[image.pk]).status == JobStatus.SUCCEEDED


def test_model_whose_class_was_deleted_fails_the_job_with_a_message(world, django_capture_on_commit_callbacks):
    sky = label_class_create(project=world.project, name="sky", kind="stuff", color="#0000ff")
    trained_model = create_model(world.project, data=torchscript_bytes(SemanticNet()),
                                 manifest_json=manifest("semantic_logits", class_map={"1": "car", "2": "sky"}))
    sky.delete()  # the class was removed after the model was registered
    job = _run(client_for(world.users["manager"]), trained_model, django_capture_on_commit_callbacks, all=True)
    assert job.status == JobStatus.FAILED
    assert "no longer fits the project" in job.error and "sky" in job.error


def test_prelabel_request_validation(world, django_capture_on_commit_callbacks):
    trained_model = create_model(world.project, data=onnx_semantic_bytes(), manifest_json=manifest("semantic_logits"))
    manager = client_for(world.users["manager"])
    url = reverse("model-prelabel", kwargs={"pk": trained_model.pk})
    unknown = manager.post(url, {"image_ids": [world.image.pk, 10**9]}, format="json")
    assert unknown.status_code == 400 and unknown.json()["extra"]["image_ids"] == [10**9]
    assert manager.post(url, {}, format="json").status_code == 400
    assert manager.post(url, {"all": True, "state": "done"}, format="json").status_code == 400
    none_left = manager.post(url, {"all": True, "state": "approved"}, format="json")
    assert none_left.status_code == 400 and none_left.json()["code"] == "no_images"
    assert not Job.objects.filter(kind="prelabel").exists()


def test_delete_keeps_prelabels_and_removes_the_file(world, django_capture_on_commit_callbacks):
    trained_model = create_model(world.project, data=onnx_semantic_bytes(), manifest_json=manifest("semantic_logits"))
    _run(client_for(world.users["manager"]), trained_model, django_capture_on_commit_callbacks, all=True)
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(world.users["manager"]).delete(reverse("model-detail", kwargs={"pk": trained_model.pk}))
    assert response.status_code == 204
    assert not default_storage.exists(trained_model.file)
    assert Annotation.objects.filter(image=world.image, annotator__isnull=True, trained_model__isnull=True).exists()


def test_redelivered_job_runs_again_and_leaves_one_prelabel(world, django_capture_on_commit_callbacks):
    from workers.tasks import run_prelabel

    trained_model = create_model(world.project, data=onnx_semantic_bytes(), manifest_json=manifest("semantic_logits"))
    job = _run(client_for(world.users["manager"]), trained_model, django_capture_on_commit_callbacks, all=True)
    first = list(Segment.objects.filter(annotation__trained_model=trained_model).values_list(
        "segment_id", "label_class_id", "instance", "score", "area"))
    # The worker died after finishing the work but before acknowledging: the message comes back while the row
    # still says "running".
    Job.objects.filter(pk=job.pk).update(status=JobStatus.RUNNING)
    run_prelabel(job.pk)
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED and job.attempts == 2
    assert Annotation.objects.filter(image=world.image, annotator__isnull=True).count() == 1
    assert list(Segment.objects.filter(annotation__trained_model=trained_model).values_list(
        "segment_id", "label_class_id", "instance", "score", "area")) == first
    # A finished job delivered again is left alone.
    run_prelabel(job.pk)
    job.refresh_from_db()
    assert job.attempts == 2


def test_only_staff_may_upload_torchscript(world):
    """TorchScript runs code (a scripted forward can read files); any user can manage a project of their own."""
    manager = world.users["manager"]
    response = _upload(client_for(manager), world.project, data=torchscript_bytes(SemanticNet()),
                       manifest_json=manifest("semantic_logits"))
    assert response.status_code == 403, response.content
    assert response.json()["code"] == "torchscript_not_allowed" and "ONNX" in response.json()["message"]
    assert not TrainedModel.objects.exists()
    assert _upload(client_for(manager), world.project, data=onnx_semantic_bytes(),
                   manifest_json=manifest("semantic_logits"), name="onnx").status_code == 201
    manager.is_staff = True
    manager.save(update_fields=["is_staff"])
    assert _upload(client_for(manager), world.project, data=torchscript_bytes(SemanticNet()),
                   manifest_json=manifest("semantic_logits"), name="scripted").status_code == 201
