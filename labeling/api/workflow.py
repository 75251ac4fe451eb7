"""The task flow over HTTP: submit, approve, reject, reopen, the transition history, assignments, "next task" for
annotators and "next review" for reviewers, per-segment decisions and pinned review comments. Views are thin:
the rules are in `labeling.services.tasks` and `labeling.services.reviews`."""

import io

import numpy as np
from django.conf import settings
from django.http import HttpResponse
from drf_spectacular.utils import extend_schema
from PIL import Image as PILImage
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response

from labeling import permissions as scopes
from labeling.api.annotations import AnnotationSerializer, SegmentSerializer
from labeling.api.base import ScopedAPIView
from labeling.api.images import ImageSerializer
from labeling.dashboard import project_dashboard
from labeling.models import Annotation, Image, ReviewComment, SegmentReview, TaskAssignment, TaskTransition
from labeling.selectors import image_agreement, image_disagreement, image_prelabel, task_visibility
from labeling.services.reviews import comment_create, comment_set_resolved, segments_review
from labeling.services.tasks import (
    annotation_submit,
    image_approve,
    image_approve_merge,
    image_reject,
    image_reopen,
    image_set_gold,
    next_review,
    next_task,
    task_start_refusal,
    tasks_assign,
)


class TransitionSerializer(serializers.ModelSerializer):
    actor_name = serializers.CharField(source="actor.username", default=None, read_only=True)
    subject = serializers.SerializerMethodField(help_text="image, or annotation (then `annotation` says which)")

    class Meta:
        model = TaskTransition
        fields = ["id", "image", "annotation", "subject", "actor", "actor_name", "from_state", "to_state", "reason",
                  "created_at"]
        read_only_fields = fields

    def get_subject(self, transition) -> str:
        return "annotation" if transition.annotation_id else "image"


class CommentSerializer(serializers.ModelSerializer):
    author_name = serializers.CharField(source="author.username", default=None, read_only=True)
    resolved_by_name = serializers.CharField(source="resolved_by.username", default=None, read_only=True)
    resolved = serializers.SerializerMethodField()

    class Meta:
        model = ReviewComment
        fields = ["id", "annotation", "author", "author_name", "body", "x", "y", "segment_id", "created_at",
                  "resolved", "resolved_at", "resolved_by", "resolved_by_name"]
        read_only_fields = fields

    def get_resolved(self, comment) -> bool:
        return comment.resolved_at is not None


class CommentInputSerializer(serializers.Serializer):
    body = serializers.CharField(max_length=5000)
    x = serializers.FloatField(required=False, allow_null=True, default=None, help_text="image pixels")
    y = serializers.FloatField(required=False, allow_null=True, default=None)
    segment_id = serializers.IntegerField(required=False, allow_null=True, default=None, min_value=1,
                                          max_value=2**32 - 1)


class CommentPatchSerializer(serializers.Serializer):
    resolved = serializers.BooleanField()


class ApproveInputSerializer(serializers.Serializer):
    annotation = serializers.IntegerField(required=False, allow_null=True, default=None, min_value=1,
                                          help_text="which submitted annotation; needed when several were")
    merge = serializers.BooleanField(required=False, default=False,
                                     help_text="approve the per-pixel majority of the submitted annotations instead")
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=5000)


class RejectInputSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=5000)
    annotations = serializers.ListField(child=serializers.IntegerField(min_value=1), required=False,
                                        allow_null=True, default=None, max_length=100,
                                        help_text="submitted annotations to reject; default all")


class ReasonInputSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=5000)


class AssignInputSerializer(serializers.Serializer):
    image_ids = serializers.ListField(child=serializers.IntegerField(min_value=1), min_length=1, max_length=10000)
    user_ids = serializers.ListField(child=serializers.IntegerField(min_value=1), min_length=1, max_length=100)
    unassign = serializers.BooleanField(required=False, default=False)


