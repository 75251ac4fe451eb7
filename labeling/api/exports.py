"""Exports over HTTP: start an export job over the approved set (or all work) in a registered format, and
download its zip once the job succeeded."""

from django.core.files.storage import default_storage
from django.http import FileResponse
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response

from labeling import permissions as scopes
from labeling.api.base import ScopedAPIView
from labeling.api.jobs import JobSerializer
from labeling.exports import EXPORTERS
from labeling.models import Job, JobStatus
from labeling.services.exports import export_enqueue, export_formats

SPLIT_CHOICES = ("none", "stored", "stratified")


class ExportFormatSerializer(serializers.Serializer):
    name = serializers.CharField()
    title = serializers.CharField()
    version = serializers.IntegerField()
    options = serializers.ListField(child=serializers.CharField(),
                                    help_text="the export options this format takes (polygons: COCO instances only)")


class ExportsSerializer(serializers.Serializer):
    formats = ExportFormatSerializer(many=True)
    jobs = JobSerializer(many=True, help_text="the project's export jobs, newest first (at most 50)")


class ExportInputSerializer(serializers.Serializer):
    format = serializers.ChoiceField(choices=sorted(EXPORTERS))
    approved_only = serializers.BooleanField(required=False, default=True,
                                             help_text="only approved images (their approved annotation); "
                                                       "false: also the newest work on the others")
    class_ids = serializers.ListField(child=serializers.IntegerField(min_value=1), required=False, allow_null=True,
                                      default=None, max_length=1000, help_text="only these classes; default all")
    include_images = serializers.BooleanField(required=False, default=False)
    polygons = serializers.BooleanField(required=False, default=False,
                                        help_text="COCO instances: polygons (exact pixel boundaries) instead of "
                                                  "RLE; segments with holes stay RLE")
    split = serializers.ChoiceField(choices=SPLIT_CHOICES, required=False, default="none",
                                    help_text="none; stored: the images' own train/val/test; stratified: a seeded "
                                              "split stratified by the classes in each image")
    split_fractions = serializers.DictField(child=serializers.FloatField(min_value=0, max_value=1), required=False,
                                            allow_null=True, default=None,
                                            help_text='{"train": 0.8, "val": 0.1, "test": 0.1} (the default)')
    split_seed = serializers.IntegerField(required=False, default=0, min_value=0, max_value=2**31 - 1)


class ProjectExportsView(ScopedAPIView):
    model = Job
    serializer_class = ExportsSerializer
    scopes = {"GET": scopes.EXPORT_RUN, "POST": scopes.EXPORT_RUN}

    def get(self, request, project_pk):
        project = self.get_project()
        jobs = Job.objects.filter(project=project, kind="export").order_by("-created_at", "-id")[:50]
        return Response({"formats": export_formats(), "jobs": JobSerializer(jobs, many=True).data})

    @extend_schema(request=ExportInputSerializer, responses={202: JobSerializer})
    def post(self, request, project_pk):
        """Start an export job; its result holds the zip's size and SHA-256, the file downloads from
        `/api/jobs/{id}/download/`."""
        project = self.get_project()
        data = ExportInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        job = export_enqueue(project=project, user=request.user, **data.validated_data)
        return Response(JobSerializer(job).data, status=status.HTTP_202_ACCEPTED)


class JobDownloadView(ScopedAPIView):
    model = Job
    scopes = {"GET": scopes.EXPORT_RUN}

    @extend_schema(responses={(200, "application/zip"): bytes})
    def get(self, request, pk):
        job = self.get_object()
        if job.kind != "export":
            raise exceptions.NotFound("this job has no file to download")
        if job.status != JobStatus.SUCCEEDED or not job.result.get("file"):
            raise exceptions.NotFound(f"the export is {job.status}; its file is there once it succeeded")
        name = job.result["file"]
        if not default_storage.exists(name):
            raise exceptions.NotFound("the export's file is gone; run the export again")
        filename = f"{job.project.name}-{job.params['format']}-{job.pk}.zip".replace("/", "_").replace('"', "")
        response = FileResponse(default_storage.open(name, "rb"), content_type="application/zip", as_attachment=True,
                                filename=filename)
        response["Cache-Control"] = "private, max-age=3600"
        return response
