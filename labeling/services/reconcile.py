"""The reconcile sweep: finishes what a fault left behind. Run periodically inside every worker
(`workers.reconcile`, every ANNOTATOR_RECONCILE_INTERVAL_SECONDS) and by hand with `manage.py reconcile`.

One pass, each step safe to run from several processes at once and to repeat:
1. jobs whose worker died (lease expired) run again, or fail once they used up their attempts;
2. queued jobs whose message never reached the broker (or was lost with it) are sent again;
3. images that lack derived data (thumbnail and pyramid, superpixels, SAM embeddings) and are not covered by an
   active job get a job, at most ANNOTATOR_MAX_JOB_ATTEMPTS times per image;
4. spooled request bodies and unpacked archives that a killed web process left in the upload temp folder go;
5. (with `files=True`: `manage.py reconcile`, and every hour in workers) stored files that no row refers to go;
6. idempotency receipts of saves older than a day go.
"""

import logging
import shutil
import time
from collections import defaultdict
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files.storage import default_storage
from django.db.models import Count, F, Q
from django.utils import timezone

from labeling.models import ACTIVE_JOB_STATUSES, Image, ImageEmbedding, Job, PyramidStatus, Superpixels
from labeling.services import jobs as job_service
from labeling.services.images import image_processing_enqueue
from labeling.services.stored_files import stored_folder_files
from labeling.services.uncertainty import FOLDER as UNCERTAINTY_FOLDER

logger = logging.getLogger(__name__)

# At most this many images get derived-data work per kind and pass, so a large backlog (superpixels turned on
# for an old project, say) is worked through in bounded jobs.
REBUILD_BATCH = 200


def _covered(kind: str) -> set[int]:
    """Image ids named by an active job of the kind. Active jobs are few: their params are read in Python, which
    works on every database."""
    ids: set[int] = set()
    for params in Job.objects.filter(kind=kind, status__in=ACTIVE_JOB_STATUSES).values_list("params", flat=True):
        ids.update((params or {}).get("image_ids", []))
    return ids


def _uncovered(images, covered: set[int]) -> list[Image]:
    """Up to REBUILD_BATCH of the images (a queryset) that no active job names, read in chunks: during a large
    upload thousands of images are pending and covered, and none of them needs loading whole."""
    found = []
    for image in images.only("pk", "project_id", "rebuild_attempts").order_by("pk").iterator(chunk_size=500):
        if image.pk not in covered:
            found.append(image)
            if len(found) == REBUILD_BATCH:
                break
    return found


def _give_up(images: list[Image]) -> list[Image]:
    """The images the sweep may still try again; the others are marked so the UI says processing failed."""
    limit = settings.ANNOTATOR["MAX_JOB_ATTEMPTS"]
    exhausted = [im.pk for im in images if im.rebuild_attempts >= limit]
    if exhausted:
        Image.objects.filter(pk__in=exhausted, pyramid_status=PyramidStatus.PENDING).update(
            pyramid_status=PyramidStatus.FAILED)
        logger.error("images %s still lack derived data after %s rebuilds; a manager can reprocess them",
                     exhausted, limit)
    return [im for im in images if im.rebuild_attempts < limit]


def _count_attempt(images: list[Image]) -> None:
    Image.objects.filter(pk__in=[im.pk for im in images]).update(rebuild_attempts=F("rebuild_attempts") + 1)


def _by_project(images: list[Image]) -> dict[int, list[Image]]:
    groups: dict[int, list[Image]] = defaultdict(list)
    for image in images:
        groups[image.project_id].append(image)
    return groups


def rebuild_missing_display() -> list[int]:
    """Pending thumbnails and pyramids that no active job will build (a failed, cancelled or lost job)."""
    pending = _uncovered(Image.objects.filter(pyramid_status=PyramidStatus.PENDING), _covered("process_uploads"))
    todo = _give_up(pending)
    for images in _by_project(todo).values():
        image_processing_enqueue(project=images[0].project, image_ids=[im.pk for im in images])
    _count_attempt(todo)
    return [im.pk for im in todo]


def rebuild_missing_superpixels() -> list[int]:
    from labeling.services.superpixels import configured_granularities, superpixels_enqueue

    granularities = configured_granularities()
    if not settings.ANNOTATOR["SUPERPIXELS_AFTER_UPLOAD"] or not granularities:
        return []
    # Images still in an upload's processing job get their superpixels when it ends.
    covered = _covered("superpixels") | _covered("process_uploads")
    lacking = (Image.objects.filter(pyramid_status=PyramidStatus.READY)
               .annotate(have=Count("superpixels", filter=Q(superpixels__granularity__in=granularities)))
               .filter(have__lt=len(granularities)))
    todo = _give_up(_uncovered(lacking, covered))
    for images in _by_project(todo).values():
        superpixels_enqueue(image_ids=[im.pk for im in images])
    _count_attempt(todo)
    return [im.pk for im in todo]


