"""Label imports over HTTP: upload a COCO / panoptic / mask-PNG file to become the images' pre-labels (a job:
it applies completely or not at all, and its result lists every problem found)."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from labeling import permissions as scopes
from labeling.api.base import ScopedAPIView
from labeling.api.jobs import JobSerializer
from labeling.imports import IMPORTERS
from labeling.models import Job
from labeling.services.imports import IMPORT_KIND, import_enqueue


class ImportFormatSerializer(serializers.Serializer):
    name = serializers.CharField()
    title = serializers.CharField()
    accepts = serializers.CharField(help_text="what to upload")


class ImportsSerializer(serializers.Serializer):
    formats = ImportFormatSerializer(many=True)
    jobs = JobSerializer(many=True, help_text="the project's import jobs, newest first (at most 50)")


class ImportInputSerializer(serializers.Serializer):
    format = serializers.ChoiceField(choices=sorted(IMPORTERS))
    file = serializers.FileField(help_text="a ZIP; for coco_instances also a bare JSON file")
    dry_run = serializers.BooleanField(required=False, default=False,
                                       help_text="only check the file and list its problems; apply nothing")


class ProjectImportsView(ScopedAPIView):
    model = Job
    serializer_class = ImportsSerializer
    scopes = {"GET": scopes.IMPORT_RUN, "POST": scopes.IMPORT_RUN}

    def get(self, request, project_pk):
        project = self.get_project()
        jobs = Job.objects.filter(project=project, kind=IMPORT_KIND).order_by("-created_at", "-id")[:50]
        formats = [{"name": i.name, "title": i.title, "accepts": i.accepts} for _, i in sorted(IMPORTERS.items())]
        return Response({"formats": formats, "jobs": JobSerializer(jobs, many=True).data})

    @extend_schema(request={"multipart/form-data": ImportInputSerializer}, responses={202: JobSerializer})
    def post(self, request, project_pk):
        """Start an import job. Its result: `applied`, `images`, `segments`, `errors`, `warnings` and `problems`
        ({severity, code, where, message}, the first 500); a job with errors fails and applies nothing."""
        project = self.get_project()
        data = ImportInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        job = import_enqueue(project=project, user=request.user, format=data.validated_data["format"],
                             upload=data.validated_data["file"], dry_run=data.validated_data["dry_run"])
        return Response(JobSerializer(job).data, status=status.HTTP_202_ACCEPTED)
