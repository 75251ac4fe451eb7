"""Export jobs: build the dataset view from the database (the approved set by default) and run a registered
format over it into a deterministic zip in storage."""

import hashlib
import re
import tempfile
from typing import Any

from django.core.files import File
from django.core.files.storage import default_storage
from django.db.models import Prefetch

from labeling.errors import ValidationFailed
from labeling.exports import EXPORTERS, ExportOptions, run_exporter
from labeling.exports.view import Category, DatasetView, ExportImage, ExportSegment
from labeling.exports.zipsink import ZipSink
from labeling.models import Annotation, AnnotationState, Image, Job, LabelClass, Project, Segment, TaskState
from labeling.selectors import annotation_label_map, approved_label_maps
from labeling.services.jobs import JobCancelled, job_create, job_enqueue

EXPORT_TASK = "workers.tasks.run_export"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def export_file_name(image: Image) -> str:
    """Portable and stable: the image id (unique) and its original name without any path or odd characters."""
    base = _UNSAFE.sub("_", image.original_name.rsplit("/", 1)[-1]).strip("._") or "image"
    return f"{image.pk}_{base[-120:]}"


def _stored_bytes(name: str) -> bytes:
    with default_storage.open(name, "rb") as fh:
        return fh.read()


def _chosen_annotation(image: Image, approved_only: bool) -> Annotation | None:
    if image.state == TaskState.APPROVED and image.approved_annotation is not None:
        return image.approved_annotation
    if approved_only:
        return None
    # All images: the newest human work on the ones not approved yet (submitted before drafts).
    work = [a for a in image.annotations.all() if a.annotator_id is not None]
    order = {AnnotationState.SUBMITTED: 0, AnnotationState.REJECTED: 1, AnnotationState.DRAFT: 2}
    work.sort(key=lambda a: (order.get(a.state, 3), -a.updated_at.timestamp(), -a.pk))
    return work[0] if work else None


def export_categories(*, project: Project, class_ids: list[int] | None = None) -> tuple[Category, ...]:
    """The exported classes (all, or `class_ids`) with their 1-based export ids in the project's class order."""
    classes = list(LabelClass.objects.filter(project=project).order_by("order", "id"))
    if class_ids is not None:
        unknown = sorted(set(class_ids) - {c.pk for c in classes})
        if unknown:
            raise ValidationFailed("classes not in this project", code="unknown_class", extra={"class_ids": unknown})
        classes = [c for c in classes if c.pk in set(class_ids)]
    return tuple(Category(id=i, class_id=c.pk, name=c.name, kind=c.kind, color=c.color)
                 for i, c in enumerate(classes, 1))


def dataset_view(*, project: Project, approved_only: bool = True, class_ids: list[int] | None = None,
                 include_images: bool = False) -> DatasetView:
    categories = export_categories(project=project, class_ids=class_ids)
    category_of = {c.class_id: c.id for c in categories}
    if approved_only:
        images = approved_label_maps(project=project)
    else:
        images = (Image.objects.filter(project=project).order_by("id").select_related("approved_annotation")
                  .prefetch_related(Prefetch("annotations", queryset=Annotation.objects.order_by("id"))))
    count = images.count()

    def entries():
        for image in images.iterator(chunk_size=200) if approved_only else images:
            annotation = _chosen_annotation(image, approved_only)
            rows = Segment.objects.filter(annotation=annotation).order_by("segment_id") if annotation else []
            segments = tuple(
                ExportSegment(segment_id=s.segment_id, category_id=category_of[s.label_class_id],
                              instance=s.instance, area=s.area, bbox=tuple(s.bbox), attributes=s.attributes,
                              score=s.score, source=s.source)
                for s in rows if s.label_class_id in category_of and s.area > 0
            )
            yield ExportImage(
                id=image.pk, file_name=export_file_name(image), width=image.width, height=image.height,
                split=image.split, segments=segments,
                load_map=(lambda a=annotation: annotation_label_map(annotation=a)),
                read_file=(lambda f=image.file.name: _stored_bytes(f)) if include_images else None,
            )

    return DatasetView(name=project.name, kind=project.kind, categories=categories, images=entries(), count=count)


def export_enqueue(*, project: Project, user, format: str, approved_only: bool = True,
                   class_ids: list[int] | None = None, include_images: bool = False) -> Job:
    if format not in EXPORTERS:
        raise ValidationFailed(f"format must be one of {', '.join(sorted(EXPORTERS))}", code="unknown_format")
    params = {"format": format, "approved_only": approved_only, "class_ids": class_ids,
              "include_images": include_images}
    export_categories(project=project, class_ids=class_ids)  # an unknown class is refused now, not in the job
    job, created = job_create(kind="export", project=project, params=params, user=user)
    if created:
        job_enqueue(job, EXPORT_TASK)
    return job


def export_path(job: Job) -> str:
    return f"exports/{job.project_id}/{job.pk}-{job.params['format']}.zip"


def export_run(*, job: Job, progress) -> dict[str, Any]:
    """Write the export's zip to storage; repeatable (a redelivered job overwrites its own file)."""
    name = job.params["format"]
    view = dataset_view(project=job.project, approved_only=job.params["approved_only"],
                        class_ids=job.params["class_ids"], include_images=job.params["include_images"])

    def report(fraction: float) -> None:
        if not progress(0.99 * fraction):
            raise JobCancelled()

    with tempfile.TemporaryFile() as tmp:
        sink = ZipSink(tmp)
        summary = run_exporter(name, view, sink, ExportOptions(include_images=job.params["include_images"]), report)
        sink.close()
        tmp.seek(0)
        digest = hashlib.sha256()
        for chunk in iter(lambda: tmp.read(1 << 20), b""):
            digest.update(chunk)
        size = tmp.tell()
        tmp.seek(0)
        path = export_path(job)
        if default_storage.exists(path):
            default_storage.delete(path)
        stored = default_storage.save(path, File(tmp))
    return {"file": stored, "bytes": size, "sha256": digest.hexdigest(), "format": name,
            "format_version": EXPORTERS[name].version, **summary}