class AssignOutputSerializer(serializers.Serializer):
    assigned = serializers.IntegerField()
    unassigned = serializers.IntegerField()


class AssignmentSerializer(serializers.ModelSerializer):
    username = serializers.CharField(source="user.username", read_only=True)

    class Meta:
        model = TaskAssignment
        fields = ["id", "image", "user", "username", "assigned_by", "created_at"]
        read_only_fields = fields


class SegmentReviewInputSerializer(serializers.Serializer):
    segment_ids = serializers.ListField(child=serializers.IntegerField(min_value=1, max_value=2**32 - 1),
                                        min_length=1, max_length=100_000)
    review_state = serializers.ChoiceField(choices=SegmentReview.choices)


class NextTaskSerializer(serializers.Serializer):
    image = ImageSerializer(allow_null=True)
    annotation = AnnotationSerializer(allow_null=True)
    why = serializers.ChoiceField(choices=["rejected", "draft", "assigned", "prelabelled", "unlabelled", "none"])


class NextReviewSerializer(serializers.Serializer):
    image = ImageSerializer(allow_null=True)


class AgreementPairSerializer(serializers.Serializer):
    a = serializers.IntegerField(help_text="annotation id")
    b = serializers.IntegerField(help_text="annotation id")
    metric = serializers.CharField()
    score = serializers.FloatField()
    sq = serializers.FloatField(required=False, help_text="panoptic only")
    rq = serializers.FloatField(required=False, help_text="panoptic only")
    per_class = serializers.DictField(child=serializers.DictField(), help_text="class id -> scores")


class AgreementAnnotationSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    annotator_name = serializers.CharField()
    state = serializers.CharField()


class AgreementSerializer(serializers.Serializer):
    metric = serializers.ChoiceField(choices=["miou", "matched_iou", "pq"])
    annotations = AgreementAnnotationSerializer(many=True)
    pairs = AgreementPairSerializer(many=True)
    mean = serializers.FloatField(allow_null=True)
    sample_step = serializers.IntegerField(help_text="1: every pixel compared; n: every n-th pixel of every n-th row "
                                                     "(images over 16 MP)")


def _image_data(request, image: Image | None) -> dict | None:
    """The image as the caller may see it (gold images look in progress to annotators)."""
    if image is None:
        return None
    visibility = task_visibility(user=request.user, project=image.project)
    return ImageSerializer(image, context={"visibility": visibility}).data


class _ImageAction(ScopedAPIView):
    model = Image
    serializer_class = ImageSerializer

    def get_queryset(self):
        return super().get_queryset().select_related("project")


class ImageApproveView(_ImageAction):
    scopes = {"POST": scopes.REVIEW_DECIDE}

    @extend_schema(request=ApproveInputSerializer, responses=ImageSerializer)
    def post(self, request, pk):
        data = ApproveInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        if data.validated_data["merge"]:
            image = image_approve_merge(image=self.get_object(), user=request.user,
                                        reason=data.validated_data["reason"])
        else:
            image = image_approve(image=self.get_object(), user=request.user,
                                  annotation_id=data.validated_data["annotation"], reason=data.validated_data["reason"])
        return Response(_image_data(request, image))


class ImageRejectView(_ImageAction):
    scopes = {"POST": scopes.REVIEW_DECIDE}

    @extend_schema(request=RejectInputSerializer, responses=ImageSerializer)
    def post(self, request, pk):
        data = RejectInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        image = image_reject(image=self.get_object(), user=request.user, reason=data.validated_data["reason"],
                             annotation_ids=data.validated_data["annotations"])
        return Response(_image_data(request, image))


class ImageReopenView(_ImageAction):
    scopes = {"POST": scopes.REVIEW_DECIDE}

    @extend_schema(request=ReasonInputSerializer, responses=ImageSerializer)
    def post(self, request, pk):
        data = ReasonInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        image = image_reopen(image=self.get_object(), user=request.user, reason=data.validated_data["reason"])
        return Response(_image_data(request, image))


