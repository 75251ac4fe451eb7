from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from labeling import permissions as scopes
from labeling.api.base import ScopedAPIView
from labeling.api.jobs import JobSerializer
from labeling.models import TaskState, TrainedModel
from labeling.services.trained_models import prelabel_start, trained_model_create, trained_model_delete


class TrainedModelSerializer(serializers.ModelSerializer):
    output = serializers.SerializerMethodField(help_text="semantic_logits, instance_masks or panoptic (uploaded); "
                                                         "class_probabilities (a trained pixel classifier)")
    classes = serializers.SerializerMethodField(help_text="Project class names the model writes, in index order.")
    created_by_name = serializers.CharField(source="created_by.username", default=None, read_only=True,
                                            allow_null=True)

    class Meta:
        model = TrainedModel
        fields = ["id", "project", "name", "format", "origin", "output", "classes", "manifest", "training", "sha256",
                  "size_bytes", "created_by", "created_by_name", "created_at"]
        extra_kwargs = {"training": {"help_text": "A trained model's record (empty when uploaded): learner, params, "
                                                  "split, train_image_ids, val_image_ids, approved_image_ids, "
                                                  "rounds, val (images, miou, pixel_accuracy, per_class), job, "
                                                  "seconds."}}
        read_only_fields = fields

    def get_output(self, obj) -> str:
        return str(obj.manifest.get("output", ""))

    def get_classes(self, obj) -> list[str]:
        class_map = obj.manifest.get("class_map", {})
        names = [class_map[k] for k in sorted(class_map, key=int)]
        return list(dict.fromkeys(names))


class TrainedModelUploadSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="A TorchScript archive (torch.jit.save) or an ONNX model. Pickles "
                                           "(torch.save checkpoints) are refused.")
    name = serializers.CharField(max_length=200)
    manifest = serializers.CharField(help_text="The manifest as JSON text (see the README: input_size, normalize, "
                                               "output, class_map, ...).")


class PrelabelInputSerializer(serializers.Serializer):
    image_ids = serializers.ListField(child=serializers.IntegerField(min_value=1, max_value=2**63 - 1),
                                      required=False, max_length=100_000)
    all = serializers.BooleanField(required=False, default=False, help_text="Every image of the project.")
    state = serializers.ChoiceField(choices=TaskState.choices, required=False, allow_blank=True,
                                    help_text="With all: only images in this task state.")

    def validate(self, attrs):
        if not attrs.get("all") and not attrs.get("image_ids"):
            raise serializers.ValidationError("give image_ids or all: true")
        if attrs.get("all") and attrs.get("image_ids"):
            raise serializers.ValidationError("give either image_ids or all: true, not both")
        return attrs


class PrelabelResponseSerializer(serializers.Serializer):
    job = JobSerializer()


class ProjectModelsView(ScopedAPIView):
    model = TrainedModel
    serializer_class = TrainedModelSerializer
    pagination_class = None
    scopes = {"GET": scopes.MODEL_VIEW, "POST": scopes.MODEL_MANAGE}

    def get(self, request, project_pk):
        project = self.get_project()
        models = TrainedModel.objects.filter(project=project).select_related("created_by").order_by("id")
        return Response(TrainedModelSerializer(models, many=True).data)

    @extend_schema(request={"multipart/form-data": TrainedModelUploadSerializer},
                   responses={201: TrainedModelSerializer})
    def post(self, request, project_pk):
        """Upload a model: the file is checked (TorchScript or ONNX only), the manifest validated against the
        project's classes and the model run once on a blank input; any problem is a 400 saying which."""
        project = self.get_project()
        data = TrainedModelUploadSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        trained_model = trained_model_create(
            project=project, name=data.validated_data["name"], upload=data.validated_data["file"],
            manifest=data.validated_data["manifest"], user=request.user,
        )
        return Response(TrainedModelSerializer(trained_model).data, status=status.HTTP_201_CREATED)


class TrainedModelDetailView(ScopedAPIView):
    model = TrainedModel
    serializer_class = TrainedModelSerializer
    scopes = {"GET": scopes.MODEL_VIEW, "DELETE": scopes.MODEL_MANAGE}

    def get_queryset(self):
        return super().get_queryset().select_related("project", "created_by")

    def get(self, request, pk):
        return Response(TrainedModelSerializer(self.get_object()).data)

    def delete(self, request, pk):
        trained_model_delete(trained_model=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


class TrainedModelPrelabelView(ScopedAPIView):
    model = TrainedModel
    serializer_class = PrelabelInputSerializer
    scopes = {"POST": scopes.MODEL_MANAGE}

    def get_queryset(self):
        return super().get_queryset().select_related("project")

    @extend_schema(request=PrelabelInputSerializer, responses={202: PrelabelResponseSerializer})
    def post(self, request, pk):
        """Run the model as a pre-label job over the chosen images; progress is at /api/jobs/{id}/."""
        trained_model = self.get_object()
        data = PrelabelInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        job = prelabel_start(
            trained_model=trained_model, image_ids=data.validated_data.get("image_ids"),
            all_images=data.validated_data["all"], state=data.validated_data.get("state") or None, user=request.user,
        )
        job.refresh_from_db()
        return Response({"job": JobSerializer(job).data}, status=status.HTTP_202_ACCEPTED)
