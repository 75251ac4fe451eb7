"""Reads. Permission filtering lives in `labeling.permissions.visible_to`; these take already-visible objects."""

from labeling.models import Annotation, Image, LabelMapTile, Proposal, Segment, Superpixels


def annotation_tile_index(*, annotation: Annotation) -> list[list[int]]:
    return [list(p) for p in LabelMapTile.objects.filter(annotation=annotation).values_list("tx", "ty")]


def annotation_segments(*, annotation: Annotation):
    return Segment.objects.filter(annotation=annotation).order_by("segment_id")


def image_superpixels(*, image: Image):
    return Superpixels.objects.filter(image=image).order_by("granularity")


def image_proposals(*, image: Image, model_key: str):
    """"Segment everything" proposals of the image for one SAM model, best score first."""
    return Proposal.objects.filter(image=image, model_key=model_key).order_by("-score", "id")
