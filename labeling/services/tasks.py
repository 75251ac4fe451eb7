"""The task flow: an image's task goes `new → in_progress → submitted → approved | rejected → in_progress …`;
each annotator's annotation goes `draft → submitted → approved | rejected → draft …`.

Every change goes through `_move_image` / `_move_annotation`, which check the transition against the tables
below and append a `TaskTransition` row (who, when, from, to, reason). Guards that are about people rather than
roles live here too: nobody decides on their own work, and only an annotation's author submits it.

With `project.annotators_per_image = k`, an image is submitted once k different people submitted their
annotations of it; a reviewer then approves one of them (the one exporters read) or rejects them.
"""

import math
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Count, Exists, F, Min, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from labeling.errors import Conflict, Forbidden, ValidationFailed
from labeling.models import (
    Annotation,
    AnnotationState,
    Image,
    Membership,
    NextTaskOrder,
    Project,
    Role,
    TaskAssignment,
    TaskState,
    TaskTransition,
)
from labeling.services.export_artifacts import artifacts_refresh_enqueue
from labeling.services.learning import retrain_on_approval

IMAGE_TRANSITIONS: dict[str, set[str]] = {
    TaskState.NEW: {TaskState.IN_PROGRESS},
    TaskState.IN_PROGRESS: {TaskState.SUBMITTED},
    TaskState.SUBMITTED: {TaskState.APPROVED, TaskState.REJECTED},
    TaskState.REJECTED: {TaskState.IN_PROGRESS},
    # A manager or reviewer reopens approved work (with a reason) to have it changed.
    TaskState.APPROVED: {TaskState.IN_PROGRESS},
}

ANNOTATION_TRANSITIONS: dict[str, set[str]] = {
    AnnotationState.DRAFT: {AnnotationState.SUBMITTED},
    AnnotationState.SUBMITTED: {AnnotationState.APPROVED, AnnotationState.REJECTED},
    AnnotationState.REJECTED: {AnnotationState.DRAFT, AnnotationState.SUBMITTED},
    AnnotationState.APPROVED: {AnnotationState.DRAFT},
}

# Roles that label (ANNOTATION_CREATE): who may be assigned images and pull "next task".
LABELLING_ROLES = (Role.ANNOTATOR, Role.MANAGER)
MAX_REASON = 5000
MAX_MERGE_PIXELS = 64_000_000


def _move_image(image: Image, to_state: str, *, actor, reason: str = "", annotation: Annotation | None = None) -> None:
    """Compare-and-swap the image's state (a concurrent move of the same image fails with 409), recorded."""
    from_state = image.state
    if to_state not in IMAGE_TRANSITIONS.get(from_state, set()):
        raise Conflict(f"an image cannot go from {from_state} to {to_state}", code="invalid_transition",
                       extra={"from": from_state, "to": to_state})
    fields = {"state": to_state}
    if to_state == TaskState.APPROVED:
        fields["approved_annotation"] = annotation
    elif from_state == TaskState.APPROVED:
        fields["approved_annotation"] = None
    if not Image.objects.filter(pk=image.pk, state=from_state).update(**fields):
        raise Conflict("the image's state changed meanwhile; reload it", code="state_changed",
                       extra={"expected": from_state})
    for name, value in fields.items():
        setattr(image, name, value)
    TaskTransition.objects.create(image=image, actor=_user_or_none(actor), from_state=from_state, to_state=to_state,
                                  reason=reason)
    if to_state == TaskState.APPROVED:  # every approval passes here: refresh its export artifacts after commit
        artifacts_refresh_enqueue(image_id=image.pk, annotation_id=annotation.pk)
        retrain_on_approval(project_id=image.project_id)  # and, after commit, train again when it is due


def _move_annotation(annotation: Annotation, to_state: str, *, actor, reason: str = "") -> None:
    from_state = annotation.state
    if to_state not in ANNOTATION_TRANSITIONS.get(from_state, set()):
        raise Conflict(f"an annotation cannot go from {from_state} to {to_state}", code="invalid_transition",
                       extra={"from": from_state, "to": to_state})
    fields = {"state": to_state}
    if to_state == AnnotationState.SUBMITTED:
        fields["submitted_at"] = timezone.now()
    if not Annotation.objects.filter(pk=annotation.pk, state=from_state).update(**fields):
        raise Conflict("the annotation's state changed meanwhile; reload it", code="state_changed",
                       extra={"expected": from_state})
    for name, value in fields.items():
        setattr(annotation, name, value)
    TaskTransition.objects.create(image_id=annotation.image_id, annotation=annotation, actor=_user_or_none(actor),
                                  from_state=from_state, to_state=to_state, reason=reason)


