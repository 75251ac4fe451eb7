"""Dataset versions: a succeeded export frozen under a per-project number.

Freezing copies the export's zip to `datasets/<project id>/v<number>-<format>.zip`, checking it against the SHA-256
the export job recorded while copying, and records the SHA-256 of every member (what `sha256sum -c` checks after
unzipping) and the job's split. The copy is the version's own: deleting or re-running the export never changes it.

A version is immutable. Deleting one (managers) removes its file once committed and keeps its row as a tombstone,
so a number always names the same data and is never handed out again.
"""

import hashlib
import tempfile
import zipfile
from collections.abc import Mapping
from typing import IO, Any

from django.core.files import File
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from labeling.errors import Conflict, NotFound, ValidationFailed
from labeling.models import DatasetVersion, Job, JobStatus, Project

EXPORT_KIND = "export"
_CHUNK = 1 << 20


def version_path(*, project_id: int, number: int, format: str) -> str:
    return f"datasets/{project_id}/v{number}-{format}.zip"


def _copy_verified(job: Job, out: IO[bytes]) -> tuple[int, str]:
    """Stream the export's stored zip into `out`, hashing it; refuse when it is gone or not what the job made."""
    name, expected = job.result.get("file"), job.result.get("sha256")
    if not name or not expected or not default_storage.exists(name):
        raise Conflict("the export's file is gone; run the export again and freeze the new one",
                       code="export_file_missing", extra={"job_id": job.pk})
    digest = hashlib.sha256()
    size = 0
    with default_storage.open(name, "rb") as fh:
        for chunk in iter(lambda: fh.read(_CHUNK), b""):
            digest.update(chunk)
            out.write(chunk)
            size += len(chunk)
    if digest.hexdigest() != expected:
        raise Conflict("the export's stored file no longer matches the checksum its job recorded; run the export "
                       "again and freeze the new one", code="export_file_changed",
                       extra={"job_id": job.pk, "expected_sha256": expected, "sha256": digest.hexdigest()})
    return size, expected


def zip_member_checksums(fileobj: IO[bytes]) -> dict[str, str]:
    """{member path: SHA-256 hex of its uncompressed bytes} of a zip, each member streamed (directories skipped)."""
    members: dict[str, str] = {}
    try:
        with zipfile.ZipFile(fileobj) as archive:
            for info in archive.infolist():
                if info.is_dir():
                    continue
                digest = hashlib.sha256()
                with archive.open(info) as member:
                    for chunk in iter(lambda m=member: m.read(_CHUNK), b""):
                        digest.update(chunk)
                members[info.filename] = digest.hexdigest()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError) as exc:
        raise Conflict(f"the export's file is not a readable zip ({exc})", code="export_file_unreadable") from exc
    return members


def sha256sums(members: Mapping[str, str]) -> str:
    """SHA256SUMS text (`<sha256>  <path>` per line, sorted by path) that `sha256sum -c` reads in the folder the
    zip was extracted to. Paths with a backslash or a line break are escaped the way GNU coreutils writes them."""
    lines = []
    for path in sorted(members):
        if any(c in path for c in "\\\n\r"):
            escaped = path.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r")
            lines.append(f"\\{members[path]}  {escaped}\n")
        else:
            lines.append(f"{members[path]}  {path}\n")
    return "".join(lines)


def job_splits(result: Mapping[str, Any]) -> dict[str, list[int]]:
    """{split name: [image ids]} from an export result's `splits`; {} when the export had no split. An
    {image id: split name} mapping is accepted too and turned around."""
    raw = result.get("splits")
    if not isinstance(raw, Mapping) or not raw:
        return {}
    if all(isinstance(v, (list, tuple)) for v in raw.values()):
        return {str(name): [int(i) for i in ids] for name, ids in raw.items()}
    if all(isinstance(v, str) for v in raw.values()):
        splits: dict[str, list[int]] = {}
        for image_id, name in raw.items():
            if name:
                splits.setdefault(name, []).append(int(image_id))
        return {name: sorted(ids) for name, ids in splits.items()}
    return {}


