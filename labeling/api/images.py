import mimetypes

from django.core.files.storage import default_storage
from django.db.models import F
from django.http import FileResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response

from labeling import permissions as scopes
from labeling.api.base import ScopedAPIView
from labeling.api.jobs import JobSerializer
from labeling.models import Image, Split, TaskState
from labeling.selectors import TaskVisibility, task_visibility
from labeling.services.image_processing import images_reprocess
from labeling.services.images import images_upload, pyramid_tile_path
from labeling.services.stored_files import image_delete


class ImageSerializer(serializers.ModelSerializer):
    """Only managers and reviewers see which images are gold. To everyone else a gold image (handed to annotators
    unseen) looks like any task in progress."""

    # Pass `context={"visibility": task_visibility(user=..., project=...)}` (labeling.selectors); without it gold
    # images are hidden.
    is_gold = serializers.BooleanField(read_only=True, required=False,
                                       help_text="A gold image (managers and reviewers only)")

    class Meta:
        model = Image
        fields = [
            "id", "project", "original_name", "format", "width", "height", "size_bytes", "sha256", "split",
            "state", "approved_annotation", "is_gold", "pyramid_status", "pyramid_tile_size", "pyramid_format",
            "pyramid_levels", "uncertainty", "created_at",
        ]
        read_only_fields = fields

    def to_representation(self, image):
        data = super().to_representation(image)
        visibility = self.context.get("visibility") or TaskVisibility(user=None, project=image.project, oversees=False)
        data["state"], data["approved_annotation"], is_gold = visibility.image_state(image)
        if is_gold is None:
            data.pop("is_gold")
        return data


class ImagePatchSerializer(serializers.Serializer):
    split = serializers.ChoiceField(choices=Split.choices)


class UploadResultSerializer(serializers.Serializer):
    name = serializers.CharField()
    status = serializers.ChoiceField(choices=["accepted", "rejected", "duplicate"])
    code = serializers.CharField()
    message = serializers.CharField()
    image_id = serializers.IntegerField(allow_null=True)


class UploadResponseSerializer(serializers.Serializer):
    accepted = serializers.IntegerField()
    rejected = serializers.IntegerField()
    duplicates = serializers.IntegerField()
    results = UploadResultSerializer(many=True)
    job = JobSerializer(allow_null=True)
    processing_delayed = serializers.BooleanField(
        help_text="True when the task queue could not be reached: the images are stored and their processing "
                  "starts by itself once it is back.")
    message = serializers.CharField()


class UploadRequestSerializer(serializers.Serializer):
    files = serializers.ListField(child=serializers.FileField(), help_text="Images and ZIP archives of images.")


# The image list's orderings; the id breaks ties, and images without an uncertainty (no trained model scored
# them) come last in both directions.
IMAGE_ORDERINGS = {
    "id": ["id"],
    "-id": ["-id"],
    "uncertainty": [F("uncertainty").asc(nulls_last=True), "id"],
    "-uncertainty": [F("uncertainty").desc(nulls_last=True), "id"],
}


class ProjectImagesView(ScopedAPIView):
    model = Image
    serializer_class = ImageSerializer
    scopes = {"GET": scopes.IMAGE_VIEW, "POST": scopes.IMAGE_UPLOAD}

    @extend_schema(parameters=[
        OpenApiParameter("state", enum=TaskState.values), OpenApiParameter("split", enum=Split.values),
        OpenApiParameter("gold", bool, description="only gold images (managers and reviewers)"),
        OpenApiParameter("search", str, description="part of the file name"),
        OpenApiParameter("ordering", enum=list(IMAGE_ORDERINGS),
                         description="id (default, oldest first), -id, uncertainty or -uncertainty (most uncertain "
                                     "first); images no trained model scored come last either way"),
    ])
    def get(self, request, project_pk):
        project = self.get_project()
        visibility = task_visibility(user=request.user, project=project)
        state = request.query_params.get("state")
        if state and state not in TaskState.values:
            raise exceptions.ValidationError({"state": f"must be one of {', '.join(TaskState.values)}"})
        ordering = request.query_params.get("ordering") or "id"
        if ordering not in IMAGE_ORDERINGS:
            raise exceptions.ValidationError({"ordering": f"must be one of {', '.join(IMAGE_ORDERINGS)}"})
        images = visibility.images(Image.objects.filter(project=project).order_by(*IMAGE_ORDERINGS[ordering]),
                                   state=state, gold_only=request.query_params.get("gold") in ("1", "true"))
        split = request.query_params.get("split")
        if split is not None and "split" in request.query_params:
            if split not in Split.values:
                raise exceptions.ValidationError({"split": "must be one of train, val, test or empty"})
            images = images.filter(split=split)
        search = request.query_params.get("search")
        if search:
            images = images.filter(original_name__icontains=search[:200])
        page = self.paginate_queryset(images)
        return self.get_paginated_response(ImageSerializer(page, many=True, context={"visibility": visibility}).data)

    @extend_schema(request={"multipart/form-data": UploadRequestSerializer}, responses=UploadResponseSerializer)
    def post(self, request, project_pk):
        project = self.get_project()
        batch = images_upload(project=project, files=request.FILES.getlist("files"), user=request.user)
        counts = {"accepted": 0, "rejected": 0, "duplicate": 0}
        for result in batch.results:
            counts[result.status] += 1
        delayed = batch.job is not None and batch.job.dispatched_at is None
        body = {
            "accepted": counts["accepted"],
            "rejected": counts["rejected"],
            "duplicates": counts["duplicate"],
            "results": [vars(r) for r in batch.results],
            "job": JobSerializer(batch.job).data if batch.job else None,
            "processing_delayed": delayed,
            "message": ("the images are stored; the task queue is unreachable, so their processing starts by "
                        "itself when it is back" if delayed else ""),
        }
        return Response(body, status=status.HTTP_201_CREATED if counts["accepted"] else status.HTTP_200_OK)