class ImageTransitionsView(_ImageAction):
    serializer_class = TransitionSerializer
    pagination_class = None
    scopes = {"GET": scopes.IMAGE_VIEW}

    def get(self, request, pk):
        """Every state change of the image's task and of its annotations, oldest first. Managers and reviewers get
        all of them, annotators only those of their own annotations."""
        image = self.get_object()
        transitions = task_visibility(user=request.user, project=image.project).transitions(image=image)
        return Response(TransitionSerializer(transitions, many=True).data)


class TaskRefusalSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="task_closed, task_full or not_a_labeller")
    message = serializers.CharField()
    extra = serializers.DictField()


class ImageTaskSerializer(serializers.Serializer):
    annotation = AnnotationSerializer(allow_null=True, help_text="the caller's own annotation of the image, if any")
    can_start = serializers.BooleanField(help_text="whether POST images/{id}/annotations/ would start one now")
    refusal = TaskRefusalSerializer(allow_null=True, help_text="why not: what starting would answer")
    prelabel = serializers.IntegerField(allow_null=True, help_text="the pre-label annotation a start copies, if any")
    tile_size = serializers.IntegerField(help_text="the tile size of a new annotation")


class ImageTaskView(_ImageAction):
    serializer_class = ImageTaskSerializer
    scopes = {"GET": scopes.IMAGE_VIEW}

    def get(self, request, pk):
        """What opening the image gives the caller, without claiming it: their own annotation if they have one, else
        whether they may start one and the pre-label it would start from. Starting (POST images/{id}/annotations/,
        sent by the editor at the first edit) is what takes a place among the image's annotators."""
        image = self.get_object()
        own = (Annotation.objects.filter(image=image, annotator=request.user)
               .select_related("annotator", "image").first())
        refusal = None
        if own is None:
            if not scopes.can(request.user, scopes.ANNOTATION_CREATE, image):
                refusal = {"code": "not_a_labeller", "message": "Your role in this project reviews images; it does "
                           "not label them.", "extra": {}}
            elif (conflict := task_start_refusal(image=image, user=request.user)) is not None:
                refusal = {"code": conflict.code, "message": conflict.message, "extra": conflict.extra}
        prelabel = image_prelabel(image=image) if own is None and refusal is None else None
        return Response({
            "annotation": AnnotationSerializer(own).data if own else None,
            "can_start": own is None and refusal is None,
            "refusal": refusal,
            "prelabel": prelabel.pk if prelabel else None,
            "tile_size": settings.ANNOTATOR["LABELMAP_TILE_SIZE"],
        })


class GoldInputSerializer(serializers.Serializer):
    gold = serializers.BooleanField()


class ImageDisagreementView(_ImageAction):
    scopes = {"GET": scopes.REVIEW_DECIDE}

    @extend_schema(responses={(200, "image/png"): bytes})
    def get(self, request, pk):
        """Where the annotators disagree: a magenta PNG whose opacity is the share of annotators outside the per-pixel
        majority (at most 2048 px a side; stretch it over the image)."""
        heat = image_disagreement(image=self.get_object())
        if heat is None:
            raise exceptions.NotFound("fewer than two annotations: nothing to compare")
        rgba = np.zeros((*heat.shape, 4), dtype=np.uint8)
        rgba[..., 0] = 230  # magenta: apart from the usual class colours
        rgba[..., 1] = 0
        rgba[..., 2] = 230
        rgba[..., 3] = np.round(heat * 220).astype(np.uint8)
        buf = io.BytesIO()
        PILImage.fromarray(rgba, mode="RGBA").save(buf, format="PNG", optimize=False)
        response = HttpResponse(buf.getvalue(), content_type="image/png")
        response["Cache-Control"] = "no-store"
        return response


