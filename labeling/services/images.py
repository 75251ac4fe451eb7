"""Image uploads: many files and ZIP archives per request, each file judged on its own.

A rejected file (bad format, disguised, truncated, too many pixels, hostile archive member) gets a reason and
the rest of the batch goes on. Accepted images are stored through Django's storage API; their display pyramid
and thumbnail are built by a `process_uploads` job on a worker.

An upload is one unit of work: each image row commits together with its place in the batch's processing job,
which is held (`lease_expires_at`) while the request is still adding images and sent to the broker when the
request ends. A request killed half-way (a timeout, an OOM kill, a deploy) leaves a job that names every image it
saved; the reconcile sweep sends it once the hold has run out. A full disk stops the batch with a reason per file.
"""

import logging
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.utils import timezone

from labeling.errors import ApplicationError, InsufficientStorage, ValidationFailed, is_disk_full
from labeling.ingest.archives import ArchiveLimits, ArchiveMember, MemberRejected, is_zip, iter_archive
from labeling.ingest.errors import IngestRejected
from labeling.ingest.images import inspect_image, normalize_image
from labeling.models import Image, Job, JobStatus, Project
from labeling.services.jobs import job_create, job_enqueue

logger = logging.getLogger(__name__)

MAX_FILES_PER_REQUEST = 1000
PROCESS_UPLOADS = "process_uploads"

_EXTENSIONS = {"JPEG": "jpg", "PNG": "png", "TIFF": "tif", "WEBP": "webp", "BMP": "bmp"}


@dataclass(frozen=True)
class UploadResult:
    name: str
    status: str  # accepted | rejected | duplicate
    code: str = ""
    message: str = ""
    image_id: int | None = None


@dataclass(frozen=True)
class UploadBatch:
    results: list[UploadResult]
    job: Job | None


class NothingAccepted(ApplicationError):
    """No file of the upload became an image (every one rejected, or the disk is full): 4xx/507 with reasons."""

    status_code = 422
    default_code = "nothing_accepted"


class _HeldJob:
    """The batch's processing job, created with the batch's first image and held while the request adds more.

    Each `add` runs inside the image row's transaction, so a committed image is always named by a job. When the
    hold ran out meanwhile (a very slow request) and the sweep already sent the job, the next images go to a new
    one: a job is never changed after its message went out.
    """

    def __init__(self, *, project: Project, user):
        self.project, self.user = project, user
        self.jobs: list[Job] = []

    def _hold(self):
        return timezone.now() + timedelta(seconds=settings.ANNOTATOR["UPLOAD_HOLD_SECONDS"])

    def add(self, image: Image) -> None:
        job = self.jobs[-1] if self.jobs else None
        if job is not None:
            job = Job.objects.select_for_update().filter(pk=job.pk, status=JobStatus.QUEUED, dispatch_count=0).first()
        if job is None:
            job = Job.objects.create(kind=PROCESS_UPLOADS, project=self.project, params={"image_ids": []},
                                     created_by=self.user if self.user and self.user.pk else None,
                                     lease_expires_at=self._hold())
            self.jobs.append(job)
        job.params["image_ids"].append(image.pk)
        job.lease_expires_at = self._hold()
        job.save(update_fields=["params", "lease_expires_at"])
        self.jobs[-1] = job

    def release(self) -> Job | None:
        """End the hold and send the jobs (on commit); returns the last one, which the answer reports."""
        for job in self.jobs:
            with transaction.atomic():
                if Job.objects.filter(pk=job.pk, status=JobStatus.QUEUED, dispatch_count=0).update(
                        lease_expires_at=None):
                    job.lease_expires_at = None
                    job_enqueue(job)
        if not self.jobs:
            return None
        last = self.jobs[-1]
        last.refresh_from_db()  # dispatched and maybe already run (eager) since it was loaded
        return last


def image_storage_path(*, project_id: int, sha256: str, fmt: str) -> str:
    return f"projects/{project_id}/images/{sha256[:2]}/{sha256}.{_EXTENSIONS[fmt]}"


def pyramid_tile_path(*, image_id: int, level: int, x: int, y: int) -> str:
    # No extension: the tile format (JPEG or WebP) is chosen per image and recorded in Image.pyramid_format.
    return f"pyramids/{image_id}/{level}/{x}_{y}"


def _display_name(name: str) -> str:
    # Names are shown back to the user; keep them printable and bounded.
    cleaned = "".join(ch if ch.isprintable() else "?" for ch in name)
    return cleaned[:500]


