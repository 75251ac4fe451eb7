"""Superpixels of an image: the list of granularities, one grid's bytes, and a request to compute them."""

from django.core.files.storage import default_storage
from django.http import HttpResponse, HttpResponseNotModified
from django.urls import reverse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response

from labeling import permissions as scopes
from labeling.api.base import ScopedAPIView
from labeling.api.jobs import JobSerializer
from labeling.models import Image
from labeling.selectors import image_superpixels
from labeling.services.superpixels import image_superpixels_request


class SuperpixelsSerializer(serializers.Serializer):
    granularity = serializers.IntegerField(help_text="Requested number of regions (SLIC n_segments).")
    count = serializers.IntegerField(help_text="Regions produced: the grid holds ids 1..count.")
    width = serializers.IntegerField(help_text="Grid width gw; image pixel x is in grid column floor(x*gw/W).")
    height = serializers.IntegerField(help_text="Grid height gh; image pixel y is in grid row floor(y*gh/H).")
    url = serializers.CharField(help_text="The encoded grid: little-endian uint32, row-major, zlib (one tile).")


class ImageSuperpixelsView(ScopedAPIView):
    model = Image
    serializer_class = SuperpixelsSerializer
    scopes = {"GET": scopes.IMAGE_VIEW, "POST": scopes.ASSIST_RUN}
    pagination_class = None  # a handful of granularities, listed whole

    @extend_schema(responses=SuperpixelsSerializer(many=True))
    def get(self, request, pk):
        image = self.get_object()
        rows = [
            {"granularity": row.granularity, "count": row.count, "width": row.width, "height": row.height,
             "url": reverse("image-superpixels-data", kwargs={"pk": image.pk, "granularity": row.granularity})}
            for row in image_superpixels(image=image)
        ]
        return Response(SuperpixelsSerializer(rows, many=True).data)

    @extend_schema(request=None, responses={202: JobSerializer})
    def post(self, request, pk):
        job = image_superpixels_request(image=self.get_object(), user=request.user)
        return Response(JobSerializer(job).data, status=status.HTTP_202_ACCEPTED)


class ImageSuperpixelsDataView(ScopedAPIView):
    model = Image
    scopes = {"GET": scopes.IMAGE_VIEW}

    @extend_schema(responses={(200, "application/octet-stream"): bytes,
                              304: OpenApiResponse(description="unchanged (If-None-Match)")})
    def get(self, request, pk, granularity):
        image = self.get_object()
        row = image_superpixels(image=image).filter(granularity=granularity).first()
        if row is None or not default_storage.exists(row.file):
            raise exceptions.NotFound("no superpixels at this granularity")
        # A grid is a deterministic function of the image and granularity, so the row identifies its bytes.
        etag = f'"sp-{row.pk}-{row.count}-{row.width}x{row.height}"'
        headers = {"ETag": etag, "Cache-Control": "private, max-age=86400", "X-Content-Type-Options": "nosniff"}
        if etag in {tag.strip() for tag in request.headers.get("If-None-Match", "").split(",")}:
            response = HttpResponseNotModified()
        else:
            with default_storage.open(row.file, "rb") as stored:
                response = HttpResponse(stored.read(), content_type="application/octet-stream")
        for key, value in headers.items():
            response[key] = value
        return response
