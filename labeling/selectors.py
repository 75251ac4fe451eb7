"""Reads. Permission filtering lives in `labeling.permissions.visible_to`; these take already-visible objects."""

from labeling.models import Annotation, LabelMapTile, Segment


def annotation_tile_index(*, annotation: Annotation) -> list[list[int]]:
    return [list(p) for p in LabelMapTile.objects.filter(annotation=annotation).values_list("tx", "ty")]


def annotation_segments(*, annotation: Annotation):
    return Segment.objects.filter(annotation=annotation).order_by("segment_id")
