"""Learning from approved labels: start a training, read an image's uncertainty map, check the approved labels
(the label-error finder) and list the images it flagged."""

from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response

from labeling import permissions as scopes
from labeling.api.base import ScopedAPIView
from labeling.api.images import _stored_file_response
from labeling.api.jobs import JobSerializer
from labeling.api.trained_models import TrainedModelSerializer
from labeling.models import Image, LabelClass, Project, TrainedModel
from labeling.selectors import label_errors
from labeling.services.learning import LABEL_CHECK_CONFIDENCE, LEARNERS, label_check_start, training_start
from labeling.services.uncertainty import image_uncertainty_map


class TrainInputSerializer(serializers.Serializer):
    learner = serializers.ChoiceField(choices=LEARNERS, default="pixel_classifier")
    params = serializers.DictField(
        required=False, default=dict,
        help_text="Hyper-parameters, all optional: max_side (512), samples_per_image (2000), "
                  "max_samples_per_class (50000), n_estimators (32), max_depth (12), seed (0), val_share (0.2).")


class TrainResponseSerializer(serializers.Serializer):
    job = JobSerializer(help_text="The training job (an already queued or running one of the project, if any).")
    model = TrainedModelSerializer(
        allow_null=True,
        help_text="Always null here: the model is registered when the job succeeds, and the job's "
                  "result.trained_model names it then.")


class ProjectTrainView(ScopedAPIView):
    model = Project
    serializer_class = TrainInputSerializer
    scopes = {"POST": scopes.MODEL_TRAIN}

    @extend_schema(request=TrainInputSerializer, responses={202: TrainResponseSerializer})
    def post(self, request, project_pk):
        """Train a model on the project's approved labels (a job on the GPU queue; progress at /api/jobs/{id}/).
        One training per project at a time: while one is queued or running, this answers that job."""
        project = self.get_project()
        data = TrainInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        job = training_start(project=project, learner=data.validated_data["learner"],
                             params=data.validated_data["params"], user=request.user)
        job.refresh_from_db()
        return Response({"job": JobSerializer(job).data, "model": None}, status=status.HTTP_202_ACCEPTED)


class ImageUncertaintyView(ScopedAPIView):
    model = Image
    scopes = {"GET": scopes.IMAGE_VIEW}

    @extend_schema(responses={(200, "image/png"): bytes})
    def get(self, request, pk):
        """The image's uncertainty map: an 8-bit greyscale PNG at the model's working resolution, each pixel
        round(255 x (1 - top class probability)) under the latest trained model that pre-labelled it. 404 when
        no trained model has scored the image."""
        name = image_uncertainty_map(image=self.get_object())
        if name is None:
            raise exceptions.NotFound("no trained model has scored this image yet")
        # Replaced whenever another trained model scores the image: kept only until then (revalidated).
        response = _stored_file_response(name, cache_seconds=0, content_type="image/png")
        response["Cache-Control"] = "private, no-cache"
        return response


class LabelCheckInputSerializer(serializers.Serializer):
    trained_model = serializers.IntegerField(required=False, allow_null=True, default=None,
                                             help_text="A trained model of the project (default: the best one).")
    confidence = serializers.FloatField(
        required=False, default=LABEL_CHECK_CONFIDENCE, min_value=0.5, max_value=1.0,
        help_text="A pixel counts when the model's top class probability is at least this.")


class LabelCheckResponseSerializer(serializers.Serializer):
    job = JobSerializer(help_text="The check (an already queued or running one of the project, if any).")


class ProjectLabelCheckView(ScopedAPIView):
    model = Project
    serializer_class = LabelCheckInputSerializer
    scopes = {"POST": scopes.LABEL_CHECK}

    @extend_schema(request=LabelCheckInputSerializer, responses={202: LabelCheckResponseSerializer})
    def post(self, request, project_pk):
        """Check the approved labels with a trained model (a job on the GPU queue; no labels are written): each
        approved segment is scored by 1 - IoU with the model's confident prediction of its class. The list is at
        /api/projects/{id}/label-errors/."""
        project = self.get_project()
        data = LabelCheckInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        model_id = data.validated_data["trained_model"]
        trained_model = None
        if model_id is not None:
            trained_model = TrainedModel.objects.filter(pk=model_id, project=project).first()
            if trained_model is None:
                raise exceptions.ValidationError({"trained_model": "no such model in this project"})
        job = label_check_start(project=project, trained_model=trained_model,
                                confidence=data.validated_data["confidence"], user=request.user)
        job.refresh_from_db()
        return Response({"job": JobSerializer(job).data}, status=status.HTTP_202_ACCEPTED)


class LabelErrorSegmentSerializer(serializers.Serializer):
    segment_id = serializers.IntegerField()
    class_id = serializers.IntegerField(allow_null=True)
    class_name = serializers.CharField()
    instance = serializers.IntegerField(allow_null=True, help_text="Instance number; null for stuff.")
    iou = serializers.FloatField()
    disagreement = serializers.FloatField(help_text="1 - iou")
    confident_share = serializers.FloatField(help_text="Share of the segment where the model was confident.")


class LabelErrorSerializer(serializers.Serializer):
    image_id = serializers.IntegerField()
    name = serializers.CharField()
    score = serializers.FloatField(help_text="The worst segment's disagreement (1 - IoU).")
    model = serializers.IntegerField(allow_null=True)
    model_name = serializers.CharField()
    segments = LabelErrorSegmentSerializer(many=True, help_text="Judged segments, worst first (at most 5).")


class LabelErrorsQuerySerializer(serializers.Serializer):
    limit = serializers.IntegerField(required=False, default=50, min_value=1, max_value=500)
    min_score = serializers.FloatField(required=False, default=0.0, min_value=0.0, max_value=1.0,
                                       help_text="Only images whose worst segment disagrees at least this much.")


class ProjectLabelErrorsView(ScopedAPIView):
    model = Image
    serializer_class = LabelErrorSerializer
    pagination_class = None  # a short ranked list (?limit=), not pages
    scopes = {"GET": scopes.DASHBOARD_VIEW}

    @extend_schema(parameters=[LabelErrorsQuerySerializer], responses=LabelErrorSerializer(many=True))
    def get(self, request, project_pk):
        """Approved images by the latest label check, the most likely label errors first: a review queue (open
        each with /app/images/{id}?review=1). Images whose approved annotation changed since are left out."""
        project = self.get_project()
        query = LabelErrorsQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        images = label_errors(project=project, limit=query.validated_data["limit"],
                              min_score=query.validated_data["min_score"])
        names = dict(LabelClass.objects.filter(project=project).values_list("id", "name"))
        rows = []
        for image in images:
            check = image.label_check
            rows.append({"image_id": image.pk, "name": image.original_name, "score": image.label_error_score,
                         "model": check.get("model"), "model_name": check.get("model_name", ""),
                         "segments": [{**s, "class_name": names.get(s.get("class_id"), "")}
                                      for s in check.get("segments", [])[:5]]})
        return Response(LabelErrorSerializer(rows, many=True).data)