def _user_or_none(user):
    return user if user is not None and getattr(user, "pk", None) else None


def _clean_reason(reason: str, *, required: bool) -> str:
    reason = (reason or "").strip()
    if required and not reason:
        raise ValidationFailed("give a reason", code="reason_required")
    if len(reason) > MAX_REASON:
        raise ValidationFailed(f"the reason is longer than {MAX_REASON} characters", code="reason_too_long")
    return reason


def _locked_image(image_id: int) -> Image:
    return Image.objects.select_for_update().select_related("project").get(pk=image_id)


def _human_annotations(image: Image):
    return Annotation.objects.filter(image=image, annotator__isnull=False)


def _decision_on(image_id: int, *, needs: str, to_state: str, verb: str) -> tuple[Image, list[Annotation]]:
    """Lock the image for a reviewer's decision: it must be in `needs`; returns it with its submitted
    annotations (locked too, oldest submission first)."""
    image = _locked_image(image_id)
    if image.state != needs:
        article = "an" if needs[0] in "aeiou" else "a"
        raise Conflict(f"only {article} {needs.replace('_', ' ')} image can be {verb}; this one is "
                       f"{image.state.replace('_', ' ')}", code="invalid_transition",
                       extra={"from": image.state, "to": to_state})
    submitted = list(_human_annotations(image).select_for_update().filter(state=AnnotationState.SUBMITTED)
                     .order_by("submitted_at", "id"))
    return image, submitted


# ---- hooks of the label-map services ----


def task_started(*, image: Image, user) -> None:
    """A new annotation of the image was created: a new task is now in progress. Call inside a transaction."""
    image = _locked_image(image.pk)
    if image.state == TaskState.NEW:
        _move_image(image, TaskState.IN_PROGRESS, actor=user)


def annotation_check_editable(*, annotation: Annotation, user) -> None:
    """Before a save: approved work is frozen until reopened; submitted work is frozen for its author (a reviewer's
    correction is recorded as the reviewer's revision). Pre-label annotations (no annotator) are always open."""
    if annotation.annotator_id is None:
        return
    if annotation.state == AnnotationState.APPROVED:
        raise Conflict("this annotation is approved; a reviewer or manager must reopen the image to change it",
                       code="annotation_locked", extra={"state": annotation.state})
    if annotation.state == AnnotationState.SUBMITTED and annotation.annotator_id == getattr(user, "pk", None):
        raise Conflict("this annotation is submitted for review; it can be changed again if it is rejected",
                       code="annotation_locked", extra={"state": annotation.state})


def annotation_edited(*, annotation: Annotation, user) -> None:
    """After a save by the annotation's author: rejected work being fixed is a draft again and its image is in
    progress. Call inside the save's transaction."""
    if annotation.annotator_id is None or annotation.annotator_id != getattr(user, "pk", None):
        return
    if annotation.state != AnnotationState.REJECTED:
        return
    _move_annotation(annotation, AnnotationState.DRAFT, actor=user)
    image = _locked_image(annotation.image_id)
    if image.state == TaskState.REJECTED:
        _move_image(image, TaskState.IN_PROGRESS, actor=user)


# ---- submitting and deciding ----


@transaction.atomic
def annotation_submit(*, annotation: Annotation, user) -> Annotation:
    """The author submits their annotation. The image is submitted once `annotators_per_image` people did. On a
    gold image the annotation is scored against the reference instead, and the image stays as it is."""
    if annotation.annotator_id != getattr(user, "pk", None):
        raise Forbidden("only the annotator submits their own annotation", code="not_your_annotation")
    image = _locked_image(annotation.image_id)
    annotation = Annotation.objects.select_for_update().get(pk=annotation.pk)
    if image.is_gold and image.approved_annotation_id and image.approved_annotation_id != annotation.pk:
        _move_annotation(annotation, AnnotationState.SUBMITTED, actor=user)
        annotation.gold_score = gold_score(annotation=annotation, reference=image.approved_annotation)
        annotation.save(update_fields=["gold_score"])
        return annotation
    if image.state == TaskState.APPROVED:
        raise Conflict("the image is already approved", code="invalid_transition",
                       extra={"from": image.state, "to": TaskState.SUBMITTED})
    _move_annotation(annotation, AnnotationState.SUBMITTED, actor=user)
    if image.state in (TaskState.NEW, TaskState.REJECTED):
        _move_image(image, TaskState.IN_PROGRESS, actor=user)
    submitted = _human_annotations(image).filter(state=AnnotationState.SUBMITTED).count()
    if image.state == TaskState.IN_PROGRESS and submitted >= image.project.annotators_per_image:
        _move_image(image, TaskState.SUBMITTED, actor=user)
        if image.project.annotators_per_image > 1:
            _record_agreement(image)
    return annotation


