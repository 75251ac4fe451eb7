"""Files in storage that belong to images, and their removal on a worker once the rows are gone.

Deleting a 20000² image means removing about 8,400 pyramid tiles; a project, many times that. That is storage
work of minutes, not of a request: the rows are deleted in the request, and a `delete_files` job removes the
files after the transaction commits. The job's parameters describe the files compactly (pyramid layouts rather
than every tile name) and deleting a file that is already gone is not an error, so a redelivered job is safe.
"""

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction

from labeling.models import Image, Project
from labeling.services.images import pyramid_tile_path
from labeling.services.jobs import job_create, job_enqueue
from labeling.services.uncertainty import uncertainty_map_path


def stored_file_replace(name: str, data: bytes) -> None:
    """Write `data` under exactly `name`, replacing what is there: a redelivered job overwrites what a dead
    worker left half-written, and a repeat never leaves a second, suffixed file behind."""
    if default_storage.exists(name):
        default_storage.delete(name)
    saved = default_storage.save(name, ContentFile(data))
    if saved != name:  # a concurrent writer got there between delete and save; keep one file
        default_storage.delete(saved)


def image_stored_files(image: Image) -> dict[str, Any]:
    """What the image owns in storage: single files and its pyramid layout (tiles are named from it). An image
    whose pyramid was never finished has no layout: its folder is listed instead (`folders`), so the tiles a
    half-built or failed pyramid left are removed too."""
    files = {name for name in (image.file.name, image.thumbnail.name, f"thumbnails/{image.pk}.jpg") if name}
    if image.uncertainty is not None:  # a trained model scored it (a map written after the row went is an orphan)
        files.add(uncertainty_map_path(image.pk))
    files.update(image.superpixels.values_list("file", flat=True))
    spec: dict[str, Any] = {"files": sorted(files), "pyramids": [[image.pk, image.pyramid_levels or []]],
                            "folders": [f"superpixels/{image.pk}"]}
    if not image.pyramid_levels:
        spec["folders"].append(f"pyramids/{image.pk}")
    return spec


def _merge(parts: Iterable[dict[str, Any]]) -> dict[str, Any]:
    merged: dict[str, Any] = {"files": [], "pyramids": [], "folders": []}
    for part in parts:
        for key in merged:
            merged[key] += part.get(key, [])
    return merged


def stored_folder_files(folder: str) -> Iterator[str]:
    """Every file under a storage folder (local or S3), as full names; nothing when it does not exist."""
    try:
        dirs, files = default_storage.listdir(folder)
    except (FileNotFoundError, NotADirectoryError):
        return
    for name in files:
        yield f"{folder}/{name}"
    for sub in dirs:
        yield from stored_folder_files(f"{folder}/{sub}")


def stored_file_names(spec: dict[str, Any]) -> Iterator[str]:
    yield from spec.get("files", [])
    for folder in spec.get("folders", []):
        yield from stored_folder_files(folder)
    for image_id, levels in spec.get("pyramids", []):
        for level, (_w, _h, cols, rows) in enumerate(levels):
            for y in range(rows):
                for x in range(cols):
                    yield pyramid_tile_path(image_id=image_id, level=level, x=x, y=y)


def stored_files_count(spec: dict[str, Any]) -> int:
    """How many files the spec names (a folder counts as one until it is listed)."""
    tiles = sum(cols * rows for _id, levels in spec.get("pyramids", []) for _w, _h, cols, rows in levels)
    return len(spec.get("files", [])) + len(spec.get("folders", [])) + tiles


def stored_files_delete(spec: dict[str, Any], progress: Callable[[float], bool] | None = None) -> dict[str, int]:
    """Delete every file the spec names; missing files are skipped (safe to repeat). Returns counts."""
    total = max(1, stored_files_count(spec))
    deleted = missing = 0
    for done, name in enumerate(stored_file_names(spec), start=1):
        if default_storage.exists(name):
            default_storage.delete(name)
            deleted += 1
        else:
            missing += 1
        if progress is not None and done % 200 == 0:
            progress(done / total)
    return {"deleted": deleted, "missing": missing}


def _delete_later(spec: dict[str, Any], *, project: Project | None, user) -> None:
    if not stored_files_count(spec):
        return
    job, _ = job_create(kind="delete_files", project=project, params=spec, user=user)
    job_enqueue(job)


@transaction.atomic
def image_delete(*, image: Image, user=None) -> None:
    """Delete the image's rows now and its stored files on a worker."""
    spec = image_stored_files(image)
    project = image.project
    image.delete()
    _delete_later(spec, project=project, user=user)


@transaction.atomic
def project_delete(*, project: Project, user=None) -> None:
    """Delete the project's rows now and its stored files (every image's, its own models', its dataset versions')
    on a worker (the job outlives the project, so it belongs to no project: its creator sees it)."""
    spec = _merge(image_stored_files(image) for image in project.images.all())
    spec["files"] += list(project.trained_models.values_list("file", flat=True))
    spec["files"] += list(project.dataset_versions.filter(deleted_at__isnull=True).values_list("file", flat=True))
    project.delete()
    _delete_later(spec, project=None, user=user)
