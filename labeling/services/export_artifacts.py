"""Per-image export artifacts refreshed on approval, so an export job only streams them into its zip.

When an image is approved, `artifacts_refresh_enqueue` sends `workers.tasks.refresh_export_artifacts` (CPU queue)
after the commit; it computes every registered format's per-image bytes (default options, all classes) for the
image's approved annotation and stores them through Django's storage at paths named by their key
(`labeling.exports.artifacts.artifact_key`), then removes the image's other, stale artifact files.

The refresh is idempotent and safe to redeliver: stored files are named by their content's key, and one that
is already there (and whole) is kept. It does nothing when the image is no longer approved or was approved with
another annotation since (that approval's own task refreshes it), and stores nothing when the annotation changed
while it ran.

A class edit (rename, recolour, add, remove, reorder) changes the categories fingerprint in every key, so the
old artifacts are simply not found and exports compute those images again: correct, only slower, until
`project_artifacts_rebuild` (or `manage.py rebuild_export_artifacts`) stores them under the new keys. Exports of a
class subset or of another variant (COCO polygons) have keys of their own that approval does not store; they are
computed, as without artifacts.
"""

import logging
from collections.abc import Callable
from dataclasses import replace
from functools import cache
from typing import Any

from celery import current_app
from django.core.files.storage import default_storage
from django.db import transaction

from labeling.exports import EXPORTERS
from labeling.exports.artifacts import ArtifactContext, seal
from labeling.models import Annotation, Image, Project, TaskState
from labeling.services.exports import artifact_folder, artifact_load, artifact_path, export_categories, export_images
from labeling.services.stored_files import stored_file_replace

logger = logging.getLogger(__name__)

REFRESH_TASK = "workers.tasks.refresh_export_artifacts"


def artifacts_refresh_enqueue(*, image_id: int, annotation_id: int) -> None:
    """After the approval commits, refresh the image's artifacts on a worker. A failure to enqueue (broker down)
    only costs the export time later, so it is logged and does not undo the committed approval."""
    transaction.on_commit(
        lambda: current_app.tasks[REFRESH_TASK].apply_async(args=[image_id, annotation_id]), robust=True)


def export_artifacts_refresh(*, image_id: int, annotation_id: int | None = None) -> dict[str, Any]:
    """Store the artifacts of every format for the image's approved annotation (only the missing ones) and delete
    its stale ones. `annotation_id`: the approved annotation the refresh was asked for; another one means a newer
    approval, whose own refresh does the work."""
    image = Image.objects.filter(pk=image_id).first()
    if image is None or image.state != TaskState.APPROVED or image.approved_annotation_id is None:
        return {"skipped": "not_approved"}
    if annotation_id is not None and image.approved_annotation_id != annotation_id:
        return {"skipped": "annotation_changed"}
    annotation = Annotation.objects.get(pk=image.approved_annotation_id)
    where = {"project_id": image.project_id, "image_id": image.pk, "width": image.width, "height": image.height,
             "annotation_id": annotation.pk, "annotation_version": annotation.version}
    categories = export_categories(project=image.project)
    (entry,) = export_images(chosen=[(image.pk, annotation.pk)], categories=categories, artifacts=False)
    entry = replace(entry, load_map=cache(entry.load_map))  # decoded once for all formats

    wanted: dict[str, bytes | None] = {}  # path -> new content, or None when the stored file is kept
    unsupported = []
    for name, exporter in sorted(EXPORTERS.items()):
        if exporter.per_image is None:
            continue
        context = ArtifactContext(name, categories)
        path = artifact_path(context, **where)
        if artifact_load(path) is not None:
            wanted[path] = None
            continue
        try:
            wanted[path] = exporter.per_image(entry, context)
        except ValueError as exc:  # beyond the format's limits: the export reports the same error
            unsupported.append(name)
            logger.info("no %s artifact for image %s: %s", name, image_id, exc)

    # Versions only grow and every save bumps it: unchanged now means every read above saw this version.
    current = Image.objects.filter(pk=image_id).values_list("state", "approved_annotation_id").first()
    version = Annotation.objects.filter(pk=annotation.pk).values_list("version", flat=True).first()
    if current != (TaskState.APPROVED, annotation.pk) or version != annotation.version:
        return {"skipped": "changed_while_refreshing"}

    stored = 0
    for path, data in wanted.items():
        if data is not None:  # missing, or there but not whole: (re)written under exactly its name
            stored_file_replace(path, seal(data))
            stored += 1
    removed = _remove_stale(image.project_id, image.pk, keep=set(wanted))
    return {"stored": stored, "kept": len(wanted) - stored, "removed": removed, "unsupported": unsupported}


def _remove_stale(project_id: int, image_id: int, *, keep: set[str]) -> int:
    folder = artifact_folder(project_id=project_id, image_id=image_id)
    try:
        _, files = default_storage.listdir(folder)
    except FileNotFoundError:
        return 0
    removed = 0
    for name in files:
        path = f"{folder}/{name}"
        if path not in keep:
            default_storage.delete(path)
            removed += 1
    return removed


def project_artifacts_rebuild(*, project: Project, progress: Callable[[float], Any] | None = None) -> dict[str, int]:
    """Refresh the artifacts of every approved image of the project, e.g. after a class change (in process)."""
    approved = list(Image.objects.filter(project=project, state=TaskState.APPROVED, approved_annotation__isnull=False)
                    .order_by("id").values_list("id", "approved_annotation_id"))
    totals = {"images": 0, "stored": 0, "kept": 0, "removed": 0}
    for done, (image_id, annotation_id) in enumerate(approved, 1):
        result = export_artifacts_refresh(image_id=image_id, annotation_id=annotation_id)
        if "skipped" not in result:
            totals["images"] += 1
            for key in ("stored", "kept", "removed"):
                totals[key] += result[key]
        if progress is not None:
            progress(done / len(approved))
    return totals