def _visibility(request, image: Image) -> dict:
    return {"visibility": task_visibility(user=request.user, project=image.project)}


class ImageDetailView(ScopedAPIView):
    model = Image
    serializer_class = ImageSerializer
    scopes = {"GET": scopes.IMAGE_VIEW, "PATCH": scopes.IMAGE_EDIT, "DELETE": scopes.IMAGE_DELETE}

    def get(self, request, pk):
        image = self.get_object()
        return Response(ImageSerializer(image, context=_visibility(request, image)).data)

    @extend_schema(request=ImagePatchSerializer, responses=ImageSerializer)
    def patch(self, request, pk):
        image = self.get_object()
        data = ImagePatchSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        image.split = data.validated_data["split"]
        image.save(update_fields=["split"])
        return Response(ImageSerializer(image, context=_visibility(request, image)).data)

    def delete(self, request, pk):
        image_delete(image=self.get_object(), user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


def _stored_file_response(name: str, *, filename: str | None = None, cache_seconds: int = 3600,
                          content_type: str | None = None) -> FileResponse:
    if not name or not default_storage.exists(name):
        raise exceptions.NotFound("not built yet")
    content_type = content_type or mimetypes.guess_type(name)[0] or "application/octet-stream"
    response = FileResponse(default_storage.open(name, "rb"), content_type=content_type,
                            as_attachment=filename is not None, filename=filename)
    # Files are immutable per image id (content-addressed or rebuilt only for a new image), so private caching
    # is safe; "private" keeps shared proxies from serving one member's image to another.
    response["Cache-Control"] = f"private, max-age={cache_seconds}"
    response["X-Content-Type-Options"] = "nosniff"
    return response


class ImageFileView(ScopedAPIView):
    model = Image
    scopes = {"GET": scopes.IMAGE_VIEW}

    @extend_schema(responses={(200, "application/octet-stream"): bytes})
    def get(self, request, pk):
        image = self.get_object()
        return _stored_file_response(image.file.name, filename=image.original_name.rsplit("/", 1)[-1])


class ImageThumbnailView(ScopedAPIView):
    model = Image
    scopes = {"GET": scopes.IMAGE_VIEW}

    @extend_schema(responses={(200, "image/jpeg"): bytes})
    def get(self, request, pk):
        return _stored_file_response(self.get_object().thumbnail.name)


class ImagePyramidTileView(ScopedAPIView):
    model = Image
    scopes = {"GET": scopes.IMAGE_VIEW}

    @extend_schema(responses={(200, "image/jpeg"): bytes, (200, "image/webp"): bytes})
    def get(self, request, pk, level, x, y):
        image = self.get_object()
        levels = image.pyramid_levels or []
        if level >= len(levels) or x >= levels[level][2] or y >= levels[level][3]:
            raise exceptions.NotFound("no such pyramid tile")
        name = pyramid_tile_path(image_id=image.pk, level=level, x=x, y=y)
        content_type = "image/webp" if image.pyramid_format == "WEBP" else "image/jpeg"
        return _stored_file_response(name, cache_seconds=86400, content_type=content_type)


class ReprocessInputSerializer(serializers.Serializer):
    all = serializers.BooleanField(default=False, help_text="Rebuild every image's derived data, not only what is "
                                                            "missing or failed.")


class ReprocessOutputSerializer(serializers.Serializer):
    jobs = JobSerializer(many=True)


def _reprocess_response(jobs) -> Response:
    return Response({"jobs": JobSerializer(jobs, many=True).data},
                    status=status.HTTP_202_ACCEPTED if jobs else status.HTTP_200_OK)


class ImageReprocessView(ScopedAPIView):
    """Rebuild one image's thumbnail and pyramid, then its superpixels and embeddings (a manager's repair)."""

    model = Image
    scopes = {"POST": scopes.IMAGE_UPLOAD}

    @extend_schema(request=None, responses={202: ReprocessOutputSerializer})
    def post(self, request, pk):
        image = self.get_object()
        return _reprocess_response(images_reprocess(project=image.project, image_ids=[image.pk], user=request.user))


class ProjectReprocessView(ScopedAPIView):
    """Give the project's images the derived data they lack (failed, cancelled or lost processing); with
    `{"all": true}` rebuild it for every image. 200 with no jobs when nothing is missing."""

    model = Image
    scopes = {"POST": scopes.IMAGE_UPLOAD}

    @extend_schema(request=ReprocessInputSerializer, responses={202: ReprocessOutputSerializer,
                                                                200: ReprocessOutputSerializer})
    def post(self, request, project_pk):
        project = self.get_project()
        data = ReprocessInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return _reprocess_response(images_reprocess(project=project, everything=data.validated_data["all"],
                                                    user=request.user))
