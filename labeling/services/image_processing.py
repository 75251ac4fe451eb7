"""Derived display data for uploaded images: the tile pyramid and the thumbnail (run by a worker job)."""

import logging
import shutil
import tempfile
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Count, Q

from labeling.ingest import pyramid
from labeling.ingest.errors import Cancelled
from labeling.models import Image, Job, PyramidStatus
from labeling.services.images import image_processing_enqueue, pyramid_tile_path
from labeling.services.jobs import JobCancelled
from labeling.services.sam import embeddings_enqueue_after_upload
from labeling.services.stored_files import stored_file_replace, stored_files_delete
from labeling.services.superpixels import (
    configured_granularities,
    superpixels_enqueue,
    superpixels_enqueue_after_upload,
)

logger = logging.getLogger(__name__)


@contextmanager
def _local_copy(name: str):
    """A local path for a stored file: the file itself on local storage, a temporary copy from S3 and the like."""
    try:
        local = Path(default_storage.path(name))
    except NotImplementedError:
        local = None
    if local is not None:
        yield local
        return
    with tempfile.NamedTemporaryFile(suffix=Path(name).suffix) as tmp:
        with default_storage.open(name, "rb") as src:
            shutil.copyfileobj(src, tmp, length=1024 * 1024)
        tmp.flush()
        yield Path(tmp.name)


def image_build_display(*, image: Image, progress: Callable[[float], bool] | None = None) -> None:
    """Build and store the pyramid and thumbnail. Safe to repeat; a ready image is left alone."""
    if image.pyramid_status == PyramidStatus.READY:
        return
    with _local_copy(image.file.name) as path:
        thumb_name = f"thumbnails/{image.pk}.jpg"
        stored_file_replace(thumb_name, pyramid.make_thumbnail(path, size=256))

        def write_tile(level: int, x: int, y: int, data: bytes) -> None:
            stored_file_replace(pyramid_tile_path(image_id=image.pk, level=level, x=x, y=y), data)

        try:
            layout = pyramid.build_pyramid(path, write_tile=write_tile, progress=progress)
        except Cancelled as exc:
            raise JobCancelled() from exc
    stored = Image.objects.filter(pk=image.pk).update(
        thumbnail=thumb_name,
        pyramid_status=PyramidStatus.READY,
        pyramid_tile_size=layout.tile_size,
        pyramid_format=layout.tile_format,
        pyramid_levels=[list(level) for level in layout.levels],
    )
    if not stored:
        # Deleted while it was being built: its delete job may have run before these files existed.
        stored_files_delete({"files": [thumb_name], "pyramids": [[image.pk, [list(lv) for lv in layout.levels]]]})


def images_build_display(*, image_ids: list[int], progress: Callable[[float], bool]) -> dict:
    """Build display data for a batch of images; one bad image fails alone and the batch goes on."""
    done, failed = [], []
    total = max(len(image_ids), 1)
    for index, image in enumerate(Image.objects.filter(pk__in=image_ids).order_by("pk")):

        def image_progress(fraction: float, index=index) -> bool:
            return progress((index + fraction) / total)

        try:
            image_build_display(image=image, progress=image_progress)
            done.append(image.pk)
        except JobCancelled:
            raise
        except Exception as exc:  # noqa: BLE001 - recorded per image, the batch goes on
            logger.exception("display data for image %s failed", image.pk)
            Image.objects.filter(pk=image.pk).update(pyramid_status=PyramidStatus.FAILED)
            failed.append({"image_id": image.pk, "error": f"{type(exc).__name__}: {exc}"[:500]})
        if progress((index + 1) / total) is False:
            raise JobCancelled()
    # Assistance that needs the upload: superpixels (CPU queue).
    superpixels_enqueue_after_upload(image_ids=done)
    # SAM image embeddings (gpu queue), when a checkpoint is configured.
    embeddings_enqueue_after_upload(image_ids=done)
    return {"processed": done, "failed": failed}


def images_reprocess(*, project, image_ids: list[int] | None = None, everything: bool = False,
                     user=None) -> list[Job]:
    """A manager asks for derived data again. Given images (or `everything`) get their thumbnail and pyramid
    rebuilt, then superpixels and embeddings as after an upload; otherwise the project's images that lack display
    data or superpixels get what they lack. The sweep's give-up count is reset, so a failure the operator fixed
    (disk space, a worker's memory) is retried. Returns the jobs started."""
    images = Image.objects.filter(project=project)
    if image_ids is not None:
        images = images.filter(pk__in=image_ids)
    if image_ids is not None or everything:
        display = sorted(images.values_list("pk", flat=True))
    else:
        display = sorted(images.exclude(pyramid_status=PyramidStatus.READY).values_list("pk", flat=True))
    granularities = configured_granularities()
    grids = []
    if granularities and settings.ANNOTATOR["SUPERPIXELS_AFTER_UPLOAD"]:  # else computed only on request
        grids = sorted(images.exclude(pk__in=display)
                       .annotate(have=Count("superpixels", filter=Q(superpixels__granularity__in=granularities)))
                       .filter(have__lt=len(granularities)).values_list("pk", flat=True))
    jobs = []
    with transaction.atomic():
        Image.objects.filter(pk__in=display + grids).update(rebuild_attempts=0)
        if display:
            Image.objects.filter(pk__in=display).update(pyramid_status=PyramidStatus.PENDING)
            jobs.append(image_processing_enqueue(project=project, image_ids=display, user=user))
        if grids:
            jobs.append(superpixels_enqueue(image_ids=grids, user=user))
    return jobs
