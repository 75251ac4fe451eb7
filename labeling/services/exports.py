"""Export jobs: build the dataset view from the database (the approved set by default) and run a registered
format over it into a deterministic zip in storage. Approved images' per-image artifacts (stored on approval by
`labeling.services.export_artifacts`) are read from `export-artifacts/<project>/<image>/<format>-<key>.bin`."""

import hashlib
import tempfile
from collections.abc import Iterator
from dataclasses import replace
from functools import partial
from typing import Any

import numpy as np
from django.core.files import File
from django.core.files.storage import default_storage

from labeling.errors import ValidationFailed
from labeling.exports import EXPORTERS, ExportOptions, run_exporter
from labeling.exports.artifacts import ArtifactContext, artifact_key, unseal
from labeling.exports.names import export_file_names, prefixed_name
from labeling.exports.split import SPLITS, check_fractions, stratified_split
from labeling.exports.view import Category, DatasetView, ExportImage, ExportSegment
from labeling.exports.zipsink import ZipSink
from labeling.models import Annotation, AnnotationState, Image, Job, LabelClass, Project, Segment, TaskState
from labeling.selectors import annotation_label_map, approved_label_maps
from labeling.services.jobs import JobCancelled, job_create, job_enqueue


def _stored_bytes(name: str) -> bytes:
    with default_storage.open(name, "rb") as fh:
        return fh.read()


_WORK_ORDER = {AnnotationState.SUBMITTED: 0, AnnotationState.REJECTED: 1, AnnotationState.DRAFT: 2}
UNASSIGNED = "unassigned"  # a stored split's images that have none


def _work_rank(annotator_id: int | None, state: str) -> int:
    """Which annotation "all work" exports for an image without an approved one, lowest first: people's work
    (submitted, rejected, then drafts), then the newest annotation without an annotator (imported labels or a
    model's pre-labels: what a new annotation of the image would start from, `selectors.image_prelabel`), so an
    image nobody has opened yet still exports what it holds."""
    return _WORK_ORDER.get(state, 3) if annotator_id is not None else 4


def _chosen_annotations(project: Project, approved_only: bool) -> list[tuple[int, int | None]]:
    """(image id, the annotation exported for it or None) in image id order, read as plain tuples so even a large
    project costs little memory. Approved images give their approved annotation. With `approved_only` false,
    the others give their newest work in `_work_rank` order."""
    approved = dict(approved_label_maps(project=project).values_list("id", "approved_annotation_id"))
    if approved_only:
        return sorted(approved.items())
    best: dict[int, tuple] = {}
    work = (Annotation.objects.filter(image__project=project)
            .values_list("image_id", "id", "annotator_id", "state", "updated_at"))
    for image_id, annotation_id, annotator_id, state, updated_at in work.iterator(chunk_size=2000):
        key = (_work_rank(annotator_id, state), -updated_at.timestamp(), -annotation_id)
        if image_id not in best or key < best[image_id][0]:
            best[image_id] = (key, annotation_id)
    image_ids = Image.objects.filter(project=project).order_by("id").values_list("id", flat=True)
    return [(i, approved.get(i) or (best[i][1] if i in best else None)) for i in image_ids]


def _class_presence(annotation_ids: list[int], class_ids: set[int]) -> dict[int, set[int]]:
    """{annotation id: the classes it has pixels of}, read in chunks (databases cap the parameters per query)."""
    present: dict[int, set[int]] = {}
    for lo in range(0, len(annotation_ids), 5000):
        rows = (Segment.objects.filter(annotation_id__in=annotation_ids[lo:lo + 5000], area__gt=0,
                                       label_class_id__in=class_ids)
                .values_list("annotation_id", "label_class_id").distinct())
        for annotation_id, class_id in rows:
            present.setdefault(annotation_id, set()).add(class_id)
    return present


def _splits(project: Project, chosen: list[tuple[int, int | None]], split: dict | None,
            class_ids: set[int]) -> dict[int, str]:
    """{image id: split} for a split export: the images' stored splits, or a seeded split stratified by the
    classes each image's exported annotation holds."""
    if split["mode"] == "stored":
        stored = dict(Image.objects.filter(project=project).values_list("id", "split"))
        return {i: stored.get(i) or UNASSIGNED for i, _ in chosen}
    present = _class_presence([a for _, a in chosen if a is not None], class_ids)
    items = [(i, present.get(a, ())) for i, a in chosen]
    return stratified_split(items, split["fractions"], seed=split["seed"])