def annotation_count(result: Mapping[str, Any]) -> int:
    """The exported segments (COCO instances' annotations), from an export result: every format records them as
    `annotations` (counted by `run_exporter`). Panoptic and VOC exports made before that recorded them as
    `segments` only; an old YOLO export's count is unknown (its `polygons` are not segments), so 0."""
    return int(result.get("annotations", result.get("segments")) or 0)


def _already_versioned(job: Job) -> Conflict:
    existing = DatasetVersion.objects.filter(job=job).values_list("pk", "number").first()
    extra = {"job_id": job.pk}
    if existing:
        extra |= {"version_id": existing[0], "number": existing[1]}
    return Conflict(f"export job {job.pk} is already frozen as version {extra.get('number', '')}".rstrip(),
                    code="already_versioned", extra=extra)


def version_create(*, project: Project, job: Job, user, name: str = "", note: str = "") -> DatasetVersion:
    """Freeze a succeeded export job of the project as its next numbered version (one version per job)."""
    if job.project_id != project.pk:
        raise NotFound(f"job {job.pk} is not a job of this project", extra={"job_id": job.pk})
    if job.kind != EXPORT_KIND:
        raise ValidationFailed("only export jobs can be frozen as versions", code="not_an_export",
                               extra={"job_id": job.pk, "kind": job.kind})
    if job.status != JobStatus.SUCCEEDED:
        raise Conflict(f"the export is {job.status}; freeze it once it succeeded", code="export_not_succeeded",
                       extra={"job_id": job.pk, "status": job.status})
    name = name.strip()
    if len(name) > DatasetVersion._meta.get_field("name").max_length:
        raise ValidationFailed("the name is longer than 100 characters", code="invalid", extra={"field": "name"})
    if DatasetVersion.objects.filter(job=job).exists():
        raise _already_versioned(job)  # before copying a large file for nothing
    result = job.result
    format = result.get("format") or job.params.get("format", "")
    with tempfile.TemporaryFile() as tmp:
        size, sha256 = _copy_verified(job, tmp)
        tmp.seek(0)
        members = zip_member_checksums(tmp)
        stored = None
        try:
            with transaction.atomic():
                # The project row serialises numbering (and the one-version-per-job check) between concurrent
                # freezes; SQLite has no row locks but runs write transactions one at a time.
                Project.objects.select_for_update().only("pk").get(pk=project.pk)
                if DatasetVersion.objects.filter(job=job).exists():
                    raise _already_versioned(job)
                number = (DatasetVersion.objects.filter(project=project).aggregate(n=Max("number"))["n"] or 0) + 1
                path = version_path(project_id=project.pk, number=number, format=format)
                if default_storage.exists(path):  # left by an attempt that never committed: no row owns it
                    default_storage.delete(path)
                tmp.seek(0)
                stored = default_storage.save(path, File(tmp))
                version = DatasetVersion.objects.create(
                    project=project, number=number, name=name or f"v{number}", note=note, job=job, format=format,
                    format_version=int(result.get("format_version") or 0), params=dict(job.params), file=stored,
                    size_bytes=size, sha256=sha256, members=members, splits=job_splits(result),
                    image_count=int(result.get("images") or 0), annotation_count=annotation_count(result),
                    created_by=user if user is not None and user.pk else None,
                )
        except BaseException as exc:
            if stored is not None and default_storage.exists(stored):
                default_storage.delete(stored)
            if isinstance(exc, IntegrityError) and DatasetVersion.objects.filter(job=job).exists():
                raise _already_versioned(job) from exc  # a backstop: the lock above already orders freezes
            raise
    return version


def version_delete(*, version: DatasetVersion, user) -> DatasetVersion:
    """Delete a version's file (once committed) and mark its row deleted; its number is not reused. Repeatable."""
    with transaction.atomic():
        version = DatasetVersion.objects.select_for_update().get(pk=version.pk)
        if version.deleted_at is not None:
            return version
        version.deleted_at = timezone.now()
        version.deleted_by = user if user is not None and user.pk else None
        version.save(update_fields=["deleted_at", "deleted_by"])
        name = version.file

        def remove_file() -> None:
            if default_storage.exists(name):
                default_storage.delete(name)

        transaction.on_commit(remove_file)
    return version

