"""Import jobs: an uploaded COCO / panoptic / mask-PNG / Pascal VOC file becomes pre-label annotations (no
annotator, no model: `source=import`), one per image it names, that annotators start from and evaluations can
compare.

All or nothing by default: every image's label map is written inside one transaction, and any error in the
report (a bad RLE, an unknown category, ...) rolls all of it back; the job then fails with the report in its
result, so the user sees every problem at once. With `skip_invalid` every valid item is applied and each invalid
one is left out and listed (the importers leave out exactly the item an error names: an annotation, a PNG, a
class's pixels); the job succeeds when anything was valid, and an image the label-map service refuses is left
out the same way. A dry run reads and checks everything and writes nothing. Importing again replaces an image's
previous import; people's own annotations are never touched.
"""

import logging
import tempfile
import uuid
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction

from labeling.errors import ApplicationError, ValidationFailed
from labeling.exports.names import prefixed_name
from labeling.imports import IMPORTERS, Files, ImportOptions, Report, TargetClass, TargetImage, read_labels
from labeling.ingest.archives import ArchiveMember, iter_archive, starts_like_zip
from labeling.ingest.errors import IngestRejected
from labeling.ingest.images import describe_content, sniff_format
from labeling.models import Annotation, Image, Job, JobStatus, LabelClass, Project, SegmentSource
from labeling.services.images import archive_limits
from labeling.services.jobs import JobCancelled, job_create, job_enqueue
from labeling.services.labelmaps import SegmentInput, labelmap_replace

logger = logging.getLogger(__name__)

IMPORT_KIND = "import"
UPLOADS_DIR = "imports"


class ImportFailed(Exception):
    """The import found errors and applied nothing (the job's result lists them)."""


MAX_VOID_VALUE = 65535  # a 16-bit mask PNG's largest value


def import_enqueue(*, project: Project, user, format: str, upload, dry_run: bool = False, skip_invalid: bool = False,
                   void_value: int | None = None) -> Job:
    """Store the upload and start the job. Refused here: an unknown format, an empty or oversized file, a file
    that is neither a ZIP nor (where the format takes one) a JSON document, and a `void_value` out of range or
    for a format that reads no mask PNGs."""
    importer = IMPORTERS.get(format)
    if importer is None:
        raise ValidationFailed(f"format must be one of {', '.join(sorted(IMPORTERS))}", code="unknown_format")
    if void_value is not None:
        if not importer.takes_void_value:
            readers = ", ".join(n for n, i in sorted(IMPORTERS.items()) if i.takes_void_value)
            raise ValidationFailed(f"{format} reads no mask PNGs; void_value applies to {readers}",
                                   code="void_value_not_read")
        if not 1 <= void_value <= MAX_VOID_VALUE:
            raise ValidationFailed(f"void_value must be from 1 to {MAX_VOID_VALUE} (0 is unlabelled already)",
                                   code="bad_void_value")
    size = getattr(upload, "size", 0) or 0
    limit = settings.ANNOTATOR["MAX_ARCHIVE_BYTES"]
    if size == 0:
        raise ValidationFailed("the file is empty", code="empty_file")
    if size > limit:
        raise ValidationFailed(f"the file is {size:,} bytes; the limit is {limit:,}", code="file_too_large")
    upload.seek(0)
    head = upload.read(64)
    upload.seek(0)
    if starts_like_zip(head):
        kind = "zip"
    elif importer.bare_json and _json_start(head) in ("{", "["):  # "[": a COCO results list, explained in the job
        kind = "json"
    else:
        wanted = "a ZIP or a JSON file" if importer.bare_json else "a ZIP file"
        raise ValidationFailed(f"{importer.title} takes {wanted}; this file is {_what(head)}", code="unsupported_file")
    stored = default_storage.save(f"{UPLOADS_DIR}/{project.pk}/{uuid.uuid4().hex}.{kind}", upload)
    params = {"format": format, "file": stored, "kind": kind, "dry_run": bool(dry_run),
              "skip_invalid": bool(skip_invalid), "void_value": void_value,
              "file_name": str(getattr(upload, "name", ""))[-200:]}
    job, _ = job_create(kind=IMPORT_KIND, project=project, params=params, user=user)
    job_enqueue(job)
    return job