def export_categories(*, project: Project, class_ids: list[int] | None = None) -> tuple[Category, ...]:
    """The exported classes (all, or `class_ids`) in the project's class order, each with its stable number as
    its export id: reordering the classes or exporting a subset keeps every class's id."""
    classes = list(LabelClass.objects.filter(project=project).order_by("order", "id"))
    if class_ids is not None:
        unknown = sorted(set(class_ids) - {c.pk for c in classes})
        if unknown:
            raise ValidationFailed("classes not in this project", code="unknown_class", extra={"class_ids": unknown})
        classes = [c for c in classes if c.pk in set(class_ids)]
    return tuple(Category(id=c.number, class_id=c.pk, name=c.name, kind=c.kind, color=c.color) for c in classes)


ARTIFACTS_DIR = "export-artifacts"


def artifact_folder(*, project_id: int, image_id: int) -> str:
    return f"{ARTIFACTS_DIR}/{project_id}/{image_id}"


def artifact_path(context: ArtifactContext, *, project_id: int, image_id: int, width: int, height: int,
                  annotation_id: int, annotation_version: int) -> str:
    """Where the artifact of `context` for this image and annotation version is stored: named by its key."""
    key = artifact_key(context, image_id=image_id, width=width, height=height, annotation_id=annotation_id,
                       annotation_version=annotation_version)
    return f"{artifact_folder(project_id=project_id, image_id=image_id)}/{context.format}-{key}.bin"


def artifact_load(path: str) -> bytes | None:
    """A stored artifact's content, or None when it is missing or not whole (then the export computes it)."""
    try:  # opened directly: an exists() first would be a second storage call per image on every export
        return unseal(_stored_bytes(path))
    except FileNotFoundError:  # never stored, or removed by a newer refresh
        return None


def export_images(*, chosen: list[tuple[int, int | None]], categories: tuple[Category, ...],
                  split_of: dict[int, str] | None = None, include_images: bool = False,
                  artifacts: bool = True, file_names: dict[int, str] | None = None) -> Iterator[ExportImage]:
    """The view's images for (image id, exported annotation id) pairs, in that order, read in chunks. With
    `artifacts`, an approved image (exported with its approved annotation) offers its stored artifacts.
    `file_names` ({image id: name}, from `export_file_names` over the whole export) default to `<id>_<name>`."""
    category_of = {c.class_id: c.id for c in categories}
    split_of = split_of or {}
    file_names = file_names or {}
    for lo in range(0, len(chosen), 200):
        chunk = chosen[lo:lo + 200]
        images = Image.objects.in_bulk([i for i, _ in chunk])
        annotations = Annotation.objects.in_bulk([a for _, a in chunk if a is not None])
        rows: dict[int, list[Segment]] = {}
        for row in Segment.objects.filter(annotation_id__in=list(annotations), area__gt=0,
                                          label_class_id__in=list(category_of)).order_by("segment_id"):
            rows.setdefault(row.annotation_id, []).append(row)
        for image_id, annotation_id in chunk:
            image = images.get(image_id)
            if image is None:
                continue  # deleted while the export ran
            annotation = annotations.get(annotation_id)
            segments = tuple(
                ExportSegment(segment_id=s.segment_id, category_id=category_of[s.label_class_id],
                              instance=s.instance, area=s.area, bbox=tuple(s.bbox), attributes=s.attributes,
                              score=s.score, source=s.source)
                for s in rows.get(annotation_id, ())
            )
            approved = (annotation is not None and image.state == TaskState.APPROVED
                        and image.approved_annotation_id == annotation.pk)
            yield ExportImage(
                id=image.pk, file_name=file_names.get(image.pk) or prefixed_name(image.pk, image.original_name),
                width=image.width, height=image.height,
                split=split_of.get(image_id, ""), segments=segments,
                load_map=(partial(annotation_label_map, annotation=annotation) if annotation is not None
                          else partial(_unlabelled_map, height=image.height, width=image.width)),
                read_file=(lambda f=image.file.name: _stored_bytes(f)) if include_images else None,
                artifact=(partial(_stored_artifact, project_id=image.project_id, image_id=image.pk,
                                  width=image.width, height=image.height, annotation_id=annotation.pk,
                                  annotation_version=annotation.version) if artifacts and approved else None),
            )


def _unlabelled_map(*, height: int, width: int) -> np.ndarray:
    """An image with no annotation to export has the all-0 label map, so every format writes its own "no
    labels" (a void panoptic PNG, an all-background class PNG, an empty label file) from this one place."""
    return np.zeros((height, width), dtype=np.uint32)


def _stored_artifact(context: ArtifactContext, **where) -> bytes | None:
    return artifact_load(artifact_path(context, **where))


