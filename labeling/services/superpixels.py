"""Superpixels: computed on a worker after upload (and on request), stored as one encoded grid per granularity.

The compute core is workers/runners/superpixels.py (pure); this module loads images from storage, writes the
grid files and `Superpixels` rows, and enqueues `superpixels` jobs on the CPU queue.
"""

import hashlib
import logging
from collections.abc import Callable, Iterable

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction

from labeling.errors import Conflict
from labeling.ingest.errors import Cancelled
from labeling.models import Image, Job, Superpixels
from labeling.services.jobs import JobCancelled, job_create, job_enqueue
from labeling.services.stored_files import stored_file_replace
from workers.runners import superpixels as runner

logger = logging.getLogger(__name__)



def superpixels_path(*, image_id: int, granularity: int) -> str:
    return f"superpixels/{image_id}/{granularity}.bin"


def configured_granularities() -> list[int]:
    return sorted({int(g) for g in settings.ANNOTATOR["SUPERPIXEL_GRANULARITIES"] if int(g) > 0})


def _missing_granularities(image: Image) -> list[int]:
    have = set(Superpixels.objects.filter(image=image).values_list("granularity", flat=True))
    return [g for g in configured_granularities() if g not in have]


def image_superpixels_compute(*, image: Image, progress: Callable[[float], bool] | None = None) -> list[int]:
    """Compute and store the image's missing granularities; returns the ones computed. Safe to repeat."""
    missing = _missing_granularities(image)
    if not missing:
        if progress is not None:
            progress(1.0)
        return []
    done: list[int] = []
    try:
        with default_storage.open(image.file.name, "rb") as source:
            grids = runner.compute_superpixels(
                source,
                width=image.width,
                height=image.height,
                granularities=missing,
                max_side=settings.ANNOTATOR["SUPERPIXEL_MAX_SIDE"],
                max_pixels=settings.ANNOTATOR["MAX_IMAGE_PIXELS"],
                progress=progress,
            )
            for result in grids:
                name = superpixels_path(image_id=image.pk, granularity=result.granularity)
                stored_file_replace(name, runner.encode_grid(result.grid))
                fields = {"count": result.count, "width": result.width, "height": result.height, "file": name}
                try:
                    with transaction.atomic():
                        Superpixels.objects.update_or_create(
                            image=image, granularity=result.granularity, defaults=fields
                        )
                except IntegrityError:
                    # Another worker created the row meanwhile (same deterministic result); update it.
                    Superpixels.objects.filter(image=image, granularity=result.granularity).update(**fields)
                done.append(result.granularity)
    except Cancelled as exc:
        raise JobCancelled() from exc
    return done


def superpixels_run(*, image_ids: list[int], progress: Callable[[float], bool]) -> dict:
    """The `superpixels` job: every image in turn; one bad image fails alone and the batch goes on."""
    computed, failed = {}, []
    images = list(Image.objects.filter(pk__in=image_ids).order_by("pk"))
    total = max(len(images), 1)
    for index, image in enumerate(images):

        def image_progress(fraction: float, index=index) -> bool:
            return progress((index + fraction) / total)

        try:
            computed[str(image.pk)] = image_superpixels_compute(image=image, progress=image_progress)
        except JobCancelled:
            raise
        except Exception as exc:  # noqa: BLE001 - recorded per image, the batch goes on
            logger.exception("superpixels for image %s failed", image.pk)
            failed.append({"image_id": image.pk, "error": f"{type(exc).__name__}: {exc}"[:500]})
        if progress((index + 1) / total) is False:
            raise JobCancelled()
    return {"computed": computed, "failed": failed}


def _dedup_key(image_ids: Iterable[int]) -> str:
    ids = ",".join(str(i) for i in sorted(set(image_ids)))
    return "superpixels:" + hashlib.sha256(ids.encode()).hexdigest()[:40]


def superpixels_enqueue(*, image_ids: list[int], user=None) -> Job | None:
    """One `superpixels` job for the images (all of one project); an identical active job is reused."""
    image_ids = sorted(set(image_ids))
    if not image_ids or not configured_granularities():
        return None
    project = Image.objects.get(pk=image_ids[0]).project
    job, created = job_create(
        kind="superpixels", project=project, params={"image_ids": image_ids}, user=user,
        dedup_key=_dedup_key(image_ids),
    )
    if created:
        job_enqueue(job)
    return job


def superpixels_enqueue_after_upload(*, image_ids: list[int]) -> Job | None:
    """Hook at the end of upload processing: superpixels for the images whose display data was built."""
    if not settings.ANNOTATOR["SUPERPIXELS_AFTER_UPLOAD"]:
        return None
    return superpixels_enqueue(image_ids=image_ids)


def image_superpixels_request(*, image: Image, user) -> Job:
    """A user asks for the image's superpixels (e.g. it was uploaded before they existed): 202 + job."""
    if not configured_granularities():
        raise Conflict("superpixels are turned off on this server (ANNOTATOR_SUPERPIXEL_GRANULARITIES=0)",
                       code="superpixels_disabled")
    if not _missing_granularities(image):
        raise Conflict("this image's superpixels are already computed", code="superpixels_exist")
    job = superpixels_enqueue(image_ids=[image.pk], user=user)
    assert job is not None  # granularities are configured and one image id was given
    return job