def _json_start(head: bytes) -> str:
    return head.lstrip(b"\xef\xbb\xbf \t\r\n")[:1].decode("latin-1")


def _what(head: bytes) -> str:
    """What a refused upload looks like, from its first bytes, for the message."""
    if _json_start(head) in ("{", "["):
        return "a JSON document"
    image = sniff_format(head)
    return f"a {image} image" if image else describe_content(head)[0]


def import_run(*, job: Job, progress) -> dict[str, Any]:
    """The work of an import job (module note), in two passes over the upload: the first reads and checks every
    image and writes nothing (all a dry run does; progress to 50 %), the second writes them in one transaction.
    The job row is not updated inside that transaction (a cancel would wait for its lock): progress stays at
    50 % while it writes, and a cancel is seen between images and rolls everything back."""
    params = job.params
    skip_invalid = bool(params.get("skip_invalid"))
    options = ImportOptions(void_value=params.get("void_value"))
    summary: dict[str, Any] = {"format": params["format"], "dry_run": params["dry_run"], "skip_invalid": skip_invalid,
                               "applied": False, "images": 0, "segments": 0}
    report = Report()
    try:
        with tempfile.TemporaryDirectory(prefix="import-") as work:
            files = _files(params, Path(work), report)
            archive_errors = report.errors  # the archive's own problems: the second read does not see them
            if files is not None:
                targets = _targets(job.project)
                _check(job, files, targets, report, summary, progress, options)
                if (skip_invalid or not report.errors) and summary["images"] and not params["dry_run"]:
                    written = _apply(job, files, targets, report, options, skip_invalid=skip_invalid,
                                     errors_before=report.errors - archive_errors)
                    if written is not None:
                        summary["applied"] = True
                        summary["images"], summary["segments"] = written
    finally:
        try:
            default_storage.delete(params["file"])
        except OSError:  # the labels are in (or not) either way; a stray upload is only disk space
            logger.warning("could not delete the import upload %s", params["file"], exc_info=True)
    summary.update(report.as_dict())
    if report.errors and not (skip_invalid and (summary["applied"] or (params["dry_run"] and summary["images"]))):
        Job.objects.filter(pk=job.pk).update(result=summary)
        if skip_invalid:
            raise ImportFailed(f"{report.errors} problem(s) found and no valid labels to apply; nothing was imported "
                               "(the job's result lists them)")
        raise ImportFailed(f"{report.errors} problem(s) found; nothing was imported (the job's result lists them)")
    return summary


def _targets(project: Project) -> tuple[list[TargetClass], list[TargetImage]]:
    """The project as the importers see it, read once for both passes."""
    classes = [TargetClass(c.pk, c.name, c.kind) for c in LabelClass.objects.filter(project=project)]
    images = [TargetImage(i.pk, prefixed_name(i.pk, i.original_name), i.original_name, i.width, i.height)
              for i in Image.objects.filter(project=project).only("id", "original_name", "width", "height")]
    return classes, images


def _check(job: Job, files: Files, targets, report: Report, summary: dict[str, Any], progress,
           options: ImportOptions) -> None:
    classes, images = targets
    labels = read_labels(job.params["format"], files, classes=classes, images=images, report=report, options=options)
    total = len(images)
    summary["empty_images"] = 0
    for item in labels:
        if not item.segments:
            summary["empty_images"] += 1  # listed without labels: left as it is
            continue
        summary["images"] += 1
        summary["segments"] += len(item.segments)
        if not progress(0.5 * min(1.0, summary["images"] / max(1, total))):
            raise JobCancelled()
    if not report.errors and not summary["images"]:
        report.error("nothing_to_import", "upload", "the upload has no labels for any of the project's images")