def _record_agreement(image: Image) -> None:
    """The mean pairwise agreement of the image's submitted work, kept for the dashboard's distribution."""
    from labeling.selectors import image_agreement

    image.agreement = image_agreement(image=image)["mean"]
    image.save(update_fields=["agreement"])


def _check_not_own(annotations: list[Annotation], user) -> None:
    own = [a.pk for a in annotations if a.annotator_id == user.pk]
    if own:
        raise Forbidden("you cannot decide on your own work; another reviewer must", code="own_work",
                        extra={"annotation_ids": own})


@transaction.atomic
def image_approve(*, image: Image, user, annotation_id: int | None = None, reason: str = "") -> Image:
    """Approve a submitted image: the chosen submitted annotation (the only one, unless consensus gave several)
    becomes the one exporters read."""
    reason = _clean_reason(reason, required=False)
    image, submitted = _decision_on(image.pk, needs=TaskState.SUBMITTED, to_state=TaskState.APPROVED, verb="approved")
    if annotation_id is None:
        if len(submitted) != 1:
            raise ValidationFailed("several annotations were submitted: choose the one to approve",
                                   code="annotation_required", extra={"annotation_ids": [a.pk for a in submitted]})
        chosen = submitted[0]
    else:
        chosen = next((a for a in submitted if a.pk == annotation_id), None)
        if chosen is None:
            raise ValidationFailed("that annotation is not a submitted annotation of this image",
                                   code="not_submitted", extra={"annotation_id": annotation_id})
    _check_not_own([chosen], user)
    _move_annotation(chosen, AnnotationState.APPROVED, actor=user, reason=reason)
    _move_image(image, TaskState.APPROVED, actor=user, reason=reason, annotation=chosen)
    return image


@transaction.atomic
def image_approve_merge(*, image: Image, user, reason: str = "") -> Image:
    """Approve the per-pixel majority of the submitted annotations (consensus): the merge becomes the reviewer's
    own annotation of the image, and the one exporters read."""
    from labeling.masks.agreement import majority_merge
    from labeling.masks.tiles import encode_tile, split_map
    from labeling.models import ClassKind, LabelClass
    from labeling.selectors import annotation_labelling
    from labeling.services.labelmaps import SegmentInput, TileUpdate, labelmap_save

    reason = _clean_reason(reason, required=False)
    image, submitted = _decision_on(image.pk, needs=TaskState.SUBMITTED, to_state=TaskState.APPROVED, verb="approved")
    if len(submitted) < 2:
        raise ValidationFailed("a majority merge needs at least two submitted annotations", code="nothing_to_merge")
    if image.width * image.height > MAX_MERGE_PIXELS:
        # The merge is exact, so it needs every map whole (4 bytes a pixel each): refused rather than risking
        # the web process's memory on a huge image.
        raise ValidationFailed(f"a majority merge works on images up to {MAX_MERGE_PIXELS // 1_000_000} MP; "
                               f"approve one of the annotations instead", code="image_too_large_to_merge")
    _check_not_own(submitted, user)
    if Annotation.objects.filter(image=image, annotator=user).exists():
        raise Conflict("you already have an annotation of this image; a merge would be your annotation",
                       code="own_annotation_exists")
    stuff = frozenset(LabelClass.objects.filter(project_id=image.project_id, kind=ClassKind.STUFF)
                      .values_list("pk", flat=True))
    merged = majority_merge([annotation_labelling(annotation=a) for a in submitted], stuff_classes=stuff)
    annotation = Annotation.objects.create(image=image, annotator=user, tile_size=submitted[0].tile_size)
    tiles = split_map(merged.label_map, tile_size=annotation.tile_size)
    labelmap_save(
        annotation=annotation, user=user, base_version=0,
        tiles=[TileUpdate(tx=tx, ty=ty, data=encode_tile(t)) for (tx, ty), t in sorted(tiles.items())],
        segments=[SegmentInput(segment_id=sid, class_id=c) for sid, c in sorted(merged.classes.items())],
        deleted_segment_ids=[],
    )
    note = reason or f"majority merge of annotations {', '.join(str(a.pk) for a in submitted)}"
    _move_annotation(annotation, AnnotationState.SUBMITTED, actor=user, reason=note)
    _move_annotation(annotation, AnnotationState.APPROVED, actor=user, reason=note)
    _move_image(image, TaskState.APPROVED, actor=user, reason=note, annotation=annotation)
    return image


