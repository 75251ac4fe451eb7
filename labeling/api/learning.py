"""Learning from approved labels: start a training, read an image's uncertainty map."""

from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response

from labeling import permissions as scopes
from labeling.api.base import ScopedAPIView
from labeling.api.images import _stored_file_response
from labeling.api.jobs import JobSerializer
from labeling.api.trained_models import TrainedModelSerializer
from labeling.models import Image, Project
from labeling.services.learning import LEARNERS, training_start
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