def _apply(job: Job, files: Files, targets, report: Report, options: ImportOptions, *, skip_invalid: bool,
           errors_before: int) -> tuple[int, int] | None:
    """Write every image in one transaction: (images, segments) written, or None when nothing was. An image the
    label-map service refuses rolls all of it back, reported, or with `skip_invalid` is left out, reported; the
    second read must find what the first did (else the upload changed under us: nothing is written)."""
    again = Report()  # the check's problems are not listed twice
    classes, images = targets
    labels = read_labels(job.params["format"], files, classes=classes, images=images, report=again, options=options)
    written = [0, 0]
    try:
        with transaction.atomic():
            for done, item in enumerate(labels, 1):
                if not item.segments:
                    continue
                try:
                    with transaction.atomic():  # a savepoint: a refused image leaves nothing behind
                        _write(item)
                except ApplicationError as exc:
                    report.error(exc.code, item.where, f"could not be written: {exc}"
                                 + ("; left out" if skip_invalid else ""))
                    if not skip_invalid:
                        raise ImportFailed() from exc
                    continue
                written[0] += 1
                written[1] += len(item.segments)
                if done % 20 == 0 and _cancelled(job):
                    raise JobCancelled()
            if _cancelled(job):  # the last look before the commit: a cancelled import applies nothing
                raise JobCancelled()
            if again.errors != errors_before:
                report.error("upload_changed", "upload", "the upload read differently the second time")
                raise ImportFailed()
            if not written[0]:
                raise ImportFailed()  # every image refused (each reported): nothing applied
    except ImportFailed:
        return None
    return written[0], written[1]


def _cancelled(job: Job) -> bool:
    return Job.objects.filter(pk=job.pk, status=JobStatus.CANCELLED).exists()


def _files(params: dict[str, Any], work: Path, report: Report) -> Files | None:
    """The upload's files, extracted; archive problems go to the report."""
    local = work / f"upload.{params['kind']}"
    with default_storage.open(params["file"], "rb") as src, open(local, "wb") as dst:
        while chunk := src.read(1 << 20):
            dst.write(chunk)
    if params["kind"] == "json":
        # Named as a JSON whatever the upload was called (its content was checked to be one).
        return Files({f"{Path(params.get('file_name') or 'annotations').stem or 'annotations'}.json": local},
                     max_json_bytes=settings.ANNOTATOR["MAX_IMPORT_JSON_BYTES"])
    paths = {}
    (work / "members").mkdir()
    try:  # iter_archive refuses a file that is not a ZIP (IngestRejected "not_an_archive")
        for member in iter_archive(local, limits=archive_limits(), out_dir=work / "members"):
            # Some Windows tools separate folders with a backslash; the formats' folders are matched with "/".
            name = member.name.replace("\\", "/") if isinstance(member, ArchiveMember) else ""
            if isinstance(member, ArchiveMember) and name in paths:
                report.error("duplicate_member", member.name, "the archive holds two files of this name; the first "
                                                              "is read, this one is not")
            elif isinstance(member, ArchiveMember):
                paths[name] = member.path
            else:
                report.error(member.code, member.name, member.message)
    except IngestRejected as exc:
        report.error(exc.code, "upload", exc.message)
        return None
    return Files(paths, max_json_bytes=settings.ANNOTATOR["MAX_IMPORT_JSON_BYTES"])


def _write(item) -> None:
    image = Image.objects.select_for_update().get(pk=item.image.id)  # one import annotation per image
    annotation = Annotation.objects.filter(image=image, imported=True).order_by("id").first()
    if annotation is None:
        annotation = Annotation.objects.create(image=image, annotator=None, trained_model=None, imported=True,
                                               tile_size=settings.ANNOTATOR["LABELMAP_TILE_SIZE"])
    segments = [SegmentInput(segment_id=s.segment_id, class_id=s.class_id, instance=s.instance,
                             attributes=s.attributes, source=SegmentSource.IMPORT, score=s.score)
                for s in item.segments]
    labelmap_replace(annotation=annotation, label_map=item.label_map, segments=segments)
