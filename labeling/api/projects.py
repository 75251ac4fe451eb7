from django.db.models import Count
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from labeling import permissions as scopes
from labeling.api.base import ScopedAPIView
from labeling.models import NextTaskOrder, Project, ProjectKind
from labeling.permissions import role_in
from labeling.services.projects import project_create, project_update
from labeling.services.stored_files import project_delete


class ProjectSerializer(serializers.ModelSerializer):
    role = serializers.SerializerMethodField()
    image_count = serializers.IntegerField(read_only=True, default=None)

    class Meta:
        model = Project
        fields = ["id", "name", "kind", "guidelines", "annotators_per_image", "gold_share", "retrain_every",
                  "prelabel_new", "next_task_order", "role", "image_count", "created_at", "updated_at"]
        read_only_fields = fields

    def get_role(self, project) -> str | None:
        return role_in(self.context["request"].user, project)


class ProjectInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    kind = serializers.ChoiceField(choices=ProjectKind.choices)
    guidelines = serializers.CharField(allow_blank=True, required=False, default="")
    annotators_per_image = serializers.IntegerField(
        min_value=1, max_value=20, required=False, default=1,
        help_text="Consensus: different annotators per image before review (1 = no consensus).")
    gold_share = serializers.FloatField(
        min_value=0, max_value=0.5, required=False, default=0.0,
        help_text="Share of each annotator's tasks that are gold images, handed out unseen.")
    retrain_every = serializers.IntegerField(
        min_value=0, max_value=100_000, required=False, default=0,
        help_text="Train a pixel classifier again after this many newly approved images (0 = off).")
    prelabel_new = serializers.BooleanField(
        required=False, default=False,
        help_text="After each training, pre-label the images nobody started (state new) with the best model.")
    next_task_order = serializers.ChoiceField(
        choices=NextTaskOrder.choices, required=False, default=NextTaskOrder.DEFAULT,
        help_text="Within each Next-task tier: oldest first (default) or the most uncertain image first.")


class ProjectListView(ScopedAPIView):
    model = Project
    serializer_class = ProjectSerializer
    scopes = {"GET": scopes.PROJECT_VIEW, "POST": None}

    def get_queryset(self):
        return super().get_queryset().annotate(image_count=Count("images")).order_by("-created_at", "-id")

    @extend_schema(operation_id="projects_list")
    def get(self, request):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(ProjectSerializer(page, many=True, context={"request": request}).data)

    @extend_schema(request=ProjectInputSerializer, responses={201: ProjectSerializer})
    def post(self, request):
        data = ProjectInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        project = project_create(user=request.user, **data.validated_data)
        return Response(ProjectSerializer(project, context={"request": request}).data, status=status.HTTP_201_CREATED)


class ProjectDetailView(ScopedAPIView):
    model = Project
    serializer_class = ProjectSerializer
    scopes = {"GET": scopes.PROJECT_VIEW, "PATCH": scopes.PROJECT_EDIT, "PUT": scopes.PROJECT_EDIT,
              "DELETE": scopes.PROJECT_DELETE}

    def get_queryset(self):
        return super().get_queryset().annotate(image_count=Count("images"))

    def get(self, request, pk):
        return Response(ProjectSerializer(self.get_object(), context={"request": request}).data)

    @extend_schema(request=ProjectInputSerializer, responses=ProjectSerializer)
    def patch(self, request, pk):
        project = self.get_object()
        data = ProjectInputSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        project = project_update(project=project, data=data.validated_data)
        return Response(ProjectSerializer(self.get_object(), context={"request": request}).data)

    @extend_schema(request=ProjectInputSerializer, responses=ProjectSerializer)
    def put(self, request, pk):
        project = self.get_object()
        data = ProjectInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        project_update(project=project, data=data.validated_data)
        return Response(ProjectSerializer(self.get_object(), context={"request": request}).data)

    def delete(self, request, pk):
        project_delete(project=self.get_object(), user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
