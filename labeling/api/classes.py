from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from labeling import permissions as scopes
from labeling.api.base import ScopedAPIView
from labeling.models import ClassKind, LabelClass
from labeling.services.projects import label_class_create, label_class_delete, label_class_update


class LabelClassSerializer(serializers.ModelSerializer):
    class Meta:
        model = LabelClass
        fields = ["id", "project", "name", "color", "kind", "order", "number", "attribute_schema"]
        read_only_fields = fields


class LabelClassInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    color = serializers.CharField(max_length=7)
    kind = serializers.ChoiceField(choices=ClassKind.choices)
    order = serializers.IntegerField(min_value=0, max_value=2**31 - 1, required=False)
    attribute_schema = serializers.JSONField(required=False)


class ProjectClassesView(ScopedAPIView):
    model = LabelClass
    serializer_class = LabelClassSerializer
    pagination_class = None
    scopes = {"GET": scopes.CLASS_VIEW, "POST": scopes.CLASS_EDIT}

    def get(self, request, project_pk):
        project = self.get_project()
        return Response(LabelClassSerializer(project.classes.all(), many=True).data)

    @extend_schema(request=LabelClassInputSerializer, responses={201: LabelClassSerializer})
    def post(self, request, project_pk):
        project = self.get_project()
        data = LabelClassInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        label_class = label_class_create(project=project, **data.validated_data)
        return Response(LabelClassSerializer(label_class).data, status=status.HTTP_201_CREATED)


class LabelClassDetailView(ScopedAPIView):
    model = LabelClass
    serializer_class = LabelClassSerializer
    scopes = {"GET": scopes.CLASS_VIEW, "PATCH": scopes.CLASS_EDIT, "DELETE": scopes.CLASS_EDIT}

    def get(self, request, pk):
        return Response(LabelClassSerializer(self.get_object()).data)

    @extend_schema(request=LabelClassInputSerializer, responses=LabelClassSerializer)
    def patch(self, request, pk):
        label_class = self.get_object()
        data = LabelClassInputSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        return Response(LabelClassSerializer(label_class_update(label_class=label_class,
                                                                data=data.validated_data)).data)

    def delete(self, request, pk):
        label_class_delete(label_class=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)
