"""Label imports over HTTP: upload a COCO / panoptic / mask-PNG / Pascal VOC file to become the images' pre-labels
(a job: it applies completely or not at all, or with `skip_invalid` every valid item; its result lists every
problem found)."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from labeling import permissions as scopes
from labeling.api.base import ScopedAPIView
from labeling.api.jobs import JobSerializer
from labeling.imports import IMPORTERS
from labeling.models import Job
from labeling.services.imports import IMPORT_KIND, MAX_VOID_VALUE, import_enqueue


class ImportFormatSerializer(serializers.Serializer):
    name = serializers.CharField()
    title = serializers.CharField()
    accepts = serializers.CharField(help_text="what to upload")
    takes_void_value = serializers.BooleanField(help_text="whether the format reads mask PNGs, where `void_value` "
                                                          "applies")


class ImportsSerializer(serializers.Serializer):
    formats = ImportFormatSerializer(many=True)
    jobs = JobSerializer(many=True, help_text="the project's import jobs, newest first (at most 50)")


class ImportInputSerializer(serializers.Serializer):
    format = serializers.ChoiceField(choices=sorted(IMPORTERS))
    file = serializers.FileField(help_text="a ZIP; for coco_instances also a bare JSON file")
    dry_run = serializers.BooleanField(required=False, default=False,
                                       help_text="only check the file and list its problems; apply nothing")
    skip_invalid = serializers.BooleanField(
        required=False, default=False,
        help_text="apply every valid item and list the invalid ones (left out); by default any error applies nothing")
    void_value = serializers.IntegerField(
        required=False, allow_null=True, default=None, min_value=1, max_value=MAX_VOID_VALUE,
        help_text="mask_pngs and pascal_voc: a pixel value that means no label (VOC's 255 boundary, say) instead of "
                  "a value the table must list; VOC's own 255 is void always")


class ProjectImportsView(ScopedAPIView):
    model = Job
    serializer_class = ImportsSerializer
    scopes = {"GET": scopes.IMPORT_RUN, "POST": scopes.IMPORT_RUN}

    def get(self, request, project_pk):
        project = self.get_project()
        jobs = Job.objects.filter(project=project, kind=IMPORT_KIND).order_by("-created_at", "-id")[:50]
        formats = [{"name": i.name, "title": i.title, "accepts": i.accepts, "takes_void_value": i.takes_void_value}
                   for _, i in sorted(IMPORTERS.items())]
        return Response({"formats": formats, "jobs": JobSerializer(jobs, many=True).data})

    @extend_schema(request={"multipart/form-data": ImportInputSerializer}, responses={202: JobSerializer})
    def post(self, request, project_pk):
        """Start an import job. Its result: `applied`, `images`, `segments`, `errors`, `warnings` and `problems`
        ({severity, code, where, message}, the first 500); a job with errors fails and applies nothing, unless
        `skip_invalid`: then it applies every valid item, lists each invalid one, and fails only when nothing was
        valid."""
        project = self.get_project()
        data = ImportInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        given = data.validated_data
        job = import_enqueue(project=project, user=request.user, format=given["format"], upload=given["file"],
                             dry_run=given["dry_run"], skip_invalid=given["skip_invalid"],
                             void_value=given["void_value"])
        return Response(JobSerializer(job).data, status=status.HTTP_202_ACCEPTED)