class ImageGoldView(_ImageAction):
    scopes = {"POST": scopes.TASK_ASSIGN}

    @extend_schema(request=GoldInputSerializer, responses=ImageSerializer)
    def post(self, request, pk):
        """Make an approved image a gold image (its approved annotation is the reference), or not."""
        data = GoldInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        image = image_set_gold(image=self.get_object(), gold=data.validated_data["gold"])
        return Response(_image_data(request, image))


class ImageAgreementView(_ImageAction):
    serializer_class = AgreementSerializer
    scopes = {"GET": scopes.REVIEW_DECIDE}

    def get(self, request, pk):
        """Agreement between every two submitted annotations of the image (consensus), from the label maps."""
        return Response(image_agreement(image=self.get_object()))


class AnnotationSubmitView(ScopedAPIView):
    model = Annotation
    serializer_class = AnnotationSerializer
    scopes = {"POST": scopes.TASK_SUBMIT}

    def get_queryset(self):
        return super().get_queryset().select_related("image__project", "annotator")

    @extend_schema(request=None, responses=AnnotationSerializer)
    def post(self, request, pk):
        """Submit one's own annotation for review (the image is submitted once all its annotators did)."""
        annotation = annotation_submit(annotation=self.get_object(), user=request.user)
        annotation = self.get_queryset().get(pk=annotation.pk)
        return Response(AnnotationSerializer(annotation).data)


class AnnotationSegmentReviewsView(ScopedAPIView):
    model = Annotation
    serializer_class = SegmentSerializer
    pagination_class = None
    scopes = {"POST": scopes.REVIEW_DECIDE}

    def get_queryset(self):
        return super().get_queryset().select_related("image__project")

    @extend_schema(request=SegmentReviewInputSerializer, responses=SegmentSerializer(many=True))
    def post(self, request, pk):
        """Accept, reject or reset segments of a submitted annotation."""
        data = SegmentReviewInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        rows = segments_review(annotation=self.get_object(), user=request.user, **data.validated_data)
        return Response(SegmentSerializer(rows, many=True).data)


class AnnotationCommentsView(ScopedAPIView):
    model = Annotation
    serializer_class = CommentSerializer
    pagination_class = None
    scopes = {"GET": scopes.ANNOTATION_VIEW, "POST": scopes.REVIEW_COMMENT}

    def get_queryset(self):
        return super().get_queryset().select_related("image__project")

    def get(self, request, pk):
        annotation = self.get_object()
        comments = ReviewComment.objects.filter(annotation=annotation).select_related("author", "resolved_by")
        return Response(CommentSerializer(comments.order_by("id"), many=True).data)

    @extend_schema(request=CommentInputSerializer, responses={201: CommentSerializer})
    def post(self, request, pk):
        """Pin a review comment to a point (image pixels) and/or a segment."""
        data = CommentInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        comment = comment_create(annotation=self.get_object(), user=request.user, **data.validated_data)
        return Response(CommentSerializer(comment).data, status=status.HTTP_201_CREATED)


class CommentDetailView(ScopedAPIView):
    model = ReviewComment
    serializer_class = CommentSerializer
    scopes = {"PATCH": scopes.COMMENT_RESOLVE}

    def get_queryset(self):
        return super().get_queryset().select_related("annotation__image__project", "author", "resolved_by")

    @extend_schema(request=CommentPatchSerializer, responses=CommentSerializer)
    def patch(self, request, pk):
        """Resolve or reopen a comment."""
        data = CommentPatchSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        comment = comment_set_resolved(comment=self.get_object(), user=request.user,
                                       resolved=data.validated_data["resolved"])
        return Response(CommentSerializer(comment).data)


