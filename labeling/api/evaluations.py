"""Evaluation over HTTP: which annotation sets can be compared with the approved labels, start an evaluation
job over one, and read the results (the jobs' results, newest first)."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from labeling import permissions as scopes
from labeling.api.base import ScopedAPIView
from labeling.api.jobs import JobSerializer
from labeling.models import Job
from labeling.services.evaluations import SOURCES, evaluation_enqueue, evaluation_sets


class EvaluationSetSerializer(serializers.Serializer):
    source = serializers.ChoiceField(choices=SOURCES)
    trained_model_id = serializers.IntegerField(required=False)
    annotator_id = serializers.IntegerField(required=False)
    label = serializers.CharField()
    images = serializers.IntegerField(help_text="approved images the set has an annotation of")


class EvaluationsSerializer(serializers.Serializer):
    sets = EvaluationSetSerializer(many=True)
    jobs = JobSerializer(many=True, help_text="the project's evaluation jobs, newest first (at most 20); each "
                                              "succeeded job's result holds semantic, panoptic and instance scores")


class EvaluationInputSerializer(serializers.Serializer):
    source = serializers.ChoiceField(choices=SOURCES, help_text="model: a model's pre-labels; annotator: a "
                                                                "person's annotations; import: imported pre-labels")
    trained_model_id = serializers.IntegerField(required=False, allow_null=True, default=None, min_value=1)
    annotator_id = serializers.IntegerField(required=False, allow_null=True, default=None, min_value=1)


class ProjectEvaluationsView(ScopedAPIView):
    model = Job
    serializer_class = EvaluationsSerializer
    scopes = {"GET": scopes.DASHBOARD_VIEW, "POST": scopes.DASHBOARD_VIEW}

    def get(self, request, project_pk):
        project = self.get_project()
        jobs = Job.objects.filter(project=project, kind="evaluation").order_by("-created_at", "-id")[:20]
        return Response({"sets": evaluation_sets(project=project), "jobs": JobSerializer(jobs, many=True).data})

    @extend_schema(request=EvaluationInputSerializer, responses={202: JobSerializer})
    def post(self, request, project_pk):
        """Compare a set with the approved labels: mIoU and per-class IoU, PQ / SQ / RQ (all, things, stuff) and
        mask AP by pycocotools' COCOeval, in the job's result."""
        project = self.get_project()
        data = EvaluationInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        job = evaluation_enqueue(project=project, user=request.user, **data.validated_data)
        return Response(JobSerializer(job).data, status=status.HTTP_202_ACCEPTED)
