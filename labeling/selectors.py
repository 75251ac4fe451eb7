"""Reads. Permission filtering lives in `labeling.permissions.visible_to`; these take already-visible objects
(`task_visibility` then narrows what one may see of the task flow of a visible project)."""

import math
from dataclasses import dataclass
from itertools import combinations

import numpy as np
from django.db.models import Q, QuerySet

from labeling import permissions
from labeling.masks.agreement import AGREEMENT_FOR_PROJECT_KIND, Labelling, disagreement_map
from labeling.masks.tiles import decode_tile, tile_shape
from labeling.models import (
    Annotation,
    AnnotationState,
    DatasetVersion,
    Image,
    LabelMapTile,
    Project,
    Proposal,
    Segment,
    Superpixels,
    TaskAssignment,
    TaskState,
    TaskTransition,
)


@dataclass(frozen=True)
class TaskVisibility:
    """What one member may see of a project's task flow; build it with `task_visibility`.

    Overseers (scope `task:oversee`: managers and reviewers) see everything. Everyone else (annotators) must not be
    able to tell a gold image from an ordinary task, nor learn who else works on what:
    - a gold image is shown as a task in progress with no approved annotation, and without `is_gold`;
    - image filters by state treat gold images as in progress, and the gold filter is ignored;
    - of the history they get only the transitions of their own annotations, on every image: never the image's
      task history (who opened it, who submitted it, the decisions), which on a gold image would show it approved
      and whose presence or absence would give a gold image away. A rejection's reason is also on the rejected
      annotation's own transition, so authors still read it;
    - of the assignments, only their own.
    """

    user: object
    project: Project
    oversees: bool

    def image_state(self, image: Image) -> tuple[str, int | None, bool | None]:
        """(state, approved annotation id, is_gold) as this user may see them; is_gold is None when hidden."""
        if self.oversees:
            return image.state, image.approved_annotation_id, image.is_gold
        if image.is_gold:
            return TaskState.IN_PROGRESS, None, None
        return image.state, image.approved_annotation_id, None

    def images(self, images: QuerySet, *, state: str | None = None, gold_only: bool = False) -> QuerySet:
        """Filter the project's images by (shown) state and, for overseers, to gold images only."""
        if state:
            if self.oversees:
                images = images.filter(state=state)
            elif state == TaskState.IN_PROGRESS:  # as `image_state` shows gold images
                images = images.filter(Q(state=state) | Q(is_gold=True))
            else:
                images = images.filter(state=state, is_gold=False)
        if gold_only and self.oversees:
            images = images.filter(is_gold=True)
        return images

    def transitions(self, *, image: Image) -> QuerySet:
        """The image's transitions this user may see, oldest first."""
        rows = TaskTransition.objects.filter(image=image)
        if not self.oversees:
            rows = rows.filter(annotation__isnull=False, annotation__annotator=self.user)
        return rows.select_related("actor").order_by("id")

    def assignments(self) -> QuerySet:
        """The project's task assignments this user may see, in creation order."""
        rows = TaskAssignment.objects.filter(image__project=self.project)
        if not self.oversees:
            rows = rows.filter(user=self.user)
        return rows.select_related("user").order_by("id")


def task_visibility(*, user, project: Project) -> TaskVisibility:
    """The one rule for what a member sees of gold images, task history and assignments (see TaskVisibility)."""
    return TaskVisibility(user=user, project=project, oversees=permissions.can(user, permissions.TASK_OVERSEE, project))


def image_prelabels(*, image_id: int):
    """The image's annotations without an annotator (imported labels, model pre-labels), newest first. The first
    is what a new annotation of the image starts as a copy of, when it has segments."""
    return Annotation.objects.filter(image_id=image_id, annotator__isnull=True).order_by("-updated_at", "-id")


def image_prelabel(*, image: Image) -> Annotation | None:
    """The pre-label a new annotation of the image starts as a copy of (`image_prelabels`; the one
    `labeling.services.labelmaps.annotation_get_or_create` copies), or None."""
    prelabel = image_prelabels(image_id=image.pk).first()
    if prelabel is None or not Segment.objects.filter(annotation=prelabel).exists():
        return None
    return prelabel


def annotation_tile_index(*, annotation: Annotation) -> list[list[int]]:
    return [list(p) for p in LabelMapTile.objects.filter(annotation=annotation).values_list("tx", "ty")]


def annotation_segments(*, annotation: Annotation):
    return Segment.objects.filter(annotation=annotation).order_by("segment_id")


def image_superpixels(*, image: Image):
    return Superpixels.objects.filter(image=image).order_by("granularity")


def image_proposals(*, image: Image, model_key: str):
    """"Segment everything" proposals of the image for one SAM model, best score first."""
    return Proposal.objects.filter(image=image, model_key=model_key).order_by("-score", "id")