class ProjectAssignmentsView(ScopedAPIView):
    model = TaskAssignment
    serializer_class = AssignmentSerializer
    scopes = {"GET": scopes.IMAGE_VIEW, "POST": scopes.TASK_ASSIGN}

    def get(self, request, project_pk):
        project = self.get_project()  # annotators (no task:oversee) get only their own assignments
        assignments = task_visibility(user=request.user, project=project).assignments()
        image = request.query_params.get("image")
        if image:
            if not image.isdigit() or len(image) > 18:
                raise exceptions.ValidationError({"image": "must be an image id"})
            assignments = assignments.filter(image_id=int(image))
        page = self.paginate_queryset(assignments)
        return self.get_paginated_response(AssignmentSerializer(page, many=True).data)

    @extend_schema(request=AssignInputSerializer, responses=AssignOutputSerializer)
    def post(self, request, project_pk):
        """Assign (or unassign) images in bulk."""
        project = self.get_project()
        data = AssignInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        result = tasks_assign(project=project, by=request.user, **data.validated_data)
        return Response(vars(result))


class ProjectNextTaskView(ScopedAPIView):
    model = Image
    serializer_class = NextTaskSerializer
    scopes = {"POST": scopes.ANNOTATION_CREATE}

    @extend_schema(request=None, responses=NextTaskSerializer)
    def post(self, request, project_pk):
        """The caller's next image to label, opened for them; `image` is null when nothing is left."""
        task = next_task(project=self.get_project(), user=request.user)
        return Response({
            "image": _image_data(request, task.image),
            "annotation": AnnotationSerializer(task.annotation).data if task.annotation else None,
            "why": task.why,
        })


class ProgressSerializer(serializers.Serializer):
    days = serializers.ListField(child=serializers.DateField())
    states = serializers.DictField(child=serializers.ListField(child=serializers.IntegerField()),
                                   help_text="state -> images in it at the end of each day")


class ClassBalanceSerializer(serializers.Serializer):
    class_id = serializers.IntegerField()
    name = serializers.CharField()
    color = serializers.CharField()
    kind = serializers.CharField()
    approved_pixels = serializers.IntegerField()
    approved_segments = serializers.IntegerField()
    all_pixels = serializers.IntegerField()
    all_segments = serializers.IntegerField()


class AnnotatorStatsSerializer(serializers.Serializer):
    user_id = serializers.IntegerField()
    username = serializers.CharField()
    submissions = serializers.IntegerField()
    per_day = serializers.DictField(child=serializers.IntegerField(), help_text="day -> submissions")
    approved = serializers.IntegerField()
    rejected = serializers.IntegerField()
    rejection_rate = serializers.FloatField(allow_null=True)
    gold_tasks = serializers.IntegerField()
    gold_score = serializers.FloatField(allow_null=True)


class ScoreDistributionSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    histogram = serializers.ListField(child=serializers.IntegerField())
    mean = serializers.FloatField(allow_null=True)


class DashboardSerializer(serializers.Serializer):
    images = serializers.IntegerField()
    states = serializers.DictField(child=serializers.IntegerField())
    progress = ProgressSerializer()
    classes = ClassBalanceSerializer(many=True)
    annotators = AnnotatorStatsSerializer(many=True)
    agreement = ScoreDistributionSerializer()
    gold = ScoreDistributionSerializer()
    score_bins = serializers.IntegerField()


class ProjectDashboardView(ScopedAPIView):
    model = Image
    serializer_class = DashboardSerializer
    scopes = {"GET": scopes.DASHBOARD_VIEW}

    @extend_schema(responses=DashboardSerializer)
    def get(self, request, project_pk):
        """Progress by state per day, class balance, per-annotator throughput / rejection rate / gold score, and
        histograms (10 bins over 0..1) of consensus agreement and gold scores."""
        return Response(project_dashboard(project=self.get_project()))


class ProjectNextReviewView(ScopedAPIView):
    model = Image
    serializer_class = NextReviewSerializer
    scopes = {"POST": scopes.REVIEW_DECIDE}

    @extend_schema(request=None, responses=NextReviewSerializer)
    def post(self, request, project_pk):
        """The submitted image waiting longest that the caller may review; `image` is null when none is."""
        image = next_review(project=self.get_project(), user=request.user)
        return Response({"image": _image_data(request, image)})
