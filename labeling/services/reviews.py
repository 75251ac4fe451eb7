"""Review decisions on parts of an annotation: accepting or rejecting segments, and comments pinned to a point or
a segment that the annotator resolves (and anyone in the conversation reopens)."""

import math

from django.db import transaction
from django.utils import timezone

from labeling.errors import Conflict, Forbidden, ValidationFailed
from labeling.models import Annotation, AnnotationState, ReviewComment, Segment, SegmentReview

MAX_COMMENT = 5000


def _check_reviewable(annotation: Annotation, user) -> None:
    if annotation.annotator_id is not None and annotation.annotator_id == user.pk:
        raise Forbidden("you cannot review your own work", code="own_work")
    if annotation.state != AnnotationState.SUBMITTED:
        raise Conflict(f"only submitted work is reviewed; this annotation is {annotation.state}",
                       code="not_submitted", extra={"state": annotation.state})


@transaction.atomic
def segments_review(*, annotation: Annotation, user, segment_ids: list[int], review_state: str) -> list[Segment]:
    """Accept, reject or reset (pending) segments of a submitted annotation. Pixels are never touched."""
    if review_state not in SegmentReview.values:
        raise ValidationFailed(f"review_state must be one of {', '.join(SegmentReview.values)}",
                               code="bad_review_state")
    annotation = Annotation.objects.select_for_update().get(pk=annotation.pk)
    _check_reviewable(annotation, user)
    ids = sorted(set(segment_ids))
    if not ids:
        raise ValidationFailed("give at least one segment id", code="empty_selection")
    rows = list(Segment.objects.filter(annotation=annotation, segment_id__in=ids))
    missing = sorted(set(ids) - {r.segment_id for r in rows})
    if missing:
        raise ValidationFailed("segments not in this annotation", code="unknown_segment",
                               extra={"segment_ids": missing[:100]})
    Segment.objects.filter(pk__in=[r.pk for r in rows]).update(review_state=review_state)
    for row in rows:
        row.review_state = review_state
    return rows


def _clean_point(annotation: Annotation, x, y) -> tuple[float | None, float | None]:
    if x is None and y is None:
        return None, None
    if x is None or y is None:
        raise ValidationFailed("a pinned point needs both x and y", code="bad_point")
    image = annotation.image
    if not (math.isfinite(x) and math.isfinite(y)) or not (0 <= x <= image.width and 0 <= y <= image.height):
        raise ValidationFailed(f"the point must lie within the image (0..{image.width}, 0..{image.height})",
                               code="bad_point", extra={"x": x if math.isfinite(x) else None,
                                                        "y": y if math.isfinite(y) else None})
    return float(x), float(y)


def comment_create(*, annotation: Annotation, user, body: str, x: float | None = None, y: float | None = None,
                   segment_id: int | None = None) -> ReviewComment:
    """Pin a comment to a point (image pixels) and/or a segment of the annotation."""
    body = (body or "").strip()
    if not body:
        raise ValidationFailed("a comment needs text", code="empty_comment")
    if len(body) > MAX_COMMENT:
        raise ValidationFailed(f"a comment has at most {MAX_COMMENT} characters", code="comment_too_long")
    x, y = _clean_point(annotation, x, y)
    if segment_id is not None and not Segment.objects.filter(annotation=annotation, segment_id=segment_id).exists():
        raise ValidationFailed(f"segment {segment_id} is not in this annotation", code="unknown_segment",
                               extra={"segment_ids": [segment_id]})
    if x is None and segment_id is None:
        raise ValidationFailed("pin the comment to a point or a segment", code="unpinned_comment")
    return ReviewComment.objects.create(annotation=annotation, author=user, body=body, x=x, y=y,
                                        segment_id=segment_id)


def comment_set_resolved(*, comment: ReviewComment, user, resolved: bool) -> ReviewComment:
    if resolved and comment.resolved_at is None:
        comment.resolved_at, comment.resolved_by = timezone.now(), user
    elif not resolved:
        comment.resolved_at, comment.resolved_by = None, None
    comment.save(update_fields=["resolved_at", "resolved_by"])
    return comment
