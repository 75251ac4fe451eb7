"""The API side of the permission gate: each view declares HTTP method -> scope; one permission class
enforces it through `labeling.permissions.can` (404 for objects the user may not see, 403 for a missing scope).
"""

from django.core.exceptions import ImproperlyConfigured
from rest_framework import exceptions
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import BasePermission

from labeling import permissions
from labeling.models import Project


class ScopePermission(BasePermission):
    def has_permission(self, request, view) -> bool:
        if not (request.user and request.user.is_authenticated):
            raise exceptions.NotAuthenticated()
        return True

    def has_object_permission(self, request, view, obj) -> bool:
        scope = view.scope_for(request)
        if scope is None:  # an action any logged-in user may take (e.g. creating a project)
            return True
        if not permissions.is_visible(request.user, obj):
            raise exceptions.NotFound()
        if not permissions.can(request.user, scope, obj):
            raise exceptions.PermissionDenied(f"your role in this project does not allow {scope}")
        return True


class ScopedAPIView(GenericAPIView):
    """Base view: `scopes` maps HTTP methods to scopes; querysets are always filtered by `visible_to`."""

    permission_classes = [ScopePermission]
    scopes: dict[str, str | None] = {}
    model = None

    def scope_for(self, request) -> str | None:
        method = request.method.upper()
        if method == "HEAD":
            method = "GET"
        if method == "OPTIONS":
            return self.scopes.get("GET")
        if method not in self.scopes:
            raise ImproperlyConfigured(f"{type(self).__name__} declares no scope for {method}")
        return self.scopes[method]

    def get_queryset(self):
        return permissions.visible_to(self.request.user, self.model.objects.all())

    def get_project(self, *, lookup: str = "project_pk") -> Project:
        """The project of a nested route, checked against the method's scope."""
        project = permissions.visible_to(self.request.user, Project.objects.all()).filter(
            pk=self.kwargs[lookup]
        ).first()
        if project is None:
            raise exceptions.NotFound()
        self.check_object_permissions(self.request, project)
        return project
