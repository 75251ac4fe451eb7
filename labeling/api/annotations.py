import base64
import binascii
import hashlib
import json

import numpy as np
from django.db import transaction
from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response

from labeling import permissions as scopes
from labeling.api.base import ScopedAPIView
from labeling.masks.tiles import encode_tile, tile_grid, tile_shape
from labeling.models import Annotation, Image, LabelMapTile, Revision, SegmentSource
from labeling.selectors import annotation_segments, annotation_tile_index
from labeling.services.labelmaps import (
    SaveResult,
    SegmentInput,
    TileUpdate,
    labelmap_save,
    labelmap_save_idempotent,
)
from labeling.services.tasks import task_open


class SegmentSerializer(serializers.Serializer):
    segment_id = serializers.IntegerField()
    class_id = serializers.IntegerField(source="label_class_id")
    instance = serializers.IntegerField(allow_null=True)
    attributes = serializers.JSONField()
    source = serializers.CharField()
    score = serializers.FloatField(allow_null=True)
    review_state = serializers.CharField()
    rings = serializers.JSONField(allow_null=True)
    area = serializers.IntegerField()
    bbox = serializers.ListField(child=serializers.IntegerField())


class AnnotationSerializer(serializers.ModelSerializer):
    annotator_name = serializers.CharField(source="annotator.username", default=None, read_only=True)
    width = serializers.IntegerField(source="image.width", read_only=True)
    height = serializers.IntegerField(source="image.height", read_only=True)
    # A pre-label (no annotator) says which model wrote it; a deleted model leaves these empty.
    trained_model_name = serializers.CharField(source="trained_model.name", default=None, read_only=True,
                                               allow_null=True)
    trained_model_origin = serializers.CharField(source="trained_model.origin", default=None, read_only=True,
                                                 allow_null=True, help_text="uploaded or trained")

    class Meta:
        model = Annotation
        fields = ["id", "image", "annotator", "annotator_name", "state", "submitted_at", "version", "tile_size",
                  "width", "height", "trained_model", "trained_model_name", "trained_model_origin", "imported",
                  "created_at", "updated_at"]
        read_only_fields = fields


class AnnotationDetailSerializer(AnnotationSerializer):
    tiles = serializers.ListField(child=serializers.ListField(child=serializers.IntegerField()),
                                  help_text="[tx, ty] of every non-empty tile; the rest are all zeros.")
    segments = SegmentSerializer(many=True)

    class Meta(AnnotationSerializer.Meta):
        fields = AnnotationSerializer.Meta.fields + ["tiles", "segments"]
        read_only_fields = fields


class TileInputSerializer(serializers.Serializer):
    tx = serializers.IntegerField(min_value=0, max_value=10**6)
    ty = serializers.IntegerField(min_value=0, max_value=10**6)
    data = serializers.CharField(help_text="base64 of zlib(little-endian uint32 row-major pixels)")

    def validate_data(self, value):
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise serializers.ValidationError("not valid base64") from exc


class SegmentInputSerializer(serializers.Serializer):
    segment_id = serializers.IntegerField(min_value=1, max_value=2**32 - 1)
    class_id = serializers.IntegerField(min_value=1, max_value=2**63 - 1)
    instance = serializers.IntegerField(min_value=1, max_value=2**31 - 1, allow_null=True, required=False,
                                        default=None)
    attributes = serializers.DictField(required=False, default=dict)
    source = serializers.ChoiceField(choices=SegmentSource.choices, required=False, default=SegmentSource.MANUAL)
    score = serializers.FloatField(allow_null=True, required=False, default=None)
    rings = serializers.JSONField(allow_null=True, required=False, default=None)


class SaveInputSerializer(serializers.Serializer):
    base_version = serializers.IntegerField(min_value=0, max_value=2**31 - 1)
    tiles = TileInputSerializer(many=True, required=False, default=list)
    segments = SegmentInputSerializer(many=True, required=False, default=list)
    deleted_segment_ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=2**32 - 1), required=False, default=list
    )


class SaveOutputSerializer(serializers.Serializer):
    version = serializers.IntegerField()
    revision = serializers.IntegerField()
    segments = SegmentSerializer(many=True)
    deleted_segment_ids = serializers.ListField(child=serializers.IntegerField())


class RevisionSerializer(serializers.ModelSerializer):
    author_name = serializers.CharField(source="author.username", default=None, read_only=True)
    tiles = serializers.SerializerMethodField()

    class Meta:
        model = Revision
        fields = ["id", "version", "author", "author_name", "created_at", "tiles", "segments_changed",
                  "segments_deleted"]
        read_only_fields = fields

    def get_tiles(self, revision) -> list[list[int]]:
        return [[t.tx, t.ty] for t in revision.tiles.all()]


def _detail(annotation: Annotation) -> dict:
    data = AnnotationSerializer(annotation).data
    data["tiles"] = annotation_tile_index(annotation=annotation)
    data["segments"] = SegmentSerializer(annotation_segments(annotation=annotation), many=True).data
    return data


