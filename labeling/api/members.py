from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from labeling import permissions as scopes
from labeling.api.base import ScopedAPIView
from labeling.models import Membership, Role
from labeling.services.projects import member_add, member_remove, member_update


class MembershipSerializer(serializers.ModelSerializer):
    username = serializers.CharField(source="user.username", read_only=True)

    class Meta:
        model = Membership
        fields = ["id", "project", "user", "username", "role", "created_at"]
        read_only_fields = fields


class MemberAddSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    role = serializers.ChoiceField(choices=Role.choices)


class MemberRoleSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=Role.choices)


class ProjectMembersView(ScopedAPIView):
    model = Membership
    serializer_class = MembershipSerializer
    pagination_class = None
    scopes = {"GET": scopes.MEMBER_VIEW, "POST": scopes.MEMBER_MANAGE}

    def get(self, request, project_pk):
        project = self.get_project()
        members = project.memberships.select_related("user")
        return Response(MembershipSerializer(members, many=True).data)

    @extend_schema(request=MemberAddSerializer, responses={201: MembershipSerializer})
    def post(self, request, project_pk):
        project = self.get_project()
        data = MemberAddSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        membership = member_add(project=project, **data.validated_data)
        return Response(MembershipSerializer(membership).data, status=status.HTTP_201_CREATED)


class MemberDetailView(ScopedAPIView):
    model = Membership
    serializer_class = MembershipSerializer
    scopes = {"GET": scopes.MEMBER_VIEW, "PATCH": scopes.MEMBER_MANAGE, "DELETE": scopes.MEMBER_MANAGE}

    def get(self, request, pk):
        return Response(MembershipSerializer(self.get_object()).data)

    @extend_schema(request=MemberRoleSerializer, responses=MembershipSerializer)
    def patch(self, request, pk):
        membership = self.get_object()
        data = MemberRoleSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return Response(MembershipSerializer(member_update(membership=membership, **data.validated_data)).data)

    def delete(self, request, pk):
        member_remove(membership=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)
