"""Reads. Permission filtering lives in `labeling.permissions.visible_to`; these take already-visible objects."""

from itertools import combinations

import numpy as np

from labeling.masks.agreement import AGREEMENT_FOR_PROJECT_KIND, Labelling, disagreement_map
from labeling.masks.tiles import assemble_map, decode_tile, tile_shape
from labeling.models import (
    Annotation,
    AnnotationState,
    Image,
    LabelMapTile,
    Proposal,
    Segment,
    Superpixels,
    TaskState,
)


def annotation_tile_index(*, annotation: Annotation) -> list[list[int]]:
    return [list(p) for p in LabelMapTile.objects.filter(annotation=annotation).values_list("tx", "ty")]


def annotation_segments(*, annotation: Annotation):
    return Segment.objects.filter(annotation=annotation).order_by("segment_id")


def image_superpixels(*, image: Image):
    return Superpixels.objects.filter(image=image).order_by("granularity")


def image_proposals(*, image: Image, model_key: str):
    """"Segment everything" proposals of the image for one SAM model, best score first."""
    return Proposal.objects.filter(image=image, model_key=model_key).order_by("-score", "id")


def approved_label_maps(*, project):
    """The approved set exporters read: each approved image with the annotation its reviewer approved."""
    return (
        Image.objects.filter(project=project, state=TaskState.APPROVED, approved_annotation__isnull=False)
        .select_related("approved_annotation").order_by("id")
    )


def annotation_label_map(*, annotation: Annotation) -> np.ndarray:
    """The whole label map (H, W) uint32, decoded from its stored tiles."""
    image = annotation.image
    tiles = {}
    for tx, ty, data in LabelMapTile.objects.filter(annotation=annotation).values_list("tx", "ty", "data"):
        shape = tile_shape(width=image.width, height=image.height, tx=tx, ty=ty, tile_size=annotation.tile_size)
        tiles[(tx, ty)] = decode_tile(bytes(data), shape=shape)
    return assemble_map(width=image.width, height=image.height, tiles=tiles, tile_size=annotation.tile_size)


def annotation_labelling(*, annotation: Annotation) -> Labelling:
    classes = dict(Segment.objects.filter(annotation=annotation).values_list("segment_id", "label_class_id"))
    return Labelling(label_map=annotation_label_map(annotation=annotation), classes=classes)


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
    labellings = []
    for a in annotations:
        labelling = annotation_labelling(annotation=a)
        labellings.append(Labelling(label_map=labelling.label_map[::step, ::step], classes=labelling.classes))
    return disagreement_map(labellings)


def image_agreement(*, image: Image) -> dict:
    """Pairwise agreement of the image's submitted (or decided) annotations, by the project kind's metric:
    mIoU (semantic), matched-segment IoU (instance), PQ (panoptic)."""
    annotations = _consensus_annotations(image)
    metric = AGREEMENT_FOR_PROJECT_KIND[image.project.kind]
    labellings = {a.pk: annotation_labelling(annotation=a) for a in annotations}
    pairs = []
    for a, b in combinations(annotations, 2):
        result = metric(labellings[a.pk], labellings[b.pk]).as_dict()
        pairs.append({"a": a.pk, "b": b.pk, **result})
    return {
        "metric": {"semantic": "miou", "instance": "matched_iou", "panoptic": "pq"}[image.project.kind],
        "annotations": [{"id": a.pk, "annotator_name": a.annotator.username, "state": a.state} for a in annotations],
        "pairs": pairs,
        "mean": float(np.mean([p["score"] for p in pairs])) if pairs else None,
    }
