from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from annotator.app_shell import app_shell

urlpatterns = [
    path("", app_shell, name="app"),
    re_path(r"^app/(?P<path>.*)$", app_shell, name="app-page"),
    path("admin/", admin.site.urls),
    path("api/", include("labeling.api.urls")),
    path("api-auth/", include("rest_framework.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="schema"), name="api-redoc"),
]
