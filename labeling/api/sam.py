"""SAM: status and decoder file for the browser, image embeddings, server-side decode, "segment everything".

The decoder's inputs/outputs and the embedding format are documented in workers/runners/sam.py.
"""

from django.conf import settings
from django.core.files.storage import default_storage
from django.http import FileResponse, HttpResponseNotModified
from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from labeling import permissions as scopes
from labeling.api.base import ScopedAPIView
from labeling.api.jobs import JobSerializer
from labeling.errors import NotFound
from labeling.models import Image
from labeling.selectors import image_proposals
from labeling.services.sam import (
    DECODERS,
    SamUnavailable,
    decoder_path,
    decoder_version,
    image_embedding_get,
    image_embedding_request,
    proposals_enqueue,
    sam_config,
    sam_decode,
    sam_status,
)
from workers.runners.sam import MAX_PROMPT_POINTS, TARGET_LENGTH

_CACHE = "private, max-age=86400"


def _etag_matches(request, etag: str) -> bool:
    return etag in {tag.strip() for tag in request.headers.get("If-None-Match", "").split(",")}


class SamDecoderInfoSerializer(serializers.Serializer):
    url = serializers.CharField()
    quantized_url = serializers.CharField()
    available = serializers.BooleanField(help_text="The float32 decoder file exists (export_sam_decoder).")


class SamStatusSerializer(serializers.Serializer):
    available = serializers.BooleanField()
    reason = serializers.CharField(help_text="Why SAM is unavailable (empty when available).")
    model_type = serializers.CharField()
    model_key = serializers.CharField(allow_null=True)
    decoder = SamDecoderInfoSerializer()
    embedding_size = serializers.IntegerField(help_text="The encoder's input side: images are resized to it.")
    max_mask_pixels = serializers.IntegerField(
        help_text="Images with more pixels get no SAM masks (decode, proposals, the editor's tool).")


class SamStatusView(ScopedAPIView):
    """Whether SAM works on this server; open to any logged-in user."""

    scopes = {"GET": None}

    @extend_schema(responses=SamStatusSerializer)
    def get(self, request):
        state = sam_status()
        url = reverse("sam-decoder")
        if state["model_key"]:
            # A new checkpoint or decoder format is a new URL: the browser's cached copy is never reused for it.
            url = f"{url}?v={decoder_version(model_key=state['model_key'])}"
        quantized_url = f"{url}{'&' if '?' in url else '?'}quantized=1"
        body = {
            "available": state["available"], "reason": state["reason"], "model_type": state["model_type"],
            "model_key": state["model_key"],
            "decoder": {"url": url, "quantized_url": quantized_url, "available": state["decoder_available"]},
            "embedding_size": TARGET_LENGTH,
            "max_mask_pixels": int(settings.ANNOTATOR["SAM_MAX_MASK_PIXELS"]),
        }
        return Response(SamStatusSerializer(body).data)


class SamDecoderView(ScopedAPIView):
    """The ONNX prompt decoder of the configured model (inputs/outputs: workers/runners/sam.py)."""

    scopes = {"GET": None}

    @extend_schema(
        parameters=[OpenApiParameter("quantized", int, enum=[0, 1], description="1: the uint8 quantised variant"),
                    OpenApiParameter("v", str, description="cache key (model and decoder format, as in the URL "
                                     "GET /api/sam/ gives); not needed to choose the file")],
        responses={(200, "application/octet-stream"): bytes, 304: OpenApiResponse(description="unchanged")},
    )
    def get(self, request):
        config = sam_config()
        quantized = request.query_params.get("quantized", "0") in ("1", "true")
        name = decoder_path(model_key=config.model_key, quantized=quantized)
        if not default_storage.exists(name):
            flag = " --quantize" if quantized else ""
            raise NotFound(f"the SAM decoder is not exported yet: run `python manage.py export_sam_decoder{flag}` "
                           "(the first embedding job also writes it)", code="decoder_missing")
        etag = f'"{decoder_version(model_key=config.model_key)}-{"quant" if quantized else "fp32"}"'
        if _etag_matches(request, etag):
            response = HttpResponseNotModified()
        else:
            response = FileResponse(default_storage.open(name, "rb"), content_type="application/octet-stream")
        response["ETag"] = etag
        response["Cache-Control"] = _CACHE
        response["X-Content-Type-Options"] = "nosniff"
        response["X-Sam-Model"] = config.model_key
        return response


class JobEnvelopeSerializer(serializers.Serializer):
    job = JobSerializer(allow_null=True)


