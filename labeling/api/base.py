"""The API side of the permission gate: each view declares HTTP method -> scope; one permission class
enforces it through `labeling.permissions.can` (404 for objects the user may not see, 403 for a missing scope).

OPTIONS has no scope of its own: it needs only that the caller may see the route's object (404 otherwise, like every
other method) and answers which of the route's methods the caller's scopes allow on it.
"""

from django.core.exceptions import ImproperlyConfigured
from django.db.models import Model
from rest_framework import exceptions
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import BasePermission
from rest_framework.response import Response

from labeling import permissions
from labeling.models import Project


class ScopePermission(BasePermission):
    def has_permission(self, request, view) -> bool:
        if not (request.user and request.user.is_authenticated):
            raise exceptions.NotAuthenticated()
        return True

    def has_object_permission(self, request, view, obj) -> bool:
        if request.method.upper() == "OPTIONS":
            if not permissions.is_visible(request.user, obj):
                raise exceptions.NotFound()
            return True
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
    # The model whose row the URL's `pk` names, when it is not `model` (e.g. a list of an image's annotations).
    lookup_model = None
    # OPTIONS is answered by `options` below, never by DRF's SimpleMetadata: that one builds each view's
    # `serializer_class` for POST and PUT, which fails (a 500) on views without one and describes a response
    # serializer as the request on others. Request bodies are described by the OpenAPI schema.
    metadata_class = None

    def scope_for(self, request) -> str | None:
        return self.scope_for_method(request.method)

    def scope_for_method(self, method: str) -> str | None:
        method = method.upper()
        if method == "HEAD":
            method = "GET"
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

    def get_scoped_object(self) -> Model | None:
        """The object the route's scopes are decided on, checked against the method: the project of a nested route,
        else the `pk` row of `lookup_model` (default `model`); None for a route without one (e.g. the project list,
        whose rows `visible_to` filters)."""
        if "project_pk" in self.kwargs:
            return self.get_project()
        if "pk" not in self.kwargs:
            return None
        model = self.lookup_model or self.model
        if model is None:
            raise ImproperlyConfigured(f"{type(self).__name__} names an object in its URL but declares no model")
        if model is self.model:
            return self.get_object()
        obj = permissions.visible_to(self.request.user, model.objects.all()).filter(pk=self.kwargs["pk"]).first()
        if obj is None:
            raise exceptions.NotFound()
        self.check_object_permissions(self.request, obj)
        return obj

    def permitted_methods(self, obj: Model | None) -> list[str]:
        """The route's methods the caller's scopes allow on `obj` (what OPTIONS answers)."""
        allowed = []
        for method in self.allowed_methods:
            if method == "OPTIONS":
                allowed.append(method)
                continue
            scope = self.scope_for_method(method)
            if scope is None or obj is None or permissions.can(self.request.user, scope, obj):
                allowed.append(method)
        return allowed

    def options(self, request, *args, **kwargs):
        """What the route is and which of its methods the caller may use. Through the same gate as every method:
        401 without a login, 404 when the caller may not see the route's object."""
        obj = self.get_scoped_object()
        return Response({
            "name": self.get_view_name(),
            "description": self.get_view_description(),
            "renders": [renderer.media_type for renderer in self.renderer_classes],
            "parses": [parser.media_type for parser in self.parser_classes],
            "allowed_methods": self.permitted_methods(obj),
        })