@transaction.atomic
def image_reject(*, image: Image, user, reason: str, annotation_ids: list[int] | None = None) -> Image:
    """Reject a submitted image with a reason: the given submitted annotations (default: all) go back to their
    authors as rejected, with the reviewer's comments."""
    reason = _clean_reason(reason, required=True)
    image, submitted = _decision_on(image.pk, needs=TaskState.SUBMITTED, to_state=TaskState.REJECTED, verb="rejected")
    if annotation_ids is None:
        chosen = submitted
    else:
        wanted = set(annotation_ids)
        chosen = [a for a in submitted if a.pk in wanted]
        missing = sorted(wanted - {a.pk for a in chosen})
        if missing or not chosen:
            raise ValidationFailed("not submitted annotations of this image", code="not_submitted",
                                   extra={"annotation_ids": missing})
    _check_not_own(chosen, user)
    for annotation in chosen:
        _move_annotation(annotation, AnnotationState.REJECTED, actor=user, reason=reason)
    _move_image(image, TaskState.REJECTED, actor=user, reason=reason)
    return image


@transaction.atomic
def image_reopen(*, image: Image, user, reason: str) -> Image:
    """Reopen an approved image: its approved annotation is a draft of its author again."""
    reason = _clean_reason(reason, required=True)
    image, _ = _decision_on(image.pk, needs=TaskState.APPROVED, to_state=TaskState.IN_PROGRESS, verb="reopened")
    approved = image.approved_annotation
    if approved is not None:
        _move_annotation(approved, AnnotationState.DRAFT, actor=user, reason=reason)
    _move_image(image, TaskState.IN_PROGRESS, actor=user, reason=reason)
    return image


# ---- gold images (honeypots) ----


def gold_score(*, annotation: Annotation, reference: Annotation) -> float:
    """Agreement of an annotator's work with the reference, by the project kind's metric."""
    from labeling.masks.agreement import AGREEMENT_FOR_PROJECT_KIND
    from labeling.selectors import agreement_step, annotation_labelling

    metric = AGREEMENT_FOR_PROJECT_KIND[annotation.image.project.kind]
    step = agreement_step(annotation.image)
    return metric(annotation_labelling(annotation=reference, step=step),
                  annotation_labelling(annotation=annotation, step=step)).score


@transaction.atomic
def image_set_gold(*, image: Image, gold: bool) -> Image:
    """Make an approved image a gold image (its approved annotation is the reference), or an ordinary one again."""
    image = _locked_image(image.pk)
    if gold and (image.state != TaskState.APPROVED or image.approved_annotation_id is None):
        raise Conflict("only an approved image can be gold: its approved annotation is the reference",
                       code="not_approved", extra={"state": image.state})
    image.is_gold = gold
    image.save(update_fields=["is_gold"])
    return image


def _gold_due(project: Project, user) -> bool:
    """Gold images make up `gold_share` of what the user is handed: one is due when fewer than
    floor(share x (tasks so far + 1)) of their tasks were gold."""
    if project.gold_share <= 0:
        return False
    mine = Annotation.objects.filter(image__project=project, annotator=user)
    done, gold = mine.count(), mine.filter(image__is_gold=True).count()
    return gold < math.floor(project.gold_share * (done + 1) + 1e-9)


def _next_gold(project: Project, user) -> Image | None:
    return (Image.objects.filter(project=project, is_gold=True, state=TaskState.APPROVED)
            .exclude(Exists(Annotation.objects.filter(image=OuterRef("pk"), annotator=user)))
            .order_by("id").first())


# ---- assignment and "next task" ----


@dataclass(frozen=True)
class AssignResult:
    assigned: int
    unassigned: int


def _labelling_members(project: Project, user_ids: list[int]):
    users = {
        m.user_id: m.user for m in Membership.objects.filter(project=project, user_id__in=user_ids,
                                                              role__in=LABELLING_ROLES).select_related("user")
    }
    missing = sorted(set(user_ids) - set(users))
    if missing:
        raise ValidationFailed("only the project's annotators and managers can be assigned images",
                               code="not_an_annotator", extra={"user_ids": missing})
    return users