def archive_limits() -> ArchiveLimits:
    """The configured bounds on one uploaded archive (images, label imports)."""
    conf = settings.ANNOTATOR
    return ArchiveLimits(
        max_members=conf["MAX_ARCHIVE_MEMBERS"],
        max_member_bytes=conf["MAX_UPLOAD_FILE_BYTES"],
        max_total_bytes=conf["MAX_ARCHIVE_BYTES"],
    )


def _distinct_name(name: str, taken: set[str]) -> str:
    """`name`, or "<stem> (2)<suffix>", "(3)"... when another image of this upload already has it: two different
    images (a ZIP may hold two members of one path, a batch two files of one name) never share a name."""
    if name not in taken:
        return name
    folder, slash, base = name.rpartition("/")
    stem, dot, suffix = base.rpartition(".")
    if not stem:  # no extension
        stem, dot, suffix = base, "", ""
    number = 2
    while (candidate := f"{folder}{slash}{stem} ({number}){dot}{suffix}") in taken:
        number += 1
    return candidate


def _ingest_one(
    *, project: Project, path: Path, name: str, user, seen: dict[str, str], names: set[str], work_dir: Path,
    held: _HeldJob,
) -> UploadResult:
    """One file's result; `seen` maps the batch's checksums to names, `names` holds the names its images took."""
    try:
        inspected = inspect_image(path, filename=name, max_pixels=settings.ANNOTATOR["MAX_IMAGE_PIXELS"])
    except IngestRejected as exc:
        return UploadResult(name=name, status="rejected", code=exc.code, message=exc.message)
    if inspected.sha256 in seen:
        return UploadResult(name=name, status="duplicate", code="duplicate_in_batch",
                            message=f"same content as {seen[inspected.sha256]} in this upload")
    existing = Image.objects.filter(project=project, sha256=inspected.sha256).values_list("pk", flat=True).first()
    if existing:
        return UploadResult(name=name, status="duplicate", code="duplicate",
                            message="this image is already in the project", image_id=existing)
    try:
        upright = normalize_image(path, inspected=inspected, out_dir=work_dir)
    except IngestRejected as exc:
        return UploadResult(name=name, status="rejected", code=exc.code, message=exc.message)
    stored_path = upright or path
    stored_as = _distinct_name(name, names)
    storage_name = image_storage_path(project_id=project.pk, sha256=inspected.sha256, fmt=inspected.format)
    saved_name = ""
    try:
        with open(stored_path, "rb") as fh:
            saved_name = default_storage.save(storage_name, File(fh))
        with transaction.atomic():
            image = Image.objects.create(
                project=project,
                file=saved_name,
                original_name=stored_as,
                format=inspected.format,
                width=inspected.width,
                height=inspected.height,
                size_bytes=stored_path.stat().st_size,
                sha256=inspected.sha256,
                uploaded_by=user,
            )
            held.add(image)
    except IntegrityError:
        # A concurrent upload stored the same content first.
        default_storage.delete(saved_name)
        return UploadResult(name=name, status="duplicate", code="duplicate",
                            message="this image is already in the project")
    except BaseException:
        # A full disk mid-write, a dropped database: no row refers to the file, so it goes (partial or whole).
        # Django's storage leaves a partial file under the name it was writing, which is `storage_name` unless
        # that name was taken, by a row that owns it.
        if saved_name or not Image.objects.filter(file=storage_name).exists():
            _delete_quietly(saved_name or storage_name)
        raise
    finally:
        if upright:
            upright.unlink(missing_ok=True)
    seen[inspected.sha256] = stored_as
    names.add(stored_as)
    renamed = f"another image of this upload is named so too; stored as {stored_as}" if stored_as != name else ""
    return UploadResult(name=name, status="accepted", message=renamed, image_id=image.pk)


def _delete_quietly(name: str) -> None:
    try:
        if default_storage.exists(name):
            default_storage.delete(name)
    except Exception:  # noqa: BLE001 - best effort; the orphan sweep removes what is left
        logger.warning("could not remove %s after a failed upload", name, exc_info=True)


_DISK_FULL = UploadResult(name="", status="rejected", code="insufficient_storage",
                          message="the server's disk is full; this file was not stored")


def _local_path(upload: UploadedFile, work_dir: Path) -> Path:
    """A path on disk for an uploaded file; Django already streamed large ones to a temporary file."""
    if hasattr(upload, "temporary_file_path"):
        return Path(upload.temporary_file_path())
    target = Path(tempfile.mkstemp(dir=work_dir)[1])
    with open(target, "wb") as out:
        for chunk in upload.chunks():
            out.write(chunk)
    return target


