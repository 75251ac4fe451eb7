"""Per-image export artifacts: stored when an image is approved (the Celery task runs eagerly after the commit),
streamed by exports instead of computed again, refreshed on re-approval, and never used once stale."""

import io

import pytest
from django.core.files.storage import default_storage
from django.core.management import call_command

from labeling.exports import EXPORTERS
from labeling.exports.artifacts import ArtifactContext
from labeling.models import Image, Role, TaskState
from labeling.services.export_artifacts import export_artifacts_refresh, project_artifacts_rebuild
from labeling.services.exports import artifact_folder, artifact_path, export_categories
from labeling.services.labelmaps import annotation_get_or_create
from labeling.services.projects import label_class_update
from labeling.services.tasks import annotation_submit, image_approve, image_approve_merge, image_reopen
from tests.api.test_exports import run_export
from tests.api.test_workflow import _second_annotator, more_images, paint

FORMATS = sorted(EXPORTERS)


def _approve(world, image, *, box=(5, 5, 9, 9), capture):
    annotator, reviewer = world.users[Role.ANNOTATOR], world.users[Role.REVIEWER]
    annotation, _ = annotation_get_or_create(image=image, user=annotator)
    paint(annotation, annotator, box=box)
    paint(annotation, annotator, segment_id=2, box=(100, 50, 300, 200), class_id=world.stuff.pk)
    annotation_submit(annotation=annotation, user=annotator)
    with capture(execute=True):
        image_approve(image=image, user=reviewer)
    annotation.refresh_from_db()
    return annotation


def _stored_files(image) -> list[str]:
    try:
        return sorted(default_storage.listdir(artifact_folder(project_id=image.project_id, image_id=image.pk))[1])
    except FileNotFoundError:
        return []


def _expected_paths(image, annotation) -> set[str]:
    categories = export_categories(project=image.project)
    return {artifact_path(ArtifactContext(name, categories), project_id=image.project_id, image_id=image.pk,
                          width=image.width, height=image.height, annotation_id=annotation.pk,
                          annotation_version=annotation.version) for name in FORMATS}


def _delete_artifacts(image) -> None:
    for name in _stored_files(image):
        default_storage.delete(f"{artifact_folder(project_id=image.project_id, image_id=image.pk)}/{name}")


@pytest.fixture
def two_approved(world, django_capture_on_commit_callbacks):
    (other,) = more_images(world, 1)
    first = _approve(world, world.image, capture=django_capture_on_commit_callbacks)
    second = _approve(world, other, box=(400, 300, 600, 470), capture=django_capture_on_commit_callbacks)
    return [(world.image, first), (other, second)]


def test_approving_stores_every_formats_artifacts(world, two_approved):
    for image, annotation in two_approved:
        folder = artifact_folder(project_id=image.project_id, image_id=image.pk)
        assert {f"{folder}/{name}" for name in _stored_files(image)} == _expected_paths(image, annotation)
    # Redelivered: nothing is computed or stored again.
    image, annotation = two_approved[0]
    assert export_artifacts_refresh(image_id=image.pk, annotation_id=annotation.pk) == {
        "stored": 0, "kept": len(FORMATS), "removed": 0, "unsupported": []}


@pytest.mark.parametrize("name", FORMATS)
def test_an_export_streams_the_stored_artifacts_and_equals_one_computed(
        world, two_approved, name, per_image_calls, django_capture_on_commit_callbacks):
    streamed, _ = run_export(world, django_capture_on_commit_callbacks, format=name)
    assert per_image_calls == []
    for image, _ in two_approved:
        _delete_artifacts(image)
    computed, _ = run_export(world, django_capture_on_commit_callbacks, format=name)
    assert sorted(per_image_calls) == sorted((name, image.pk) for image, _ in two_approved)
    assert streamed.result == {**computed.result, "file": streamed.result["file"]}  # same sha256, bytes, summary


def test_split_and_all_image_exports_use_artifacts_only_of_approved_images(
        world, two_approved, per_image_calls, django_capture_on_commit_callbacks):
    draft_image = more_images(world, 2)[1]  # the first is the approved one's file again (same seed)
    draft, _ = annotation_get_or_create(image=draft_image, user=world.users[Role.ANNOTATOR])
    paint(draft, draft.annotator)
    job, _ = run_export(world, django_capture_on_commit_callbacks, format="coco_instances", approved_only=False,
                        split="stratified", split_fractions={"train": 0.5, "val": 0.5, "test": 0.0})
    assert per_image_calls == [("coco_instances", draft_image.pk)]
    assert job.result["images"] == 3
    # Other options have keys of their own: computed, never mixed up with the stored RLE.
    per_image_calls.clear()
    run_export(world, django_capture_on_commit_callbacks, format="coco_instances", polygons=True)
    run_export(world, django_capture_on_commit_callbacks, format="semantic_png", class_ids=[world.thing.pk])
    assert len(per_image_calls) == 4