@transaction.atomic
def tasks_assign(*, project: Project, image_ids: list[int], user_ids: list[int], by, unassign: bool = False
                 ) -> AssignResult:
    """Assign (or unassign) every given image to every given user. An image takes at most `annotators_per_image`
    assignees."""
    image_ids, user_ids = sorted(set(image_ids)), sorted(set(user_ids))
    if not image_ids or not user_ids:
        raise ValidationFailed("give at least one image and one user", code="empty_assignment")
    images = list(Image.objects.select_for_update().filter(project=project, pk__in=image_ids))
    missing = sorted(set(image_ids) - {i.pk for i in images})
    if missing:
        raise ValidationFailed("images not in this project", code="unknown_image", extra={"image_ids": missing[:100]})
    if unassign:
        deleted, _ = TaskAssignment.objects.filter(image__in=images, user_id__in=user_ids).delete()
        return AssignResult(assigned=0, unassigned=deleted)
    users = _labelling_members(project, user_ids)
    existing = set(TaskAssignment.objects.filter(image__in=images).values_list("image_id", "user_id"))
    counts: dict[int, int] = {}
    for image_id, _user_id in existing:
        counts[image_id] = counts.get(image_id, 0) + 1
    new = [(i.pk, u) for i in images for u in user_ids if (i.pk, u) not in existing]
    for image_id, _user_id in new:
        counts[image_id] = counts.get(image_id, 0) + 1
    over = sorted(i for i, n in counts.items() if n > project.annotators_per_image)
    if over:
        raise ValidationFailed(
            f"this project labels each image by {project.annotators_per_image} annotator(s); these images would "
            f"have more assignees", code="too_many_assignees", extra={"image_ids": over[:100]})
    TaskAssignment.objects.bulk_create(
        [TaskAssignment(image_id=i, user=users[u], assigned_by=_user_or_none(by)) for i, u in new]
    )
    return AssignResult(assigned=len(new), unassigned=0)


@dataclass(frozen=True)
class NextTask:
    image: Image | None
    annotation: Annotation | None
    why: str  # rejected | draft | assigned | prelabelled | unlabelled | none


OPEN_TASK_STATES = (TaskState.NEW, TaskState.IN_PROGRESS, TaskState.REJECTED)


def _count(queryset):
    return Coalesce(Subquery(queryset.order_by().values("image").annotate(n=Count("pk")).values("n")), 0)


def _startable_images(project: Project, user):
    """Open images the user has not labelled, with `others`: how many other people label or are assigned it (an
    assignment reserves a place until its assignee starts). The user may start one when others < k."""
    labelling = Annotation.objects.filter(image=OuterRef("pk"), annotator__isnull=False).exclude(annotator=user)
    started = Annotation.objects.filter(image=OuterRef("image"), annotator=OuterRef("user"))
    reserved = TaskAssignment.objects.filter(image=OuterRef("pk")).exclude(user=user).exclude(Exists(started))
    return (
        Image.objects.filter(project=project, state__in=(TaskState.NEW, TaskState.IN_PROGRESS))
        .exclude(Exists(Annotation.objects.filter(image=OuterRef("pk"), annotator=user)))
        .annotate(
            others=_count(labelling) + _count(reserved),
            assigned_to_me=Exists(TaskAssignment.objects.filter(image=OuterRef("pk"), user=user)),
            prelabelled=Exists(Annotation.objects.filter(image=OuterRef("pk"), annotator__isnull=True,
                                                         segments__isnull=False)),
        )
        .filter(others__lt=project.annotators_per_image)
    )


_CLOSED_BECAUSE = {
    TaskState.SUBMITTED: "it is submitted and waits for review; it opens for labelling again if it is rejected",
    TaskState.APPROVED: "it is approved; a reviewer or manager can reopen it to have its labels changed",
    TaskState.REJECTED: "it was rejected and went back to the people who labelled it",
}


def task_start_refusal(*, image: Image, user) -> Conflict | None:
    """Why the user may not start an annotation of the image now (the 409 that starting would answer), or None.
    Reads only: the editor asks this when an image is opened, and opening claims nothing."""
    if image.is_gold:
        return None
    project = image.project
    if image.state not in (TaskState.NEW, TaskState.IN_PROGRESS):
        return Conflict(f"There is nothing to label in this image: {_CLOSED_BECAUSE.get(image.state, image.state)}.",
                        code="task_closed", extra={"state": image.state})
    if not _startable_images(project, user).filter(pk=image.pk).exists():
        return Conflict(f"This image already has its {project.annotators_per_image} annotator(s); press Next task "
                        f"for another one.", code="task_full",
                        extra={"annotators_per_image": project.annotators_per_image})
    return None