def project_dataset_versions(*, project):
    """The project's dataset versions, newest first (deleted ones too: their rows say what the number was)."""
    return (DatasetVersion.objects.filter(project=project).select_related("created_by", "deleted_by")
            .order_by("-number"))


def approved_label_maps(*, project):
    """The approved set exporters read: each approved image with the annotation its reviewer approved."""
    return (
        Image.objects.filter(project=project, state=TaskState.APPROVED, approved_annotation__isnull=False)
        .select_related("approved_annotation").order_by("id")
    )


def annotation_label_map(*, annotation: Annotation, step: int = 1) -> np.ndarray:
    """The label map (H, W) uint32 decoded from its stored tiles; with `step` > 1 only every step-th pixel of
    every step-th row (image pixel (x, y) with x and y multiples of step), one tile decoded at a time, so a
    20000² map can be compared without holding it whole."""
    image = annotation.image
    size = annotation.tile_size
    out = np.zeros((-(-image.height // step), -(-image.width // step)), dtype=np.uint32)
    for tx, ty, data in LabelMapTile.objects.filter(annotation=annotation).values_list("tx", "ty", "data"):
        shape = tile_shape(width=image.width, height=image.height, tx=tx, ty=ty, tile_size=size)
        tile = decode_tile(bytes(data), shape=shape)
        x0, y0 = tx * size, ty * size
        ox, oy = -x0 % step, -y0 % step  # the first sampled column and row inside the tile
        part = tile[oy::step, ox::step]
        r0, c0 = (y0 + oy) // step, (x0 + ox) // step
        out[r0 : r0 + part.shape[0], c0 : c0 + part.shape[1]] = part
    return out


def annotation_labelling(*, annotation: Annotation, step: int = 1) -> Labelling:
    classes = dict(Segment.objects.filter(annotation=annotation).values_list("segment_id", "label_class_id"))
    return Labelling(label_map=annotation_label_map(annotation=annotation, step=step), classes=classes)


# Agreement (consensus, gold scores) on images larger than this many pixels is computed on a regular sample of
# them (every n-th pixel of every n-th row), so comparing 20000² maps stays within memory and time.
AGREEMENT_MAX_PIXELS = 16_000_000


def agreement_step(image: Image) -> int:
    return max(1, math.ceil(math.sqrt(image.width * image.height / AGREEMENT_MAX_PIXELS)))


HEATMAP_MAX_SIDE = 2048


def _consensus_annotations(image: Image) -> list[Annotation]:
    return list(
        Annotation.objects.filter(image=image, annotator__isnull=False,
                                  state__in=[AnnotationState.SUBMITTED, AnnotationState.APPROVED,
                                             AnnotationState.REJECTED])
        .select_related("annotator", "image").order_by("id")
    )


def image_disagreement(*, image: Image) -> np.ndarray | None:
    """The share of annotators outside the per-pixel majority class, on a grid of at most HEATMAP_MAX_SIDE pixels
    a side (every n-th pixel of larger images); None with fewer than two annotations."""
    annotations = _consensus_annotations(image)
    if len(annotations) < 2:
        return None
    step = max(1, -(-max(image.width, image.height) // HEATMAP_MAX_SIDE))
    return disagreement_map([annotation_labelling(annotation=a, step=step) for a in annotations])


def image_agreement(*, image: Image) -> dict:
    """Pairwise agreement of the image's submitted (or decided) annotations, by the project kind's metric:
    mIoU (semantic), matched-segment IoU (instance), PQ (panoptic)."""
    annotations = _consensus_annotations(image)
    metric = AGREEMENT_FOR_PROJECT_KIND[image.project.kind]
    step = agreement_step(image)
    labellings = {a.pk: annotation_labelling(annotation=a, step=step) for a in annotations}
    pairs = []
    for a, b in combinations(annotations, 2):
        result = metric(labellings[a.pk], labellings[b.pk]).as_dict()
        pairs.append({"a": a.pk, "b": b.pk, **result})
    return {
        "metric": {"semantic": "miou", "instance": "matched_iou", "panoptic": "pq"}[image.project.kind],
        "annotations": [{"id": a.pk, "annotator_name": a.annotator.username, "state": a.state} for a in annotations],
        "pairs": pairs,
        "mean": float(np.mean([p["score"] for p in pairs])) if pairs else None,
        "sample_step": step,
    }


def label_errors(*, project, limit: int, min_score: float = 0.0) -> list[Image]:
    """Approved images by their latest label check's score, worst first (the label-error finder's review queue).
    A check of an annotation that is no longer the approved one (re-approved since) is left out."""
    out = []
    queryset = (Image.objects.filter(project=project, state=TaskState.APPROVED, label_error_score__gte=min_score)
                .order_by("-label_error_score", "id"))
    for image in queryset.iterator(chunk_size=200):
        check = image.label_check or {}
        if check.get("annotation") == image.approved_annotation_id:
            out.append(image)
            if len(out) >= limit:
                break
    return out
