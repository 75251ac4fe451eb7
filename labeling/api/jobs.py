from rest_framework import serializers
from rest_framework.response import Response

from labeling import permissions as scopes
from labeling.api.base import ScopedAPIView
from labeling.models import Job
from labeling.services.jobs import job_cancel


class JobSerializer(serializers.ModelSerializer):
    class Meta:
        model = Job
        fields = ["id", "kind", "project", "status", "progress", "params", "result", "error", "attempts",
                  "dispatched_at", "lease_expires_at", "worker", "created_by", "created_at", "started_at",
                  "finished_at"]
        read_only_fields = fields


class ProjectJobsView(ScopedAPIView):
    model = Job
    serializer_class = JobSerializer
    scopes = {"GET": scopes.JOB_VIEW}

    def get(self, request, project_pk):
        project = self.get_project()
        page = self.paginate_queryset(Job.objects.filter(project=project).order_by("-created_at", "-id"))
        return self.get_paginated_response(JobSerializer(page, many=True).data)


class JobDetailView(ScopedAPIView):
    model = Job
    serializer_class = JobSerializer
    scopes = {"GET": scopes.JOB_VIEW}

    def get(self, request, pk):
        return Response(JobSerializer(self.get_object()).data)


class JobCancelView(ScopedAPIView):
    model = Job
    serializer_class = JobSerializer
    scopes = {"POST": scopes.JOB_CANCEL}

    def post(self, request, pk):
        return Response(JobSerializer(job_cancel(job=self.get_object())).data)
