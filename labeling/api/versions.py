"""Dataset versions over HTTP: freeze a succeeded export job as the project's next numbered version, list and
read versions (with every zip member's SHA-256 and the split), download the frozen zip and a SHA256SUMS manifest.
Seeing and downloading is `export:run`; freezing and deleting is `version:manage` (managers)."""

from django.core.files.storage import default_storage
from django.http import FileResponse, HttpResponse
from django.utils.http import content_disposition_header
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from labeling import permissions as scopes
from labeling.api.base import ScopedAPIView
from labeling.errors import NotFound
from labeling.models import DatasetVersion, Job
from labeling.selectors import project_dataset_versions
from labeling.services.versions import sha256sums, version_create, version_delete


class DatasetVersionSerializer(serializers.ModelSerializer):
    job = serializers.IntegerField(source="job_id", allow_null=True, read_only=True,
                                   help_text="The export job it was frozen from; null once that job is deleted.")
    split_sizes = serializers.SerializerMethodField(help_text="{split name: number of images}; {} without a split")
    created_by_name = serializers.CharField(source="created_by.username", default=None, read_only=True,
                                            allow_null=True)
    deleted_by_name = serializers.CharField(source="deleted_by.username", default=None, read_only=True,
                                            allow_null=True)

    class Meta:
        model = DatasetVersion
        fields = ["id", "project", "number", "name", "note", "job", "format", "format_version", "params",
                  "size_bytes", "sha256", "image_count", "annotation_count", "split_sizes", "created_by",
                  "created_by_name", "created_at", "deleted_at", "deleted_by_name"]
        read_only_fields = fields

    def get_split_sizes(self, obj) -> dict[str, int]:
        return {name: len(ids) for name, ids in obj.splits.items()}


class DatasetVersionDetailSerializer(DatasetVersionSerializer):
    members = serializers.DictField(child=serializers.CharField(), read_only=True,
                                    help_text="{zip member path: SHA-256 hex}")
    splits = serializers.DictField(child=serializers.ListField(child=serializers.IntegerField()), read_only=True,
                                   help_text="{split name: [image ids]}; {} when exported without a split")

    class Meta(DatasetVersionSerializer.Meta):
        fields = [*DatasetVersionSerializer.Meta.fields, "members", "splits"]
        read_only_fields = fields


class VersionInputSerializer(serializers.Serializer):
    job_id = serializers.IntegerField(min_value=1, max_value=2**63 - 1, help_text="A succeeded export job")
    name = serializers.CharField(max_length=100, required=False, allow_blank=True, default="",
                                 help_text='A short label; "v<number>" when empty')
    note = serializers.CharField(max_length=10_000, required=False, allow_blank=True, default="")


def _download_name(version: DatasetVersion, suffix: str) -> str:
    return f"{version.project.name}-v{version.number}{suffix}".replace("/", "_").replace('"', "")


class ProjectVersionsView(ScopedAPIView):
    model = DatasetVersion
    serializer_class = DatasetVersionSerializer
    pagination_class = None
    scopes = {"GET": scopes.EXPORT_RUN, "POST": scopes.VERSION_MANAGE}

    def get(self, request, project_pk):
        """The project's versions, newest first; deleted ones stay listed (with `deleted_at`), without a file."""
        project = self.get_project()
        return Response(DatasetVersionSerializer(project_dataset_versions(project=project), many=True).data)

    @extend_schema(request=VersionInputSerializer, responses={201: DatasetVersionDetailSerializer})
    def post(self, request, project_pk):
        """Freeze a succeeded export job as the next version: its zip is copied (and checked against the job's
        SHA-256), each member's SHA-256 recorded. One version per job: a second answers 409 `already_versioned`."""
        project = self.get_project()
        data = VersionInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        job_id = data.validated_data["job_id"]
        job = Job.objects.filter(pk=job_id, project=project).first()
        if job is None:
            raise NotFound(f"job {job_id} is not a job of this project", extra={"job_id": job_id})
        version = version_create(project=project, job=job, user=request.user, name=data.validated_data["name"],
                                 note=data.validated_data["note"])
        return Response(DatasetVersionDetailSerializer(version).data, status=status.HTTP_201_CREATED)


class VersionDetailView(ScopedAPIView):
    model = DatasetVersion
    serializer_class = DatasetVersionDetailSerializer
    scopes = {"GET": scopes.EXPORT_RUN, "DELETE": scopes.VERSION_MANAGE}

    def get_queryset(self):
        return super().get_queryset().select_related("project", "created_by", "deleted_by")

    def get(self, request, pk):
        return Response(DatasetVersionDetailSerializer(self.get_object()).data)

    def delete(self, request, pk):
        """Delete the version's file; the row stays (marked deleted) so its number is never reused."""
        version_delete(version=self.get_object(), user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class _VersionFileView(ScopedAPIView):
    model = DatasetVersion
    scopes = {"GET": scopes.EXPORT_RUN}

    def get_queryset(self):
        return super().get_queryset().select_related("project")


class VersionDownloadView(_VersionFileView):
    @extend_schema(responses={(200, "application/zip"): bytes})
    def get(self, request, pk):
        """The frozen zip, byte for byte what the export wrote (its SHA-256 is the version's `sha256`)."""
        version = self.get_object()
        if version.deleted_at is not None:
            raise NotFound(f"version {version.number} was deleted", code="version_deleted")
        if not default_storage.exists(version.file):
            raise NotFound("the version's file is missing from storage", code="version_file_missing")
        response = FileResponse(default_storage.open(version.file, "rb"), content_type="application/zip",
                                as_attachment=True, filename=_download_name(version, f"-{version.format}.zip"))
        response["Cache-Control"] = "private, max-age=3600"
        return response


class VersionManifestView(_VersionFileView):
    @extend_schema(responses={(200, "text/plain"): OpenApiTypes.STR})
    def get(self, request, pk):
        """`<sha256>  <member path>` per zip member: run `sha256sum -c` on it in the folder the zip was
        extracted to."""
        version = self.get_object()
        response = HttpResponse(sha256sums(version.members), content_type="text/plain; charset=utf-8")
        response["Content-Disposition"] = content_disposition_header(False, _download_name(version, "-SHA256SUMS"))
        response["Cache-Control"] = "private, max-age=3600"
        return response