def test_reopening_editing_and_approving_again_refreshes_them(
        world, two_approved, per_image_calls, django_capture_on_commit_callbacks):
    image, annotation = two_approved[0]
    before = _stored_files(image)
    reviewer, annotator = world.users[Role.REVIEWER], world.users[Role.ANNOTATOR]
    with django_capture_on_commit_callbacks(execute=True):
        image_reopen(image=image, user=reviewer, reason="the car is larger")
    # Not approved: the export leaves the image out and its artifacts are not read.
    job, _ = run_export(world, django_capture_on_commit_callbacks, format="instance_png")
    assert job.result["images"] == 1 and per_image_calls == []
    assert export_artifacts_refresh(image_id=image.pk) == {"skipped": "not_approved"}

    paint(annotation, annotator, box=(5, 5, 60, 60))
    annotation_submit(annotation=annotation, user=annotator)
    with django_capture_on_commit_callbacks(execute=True):
        image_approve(image=Image.objects.get(pk=image.pk), user=reviewer)
    annotation.refresh_from_db()
    after = _stored_files(image)
    assert len(after) == len(FORMATS) and not set(after) & set(before)  # stale files removed
    folder = artifact_folder(project_id=image.project_id, image_id=image.pk)
    assert {f"{folder}/{n}" for n in after} == _expected_paths(image, annotation)
    per_image_calls.clear()
    streamed, _ = run_export(world, django_capture_on_commit_callbacks, format="instance_png")
    assert per_image_calls == []
    _delete_artifacts(image)
    computed, _ = run_export(world, django_capture_on_commit_callbacks, format="instance_png")
    assert streamed.result["sha256"] == computed.result["sha256"]


def test_a_refresh_for_an_older_approval_or_changed_annotation_stores_nothing(world, two_approved):
    image, annotation = two_approved[0]
    _delete_artifacts(image)
    assert export_artifacts_refresh(image_id=image.pk, annotation_id=annotation.pk + 1000) == {
        "skipped": "annotation_changed"}
    assert export_artifacts_refresh(image_id=999999) == {"skipped": "not_approved"}
    assert _stored_files(image) == []


def test_renaming_a_class_changes_the_keys_until_the_project_is_rebuilt(
        world, two_approved, per_image_calls, django_capture_on_commit_callbacks):
    image, annotation = two_approved[0]
    old = _expected_paths(image, annotation)
    label_class_update(label_class=world.thing, data={"name": "automobile"})
    assert not old & _expected_paths(image, annotation)
    renamed, _ = run_export(world, django_capture_on_commit_callbacks, format="coco_panoptic")
    assert len(per_image_calls) == 2  # stale artifacts are not found: computed
    totals = project_artifacts_rebuild(project=world.project)
    assert totals == {"images": 2, "stored": 2 * len(FORMATS), "kept": 0, "removed": 2 * len(FORMATS)}
    per_image_calls.clear()
    rebuilt, _ = run_export(world, django_capture_on_commit_callbacks, format="coco_panoptic")
    assert per_image_calls == [] and rebuilt.result["sha256"] == renamed.result["sha256"]
    out = io.StringIO()
    call_command("rebuild_export_artifacts", str(world.project.pk), stdout=out)
    assert f"2 images, 0 artifacts stored, {2 * len(FORMATS)} kept" in out.getvalue()


def test_a_damaged_artifact_file_is_not_used_and_the_refresh_replaces_it(
        world, two_approved, per_image_calls, django_capture_on_commit_callbacks):
    image, annotation = two_approved[0]
    good, _ = run_export(world, django_capture_on_commit_callbacks, format="semantic_png")
    (path,) = [p for p in _expected_paths(image, annotation) if "/semantic_png-" in p]
    with default_storage.open(path, "rb") as fh:
        data = fh.read()
    default_storage.delete(path)
    default_storage.save(path, io.BytesIO(data[:-7]))  # cut short, as by a crash mid-write
    per_image_calls.clear()
    again, _ = run_export(world, django_capture_on_commit_callbacks, format="semantic_png")
    assert per_image_calls == [("semantic_png", image.pk)] and again.result["sha256"] == good.result["sha256"]
    assert export_artifacts_refresh(image_id=image.pk)["stored"] == 1
    with default_storage.open(path, "rb") as fh:
        assert fh.read() == data


def test_a_majority_merge_approval_stores_artifacts_too(world, django_capture_on_commit_callbacks):
    world.project.annotators_per_image = 2
    world.project.save()
    annotator, reviewer = world.users[Role.ANNOTATOR], world.users[Role.REVIEWER]
    annotation, _ = annotation_get_or_create(image=world.image, user=annotator)
    paint(annotation, annotator)
    annotation_submit(annotation=annotation, user=annotator)
    second = _second_annotator(world, "second")
    theirs, _ = annotation_get_or_create(image=world.image, user=second)
    paint(theirs, second)
    annotation_submit(annotation=theirs, user=second)
    with django_capture_on_commit_callbacks(execute=True):
        image_approve_merge(image=world.image, user=reviewer)
    image = Image.objects.get(pk=world.image.pk)
    assert image.state == TaskState.APPROVED
    folder = artifact_folder(project_id=image.project_id, image_id=image.pk)
    assert {f"{folder}/{n}" for n in _stored_files(image)} == _expected_paths(image, image.approved_annotation)