def task_open(*, image: Image, user) -> tuple[Annotation, bool]:
    """Start (or resume) the user's annotation of an image they chose themselves (the image grid): their own if they
    have one; a new one only while the image is open and has a place among its k annotators (or is gold). The editor
    calls this at the user's first edit, not when the image is merely opened: starting claims a place."""
    from labeling.services.labelmaps import annotation_get_or_create

    existing = Annotation.objects.filter(image=image, annotator=user).first()
    if existing is not None:
        return existing, False
    with transaction.atomic():
        image = _locked_image(image.pk)  # serialises claims of this image (as next_task does); re-check under it
        refusal = task_start_refusal(image=image, user=user)
        if refusal is not None:
            existing = Annotation.objects.filter(image=image, annotator=user).first()
            if existing is not None:  # started meanwhile by the same user (another tab)
                return existing, False
            raise refusal
        return annotation_get_or_create(image=image, user=user)


def next_task(*, project: Project, user) -> NextTask:
    """The next image for this annotator, by priority: their rejected work, their unfinished drafts, images
    assigned to them, pre-labelled images, then the rest (oldest first within each; with the project's
    `next_task_order` "uncertainty", the images a trained model is least sure of first). Starting a new image
    opens the user's annotation of it (a copy of the pre-label, if any). Never an image the user already
    labelled, nor one that already has its k annotators."""
    from labeling.services.labelmaps import annotation_get_or_create

    mine = Annotation.objects.filter(image__project=project, annotator=user).select_related("image")
    unfinished = Q(image__state__in=OPEN_TASK_STATES) | Q(image__is_gold=True)
    for state, why in ((AnnotationState.REJECTED, "rejected"), (AnnotationState.DRAFT, "draft")):
        annotation = mine.filter(unfinished, state=state).order_by("updated_at", "id").first()
        if annotation is not None:
            return NextTask(image=annotation.image, annotation=annotation, why=why)

    if _gold_due(project, user):
        gold = _next_gold(project, user)
        if gold is not None:
            annotation, _ = annotation_get_or_create(image=gold, user=user)
            # Reported like any other task: the annotator must not be able to tell a gold image apart.
            return NextTask(image=gold, annotation=annotation, why="unlabelled")

    tiers = (
        ("assigned", Q(assigned_to_me=True)),
        ("prelabelled", Q(assigned_to_me=False, prelabelled=True)),
        ("unlabelled", Q(assigned_to_me=False, prelabelled=False)),
    )
    # Active learning: within a tier, the image a trained model is least sure of first (unscored images last).
    order = ([F("uncertainty").desc(nulls_last=True), "id"] if project.next_task_order == NextTaskOrder.UNCERTAINTY
             else ["id"])
    for why, condition in tiers:
        # A few tries per tier: a candidate another annotator claims meanwhile is skipped, not handed out twice.
        for _attempt in range(5):
            image_id = _startable_images(project, user).filter(condition).order_by(*order).values_list(
                "pk", flat=True).first()
            if image_id is None:
                break
            with transaction.atomic():
                _locked_image(image_id)  # serialises claims of this image; then re-check under the lock
                if not _startable_images(project, user).filter(pk=image_id).exists():
                    continue
                annotation, _ = annotation_get_or_create(image=Image.objects.get(pk=image_id), user=user)
            return NextTask(image=Image.objects.get(pk=image_id), annotation=annotation, why=why)
    return NextTask(image=None, annotation=None, why="none")


def next_review(*, project: Project, user) -> Image | None:
    """The submitted image waiting longest whose submitted work is not all the reviewer's own."""
    others_submitted = Annotation.objects.filter(
        image=OuterRef("pk"), annotator__isnull=False, state=AnnotationState.SUBMITTED).exclude(annotator=user)
    return (
        Image.objects.filter(project=project, state=TaskState.SUBMITTED)
        .filter(Exists(others_submitted))
        .annotate(waiting_since=_earliest_submission())
        .order_by("waiting_since", "id")
        .first()
    )


def _earliest_submission():
    return Min("annotations__submitted_at", filter=Q(annotations__state=AnnotationState.SUBMITTED))


