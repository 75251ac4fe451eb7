"""Image uploads: many files and ZIP archives per request, each file judged on its own.

A rejected file (bad format, disguised, truncated, too many pixels, hostile archive member) gets a reason and
the rest of the batch goes on. Accepted images are stored through Django's storage API; their display pyramid
and thumbnail are built by a `process_uploads` job on a worker.
"""

import shutil
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction

from labeling.errors import ValidationFailed
from labeling.ingest.archives import ArchiveLimits, ArchiveMember, MemberRejected, is_zip, iter_archive
from labeling.ingest.errors import IngestRejected
from labeling.ingest.images import inspect_image, normalize_image
from labeling.models import Image, Job, Project
from labeling.services.jobs import job_create, job_enqueue

MAX_FILES_PER_REQUEST = 1000

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


def _ingest_one(
    *, project: Project, path: Path, name: str, user, seen: dict[str, str], work_dir: Path
) -> UploadResult:
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
    storage_name = image_storage_path(project_id=project.pk, sha256=inspected.sha256, fmt=inspected.format)
    try:
        with transaction.atomic():
            with open(stored_path, "rb") as fh:
                saved_name = default_storage.save(storage_name, File(fh))
            image = Image.objects.create(
                project=project,
                file=saved_name,
                original_name=name,
                format=inspected.format,
                width=inspected.width,
                height=inspected.height,
                size_bytes=stored_path.stat().st_size,
                sha256=inspected.sha256,
                uploaded_by=user,
            )
    except IntegrityError:
        # A concurrent upload stored the same content first.
        default_storage.delete(saved_name)
        return UploadResult(name=name, status="duplicate", code="duplicate",
                            message="this image is already in the project")
    finally:
        if upright:
            upright.unlink(missing_ok=True)
    seen[inspected.sha256] = name
    return UploadResult(name=name, status="accepted", image_id=image.pk)


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
                yield f"{archive_name}/{_display_name(item.name)}", item.path, None
    except IngestRejected as exc:
        yield "", None, UploadResult(name=archive_name, status="rejected", code=exc.code, message=exc.message)


def images_upload(*, project: Project, files: Iterable[UploadedFile], user) -> UploadBatch:
    files = list(files)
    if not files:
        raise ValidationFailed("no files were sent; use the multipart field 'files'", code="no_files")
    if len(files) > MAX_FILES_PER_REQUEST:
        raise ValidationFailed(f"at most {MAX_FILES_PER_REQUEST} files per request; send ZIP archives or more "
                               "requests", code="too_many_files")
    results: list[UploadResult] = []
    seen: dict[str, str] = {}
    work_dir = Path(tempfile.mkdtemp(prefix="upload-", dir=settings.FILE_UPLOAD_TEMP_DIR))
    try:
        for upload in files:
            name = _display_name(Path(upload.name or "unnamed").name)
            too_big = upload.size is not None and upload.size > settings.ANNOTATOR["MAX_UPLOAD_FILE_BYTES"]
            if too_big and not name.lower().endswith(".zip"):
                results.append(UploadResult(name=name, status="rejected", code="file_too_large",
                                            message="the file is larger than the upload limit"))
                continue
            path = _local_path(upload, work_dir)
            if is_zip(path):
                for member_name, member_path, rejected in _members(path, name, work_dir):
                    if rejected:
                        results.append(rejected)
                        continue
                    try:
                        results.append(_ingest_one(project=project, path=member_path, name=member_name, user=user,
                                                   seen=seen, work_dir=work_dir))
                    finally:
                        member_path.unlink(missing_ok=True)
            else:
                results.append(_ingest_one(project=project, path=path, name=name, user=user, seen=seen,
                                           work_dir=work_dir))
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)

    accepted = [r.image_id for r in results if r.status == "accepted"]
    job = None
    if accepted:
        job = image_processing_enqueue(project=project, image_ids=accepted, user=user)
    return UploadBatch(results=results, job=job)


def image_processing_enqueue(*, project: Project, image_ids: list[int], user=None) -> Job:
    job, created = job_create(kind="process_uploads", project=project, params={"image_ids": image_ids}, user=user)
    if created:
        job_enqueue(job, "workers.tasks.process_uploads")
    return job