def dataset_view(*, project: Project, approved_only: bool = True, class_ids: list[int] | None = None,
                 include_images: bool = False, split: dict | None = None) -> DatasetView:
    """The export's view. `split`: None (not split), {"mode": "stored"} (the images' own splits) or
    {"mode": "stratified", "fractions": {"train": .8, ...}, "seed": 0}; a split view comes grouped by split.
    Approved images offer the artifacts stored when they were approved, so the formats stream them and compute
    only the missing ones (`labeling.exports.artifacts`)."""
    categories = export_categories(project=project, class_ids=class_ids)
    chosen = _chosen_annotations(project, approved_only)
    split_of = _splits(project, chosen, split, {c.class_id for c in categories}) if split else {}
    if split:
        rank = {name: i for i, name in enumerate((*SPLITS, UNASSIGNED))}
        chosen.sort(key=lambda pair: (rank[split_of[pair[0]]], pair[0]))
    originals = dict(Image.objects.filter(project=project).values_list("id", "original_name"))
    file_names = export_file_names([(i, originals[i]) for i, _ in chosen if i in originals])
    images = export_images(chosen=chosen, categories=categories, split_of=split_of, include_images=include_images,
                           file_names=file_names)
    return DatasetView(name=project.name, kind=project.kind, categories=categories, images=images,
                       count=len(chosen), split=bool(split))


def _split_params(split: str, fractions: dict[str, float] | None, seed: int) -> dict | None:
    if split == "none":
        return None
    if split == "stored":
        return {"mode": "stored"}
    if split != "stratified":
        raise ValidationFailed("split must be none, stored or stratified", code="unknown_split")
    try:
        checked = check_fractions(fractions or {"train": 0.8, "val": 0.1, "test": 0.1})
    except ValueError as exc:
        raise ValidationFailed(str(exc), code="invalid_split") from exc
    return {"mode": "stratified", "fractions": checked, "seed": seed}


# The options every format takes; polygons only those that can write them (COCO instances: RLE or polygons).
_COMMON_OPTIONS = ("approved_only", "class_ids", "include_images", "split")


def export_formats() -> list[dict[str, Any]]:
    """The registered formats by name, each with the export options it takes: what clients offer and check."""
    return [{"name": e.name, "title": e.title, "version": e.version,
             "options": sorted(_COMMON_OPTIONS + (("polygons",) if e.polygons else ()))}
            for _, e in sorted(EXPORTERS.items())]


def export_enqueue(*, project: Project, user, format: str, approved_only: bool = True,
                   class_ids: list[int] | None = None, include_images: bool = False, polygons: bool = False,
                   split: str = "none", split_fractions: dict[str, float] | None = None, split_seed: int = 0) -> Job:
    """Start an export job. `split`: "none", "stored" (the images' own train/val/test) or "stratified" (seeded by
    `split_seed`, in `split_fractions`, default 80/10/10, stratified by the classes present in each image)."""
    if format not in EXPORTERS:
        raise ValidationFailed(f"format must be one of {', '.join(sorted(EXPORTERS))}", code="unknown_format")
    if polygons and not EXPORTERS[format].polygons:
        takers = ", ".join(sorted(name for name, e in EXPORTERS.items() if e.polygons))
        raise ValidationFailed(f"polygons apply to {takers} only", code="polygons_unsupported")
    params = {"format": format, "approved_only": approved_only, "class_ids": class_ids,
              "include_images": include_images, "polygons": polygons,
              "split": _split_params(split, split_fractions, split_seed)}
    export_categories(project=project, class_ids=class_ids)  # an unknown class is refused now, not in the job
    job, created = job_create(kind="export", project=project, params=params, user=user)
    if created:
        job_enqueue(job)
    return job


def export_path(job: Job) -> str:
    return f"exports/{job.project_id}/{job.pk}-{job.params['format']}.zip"


def export_run(*, job: Job, progress) -> dict[str, Any]:
    """Write the export's zip to storage; repeatable (a redelivered job overwrites its own file)."""
    name = job.params["format"]
    params = job.params
    view = dataset_view(project=job.project, approved_only=params["approved_only"], class_ids=params["class_ids"],
                        include_images=params["include_images"], split=params.get("split"))
    splits: dict[str, list[int]] = {}

    def recorded(images):
        for image in images:
            if image.split:
                splits.setdefault(image.split, []).append(image.id)
            yield image

    def report(fraction: float) -> None:
        if not progress(0.99 * fraction):
            raise JobCancelled()

    with tempfile.TemporaryFile() as tmp:
        sink = ZipSink(tmp)
        options = ExportOptions(include_images=params["include_images"], polygons=params.get("polygons", False))
        summary = run_exporter(name, replace(view, images=recorded(view.images)), sink, options, report)
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
            "format_version": EXPORTERS[name].version, **summary, **({"splits": splits} if view.split else {})}