class ImageEmbeddingView(ScopedAPIView):
    model = Image
    scopes = {"GET": scopes.IMAGE_VIEW, "POST": scopes.ASSIST_RUN}

    @extend_schema(responses={
        (200, "application/octet-stream"): OpenApiResponse(
            bytes, description="little-endian float16 [C, 64, 64]; headers X-Embedding-Shape (C,64,64), "
            "X-Embedding-Input-Size (h,w after the longest-side resize to 1024), X-Embedding-Original-Size "
            "(h,w), X-Embedding-Model (model key)"),
        304: OpenApiResponse(description="unchanged (If-None-Match)"),
        404: OpenApiResponse(description="code embedding_missing, extra.job: the active job or null"),
    })
    def get(self, request, pk):
        image = self.get_object()
        found = image_embedding_get(image=image)
        row = found.row
        etag = f'"{found.model_key}-{image.sha256[:32]}"'
        if _etag_matches(request, etag):
            response = HttpResponseNotModified()
        else:
            response = FileResponse(default_storage.open(row.file, "rb"), content_type="application/octet-stream")
        response["ETag"] = etag
        response["Cache-Control"] = _CACHE
        response["X-Content-Type-Options"] = "nosniff"
        response["X-Embedding-Shape"] = ",".join(str(v) for v in row.shape)
        response["X-Embedding-Input-Size"] = ",".join(str(v) for v in row.input_size)
        response["X-Embedding-Original-Size"] = ",".join(str(v) for v in row.original_size)
        response["X-Embedding-Model"] = found.model_key
        return response

    @extend_schema(request=None, responses={202: JobEnvelopeSerializer,
                                            200: OpenApiResponse(JobEnvelopeSerializer, description="exists already")})
    def post(self, request, pk):
        job = image_embedding_request(image=self.get_object(), user=request.user)
        if job is None:
            return Response({"job": None}, status=status.HTTP_200_OK)
        return Response({"job": JobSerializer(job).data}, status=status.HTTP_202_ACCEPTED)


class SamDecodeRequestSerializer(serializers.Serializer):
    points = serializers.ListField(
        child=serializers.ListField(child=serializers.FloatField(), min_length=2, max_length=2),
        max_length=MAX_PROMPT_POINTS, required=False, default=list,
        help_text="[[x, y], ...] in image pixel coordinates (continuous: pixel (i, j)'s centre is (i+0.5, j+0.5))")
    labels = serializers.ListField(child=serializers.IntegerField(), max_length=MAX_PROMPT_POINTS, required=False,
                                   default=list, help_text="1 include, 0 exclude; one per point")
    box = serializers.ListField(child=serializers.FloatField(), min_length=4, max_length=4, allow_null=True,
                                required=False, default=None, help_text="[x0, y0, x1, y1] or null")
    multimask = serializers.BooleanField(required=False, default=False,
                                         help_text="3 masks (best score first) instead of 1")
    decoder = serializers.ChoiceField(
        choices=DECODERS, required=False, default="fp32",
        help_text="the float32 decoder, or the uint8 quantised one the browser uses by default (faster on a CPU; "
                  "float32 answers when it has not been exported)")


class RleSerializer(serializers.Serializer):
    size = serializers.ListField(child=serializers.IntegerField(), help_text="[height, width]")
    counts = serializers.CharField(help_text="COCO compressed RLE counts")


class SamMaskSerializer(serializers.Serializer):
    rle = RleSerializer()
    score = serializers.FloatField(help_text="SAM's predicted IoU")
    area = serializers.IntegerField()
    bbox = serializers.ListField(child=serializers.IntegerField(), help_text="[x, y, width, height]")


class SamDecodeResponseSerializer(serializers.Serializer):
    model_key = serializers.CharField()
    decoder = serializers.ChoiceField(choices=DECODERS, help_text="the decoder that answered")
    masks = SamMaskSerializer(many=True)


class ImageSamDecodeView(ScopedAPIView):
    model = Image
    scopes = {"POST": scopes.ASSIST_RUN}

    @extend_schema(request=SamDecodeRequestSerializer, responses={
        200: SamDecodeResponseSerializer,
        409: OpenApiResponse(description="embedding_missing / decoder_missing: the job making it was started "
                                         "(extra.job)"),
        503: OpenApiResponse(description="sam_unavailable / decoder_missing"),
    })
    def post(self, request, pk):
        image = self.get_object()
        data = SamDecodeRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        result = sam_decode(image=image, user=request.user, **data.validated_data)
        return Response(SamDecodeResponseSerializer(result).data)


class ProposalSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    rle = RleSerializer()
    bbox = serializers.ListField(child=serializers.IntegerField(), help_text="[x, y, width, height]")
    area = serializers.IntegerField()
    score = serializers.FloatField()


class ProposalListSerializer(serializers.Serializer):
    model_key = serializers.CharField(allow_null=True)
    results = ProposalSerializer(many=True)


class ImageProposalsView(ScopedAPIView):
    model = Image
    scopes = {"GET": scopes.IMAGE_VIEW, "POST": scopes.ASSIST_RUN}

    @extend_schema(responses=ProposalListSerializer)
    def get(self, request, pk):
        image = self.get_object()
        try:
            model_key = sam_config().model_key
        except SamUnavailable:
            return Response({"model_key": None, "results": []})
        rows = image_proposals(image=image, model_key=model_key)
        return Response(ProposalListSerializer({"model_key": model_key, "results": rows}).data)

    @extend_schema(request=None, responses={202: JobEnvelopeSerializer})
    def post(self, request, pk):
        job = proposals_enqueue(image=self.get_object(), user=request.user)
        return Response({"job": JobSerializer(job).data}, status=status.HTTP_202_ACCEPTED)