def _members(path: Path, archive_name: str, work_dir: Path) -> Iterator[tuple[str, Path | None, UploadResult | None]]:
    try:
        for item in iter_archive(path, limits=archive_limits(), out_dir=work_dir):
            if isinstance(item, MemberRejected):
                yield "", None, UploadResult(
                    name=f"{archive_name}/{_display_name(item.name)}", status="rejected",
                    code=item.code, message=item.message,
                )
            else:
                assert isinstance(item, ArchiveMember)
                # Some Windows tools separate folders with a backslash: a folder is a folder, whoever zipped it.
                member = item.name.replace("\\", "/")
                yield f"{archive_name}/{_display_name(member)}", item.path, None
    except IngestRejected as exc:
        yield "", None, UploadResult(name=archive_name, status="rejected", code=exc.code, message=exc.message)


def images_upload(*, project: Project, files: Iterable[UploadedFile], user) -> UploadBatch:
    """Ingest every file; raises `NothingAccepted` (with every file's result) when no file became an image and
    not all were duplicates, so a client never mistakes a refused upload for a success."""
    files = list(files)
    if not files:
        raise ValidationFailed("no files were sent; use the multipart field 'files'", code="no_files")
    if len(files) > MAX_FILES_PER_REQUEST:
        raise ValidationFailed(f"at most {MAX_FILES_PER_REQUEST} files per request; send ZIP archives or more "
                               "requests", code="too_many_files")
    results: list[UploadResult] = []
    seen: dict[str, str] = {}
    names: set[str] = set()  # the names this upload's images are stored under
    held = _HeldJob(project=project, user=user)
    work_dir = Path(tempfile.mkdtemp(prefix="upload-", dir=settings.FILE_UPLOAD_TEMP_DIR))
    disk_full = False
    try:
        for upload in files:
            name = _display_name(Path(upload.name or "unnamed").name)
            if disk_full:
                results.append(replace(_DISK_FULL, name=name))
                continue
            try:
                results.extend(_ingest_file(project=project, upload=upload, name=name, user=user, seen=seen,
                                            names=names, work_dir=work_dir, held=held))
            except OSError as exc:
                if not is_disk_full(exc):
                    raise
                logger.error("upload to project %s stopped: the disk is full (%s)", project.pk, exc)
                disk_full = True
                results.append(replace(_DISK_FULL, name=name))
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)
        job = held.release()

    if not any(r.status == "accepted" for r in results) and not all(r.status == "duplicate" for r in results):
        extra = {"results": [vars(r) for r in results]}
        if disk_full:
            raise InsufficientStorage("no file of this upload was stored: the server's disk is full", extra=extra)
        raise NothingAccepted("no file of this upload was stored: every file was refused (see each file's reason)",
                              extra=extra)
    return UploadBatch(results=results, job=job)


def _ingest_file(*, project: Project, upload: UploadedFile, name: str, user, seen: dict[str, str], work_dir: Path,
                 held: _HeldJob, names: set[str] | None = None) -> list[UploadResult]:
    """The results of one uploaded file: one for an image, one per member for a ZIP archive. `names`: those the
    batch's images took so far (a fresh set when the file is the batch)."""
    names = set() if names is None else names
    too_big = upload.size is not None and upload.size > settings.ANNOTATOR["MAX_UPLOAD_FILE_BYTES"]
    if too_big and not name.lower().endswith(".zip"):
        return [UploadResult(name=name, status="rejected", code="file_too_large",
                             message="the file is larger than the upload limit")]
    path = _local_path(upload, work_dir)
    if not is_zip(path):
        return [_ingest_one(project=project, path=path, name=name, user=user, seen=seen, names=names,
                            work_dir=work_dir, held=held)]
    results = []
    for member_name, member_path, rejected in _members(path, name, work_dir):
        if rejected:
            results.append(rejected)
            continue
        try:
            results.append(_ingest_one(project=project, path=member_path, name=member_name, user=user, seen=seen,
                                       names=names, work_dir=work_dir, held=held))
        finally:
            member_path.unlink(missing_ok=True)
    return results


def image_processing_enqueue(*, project: Project, image_ids: list[int], user=None) -> Job:
    job, created = job_create(kind=PROCESS_UPLOADS, project=project, params={"image_ids": image_ids}, user=user)
    if created:
        job_enqueue(job)
    return job