def rebuild_missing_embeddings() -> list[int]:
    from labeling.services.sam import SamUnavailable, embeddings_enqueue, sam_config

    if not settings.ANNOTATOR["SAM_EMBED_AFTER_UPLOAD"] or not settings.ANNOTATOR["SAM_CHECKPOINT"]:
        return []
    try:
        model_key = sam_config().model_key
    except SamUnavailable:
        return []
    covered = _covered("embeddings") | _covered("process_uploads")
    have = ImageEmbedding.objects.filter(model_key=model_key).values("sha256")
    lacking = Image.objects.filter(pyramid_status=PyramidStatus.READY).exclude(sha256__in=have)
    todo = _give_up(_uncovered(lacking, covered))
    for images in _by_project(todo).values():
        embeddings_enqueue(image_ids=[im.pk for im in images])
    _count_attempt(todo)
    return [im.pk for im in todo]


def temp_files_sweep(*, now: float | None = None) -> int:
    """Remove what dead requests left in the upload temp folder (ours alone): entries untouched for longer than
    ANNOTATOR_TEMP_FILE_MAX_AGE_SECONDS. A live request's files are written to, or deleted, long before that."""
    folder = Path(settings.FILE_UPLOAD_TEMP_DIR)
    cutoff = (now or time.time()) - settings.ANNOTATOR["TEMP_FILE_MAX_AGE_SECONDS"]
    removed = 0
    for entry in folder.iterdir() if folder.is_dir() else []:
        try:
            newest = max([entry.stat().st_mtime] + [p.stat().st_mtime for p in entry.rglob("*")]
                         if entry.is_dir() else [entry.stat().st_mtime])
            if newest > cutoff:
                continue
            if entry.is_dir():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
            removed += 1
        except FileNotFoundError:
            continue
    if removed:
        logger.info("removed %s stale upload temp entries from %s", removed, folder)
    return removed


def _old_enough(name: str, cutoff) -> bool:
    try:
        return default_storage.get_modified_time(name) < cutoff
    except (FileNotFoundError, NotImplementedError, OSError):
        return False


def orphan_files_sweep(*, now=None) -> dict[str, int]:
    """Remove stored image files, thumbnails, pyramids, superpixel grids and uncertainty maps that no image row
    refers to (a request or worker killed between writing a file and committing its row, an image deleted while
    its pyramid was being built). Files younger than ANNOTATOR_ORPHAN_FILE_GRACE_SECONDS are left: they may be in
    flight."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.ANNOTATOR["ORPHAN_FILE_GRACE_SECONDS"])
    image_ids = set(Image.objects.values_list("pk", flat=True))
    image_files = set(Image.objects.values_list("file", flat=True))
    grid_files = set(Superpixels.objects.values_list("file", flat=True))
    removed = defaultdict(int)

    def remove(kind: str, name: str) -> None:
        if _old_enough(name, cutoff):
            default_storage.delete(name)
            removed[kind] += 1

    for name in stored_folder_files("projects"):
        if "/images/" in name and name not in image_files:
            remove("images", name)
    for folder, kind in (("pyramids", "pyramid_tiles"), ("superpixels", "superpixels")):
        try:
            owners, _ = default_storage.listdir(folder)
        except FileNotFoundError:
            continue
        for owner in owners:
            if owner.isdigit() and int(owner) in image_ids:
                if kind == "superpixels":
                    for name in stored_folder_files(f"{folder}/{owner}"):
                        if name not in grid_files:
                            remove(kind, name)
                continue
            for name in stored_folder_files(f"{folder}/{owner}"):
                remove(kind, name)
    for folder, kind in (("thumbnails", "thumbnails"), (UNCERTAINTY_FOLDER, "uncertainty_maps")):
        try:
            _, names = default_storage.listdir(folder)  # <image id>.jpg, <image id>.png
        except FileNotFoundError:
            continue
        for name in names:
            stem = name.split(".", 1)[0]
            if not (stem.isdigit() and int(stem) in image_ids):
                remove(kind, f"{folder}/{name}")
    if removed:
        logger.info("removed orphan stored files: %s", dict(removed))
    return dict(removed)


def reconcile(*, files: bool = False) -> dict[str, Any]:
    """One pass of the sweep (see the module docstring); returns what it did, for the log and the command."""
    from labeling.services.labelmaps import save_receipts_prune

    report: dict[str, Any] = {}
    report["jobs"] = job_service.jobs_recover_expired()
    report["redispatched"] = job_service.jobs_redispatch()
    report["rebuilt"] = {
        "display": rebuild_missing_display(),
        "superpixels": rebuild_missing_superpixels(),
        "embeddings": rebuild_missing_embeddings(),
    }
    report["temp_files_removed"] = temp_files_sweep()
    if files:
        report["orphan_files_removed"] = orphan_files_sweep()
    report["save_receipts_pruned"] = save_receipts_prune(older_than=timedelta(days=1))
    return report