class ImageAnnotationsView(ScopedAPIView):
    model = Annotation
    lookup_model = Image  # the URL's pk is the image's
    serializer_class = AnnotationSerializer
    pagination_class = None
    scopes = {"GET": scopes.ANNOTATION_VIEW, "POST": scopes.ANNOTATION_CREATE}

    def _image(self) -> Image:
        image = scopes.visible_to(self.request.user, Image.objects.select_related("project")).filter(
            pk=self.kwargs["pk"]).first()
        if image is None:
            raise exceptions.NotFound()
        self.check_object_permissions(self.request, image)
        return image

    def get(self, request, pk):
        image = self._image()
        annotations = self.get_queryset().filter(image=image).select_related("annotator", "image", "trained_model")
        return Response(AnnotationSerializer(annotations, many=True).data)

    @extend_schema(request=None, responses={200: AnnotationDetailSerializer, 201: AnnotationDetailSerializer})
    def post(self, request, pk):
        """Start (or resume) the caller's own annotation of the image: creating it takes a place among the image's
        annotators (409 `task_closed` when the image is submitted or decided, `task_full` when it has its k
        annotators). The editor sends this at the first edit; to look without claiming, GET images/{id}/task/."""
        annotation, created = task_open(image=self._image(), user=request.user)
        return Response(_detail(annotation), status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class AnnotationDetailView(ScopedAPIView):
    model = Annotation
    serializer_class = AnnotationDetailSerializer
    scopes = {"GET": scopes.ANNOTATION_VIEW}

    def get_queryset(self):
        return super().get_queryset().select_related("image__project", "annotator", "trained_model")

    def get(self, request, pk):
        return Response(_detail(self.get_object()))


class AnnotationTileView(ScopedAPIView):
    model = Annotation
    scopes = {"GET": scopes.ANNOTATION_VIEW}

    def get_queryset(self):
        return super().get_queryset().select_related("image__project")

    @extend_schema(responses={(200, "application/octet-stream"): bytes})
    def get(self, request, pk, tx, ty):
        """One tile: zlib of little-endian uint32 segment ids; all-zero tiles are sent too (they compress to ~1 KB)."""
        annotation = self.get_object()
        image = annotation.image
        cols, rows = tile_grid(width=image.width, height=image.height, tile_size=annotation.tile_size)
        if tx >= cols or ty >= rows:
            raise exceptions.NotFound("no such tile")
        with transaction.atomic():
            version = Annotation.objects.filter(pk=annotation.pk).values_list("version", flat=True).first()
            data = LabelMapTile.objects.filter(annotation=annotation, tx=tx, ty=ty).values_list(
                "data", flat=True).first()
        if data is None:
            shape = tile_shape(width=image.width, height=image.height, tx=tx, ty=ty, tile_size=annotation.tile_size)
            data = encode_tile(np.zeros(shape, dtype=np.uint32))
        response = HttpResponse(bytes(data), content_type="application/octet-stream")
        response["X-Annotation-Version"] = str(version)
        response["Cache-Control"] = "no-store"
        return response


def _save_output(result: SaveResult) -> dict:
    return {
        "version": result.annotation.version,
        "revision": result.revision.pk,
        "segments": SegmentSerializer(result.segments, many=True).data,
        "deleted_segment_ids": result.deleted_segment_ids,
    }


def _body_hash(data) -> str:
    """The request body as parsed, hashed in a canonical form: a resend of the same save hashes the same."""
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


class AnnotationSaveView(ScopedAPIView):
    model = Annotation
    serializer_class = SaveInputSerializer
    scopes = {"POST": scopes.ANNOTATION_EDIT}

    def get_queryset(self):
        return super().get_queryset().select_related("image__project")

    @extend_schema(
        request=SaveInputSerializer,
        responses={200: SaveOutputSerializer, 422: OpenApiResponse(description="`idempotency_key_reused`")},
        parameters=[OpenApiParameter(
            "Idempotency-Key", str, OpenApiParameter.HEADER, required=False,
            description="1-100 characters chosen by the client per save; resending the save with the same key "
                        "answers the first result again (header `Idempotent-Replayed: true`) and writes nothing.",
        )],
    )
    def post(self, request, pk):
        """Save changed tiles and segment rows against `base_version`; a stale base answers 409."""
        annotation = self.get_object()
        data = SaveInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        payload = data.validated_data
        save = {
            "annotation": annotation,
            "user": request.user,
            "base_version": payload["base_version"],
            "tiles": [TileUpdate(tx=t["tx"], ty=t["ty"], data=t["data"]) for t in payload["tiles"]],
            "segments": [SegmentInput(**s) for s in payload["segments"]],
            "deleted_segment_ids": payload["deleted_segment_ids"],
        }
        key = request.headers.get("Idempotency-Key")
        if key is None:
            return Response(_save_output(labelmap_save(**save)))
        answer = labelmap_save_idempotent(idempotency_key=key, request_hash=_body_hash(request.data),
                                          render=_save_output, **save)
        return Response(answer.response, headers={"Idempotent-Replayed": "true"} if answer.replayed else None)


class AnnotationRevisionsView(ScopedAPIView):
    model = Annotation
    serializer_class = RevisionSerializer
    scopes = {"GET": scopes.ANNOTATION_VIEW}

    def get(self, request, pk):
        annotation = self.get_object()
        revisions = Revision.objects.filter(annotation=annotation).select_related("author").prefetch_related(
            "tiles").order_by("-version")
        page = self.paginate_queryset(revisions)
        return self.get_paginated_response(RevisionSerializer(page, many=True).data)
