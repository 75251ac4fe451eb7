from dataclasses import dataclass

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from rest_framework.test import APIClient

from labeling.models import Annotation, Image, LabelClass, Membership, Project, Role
from labeling.services.images import images_upload
from labeling.services.projects import label_class_create, project_create
from tests.conftest import png_bytes
from tests.django_fixtures import _eager_celery, _isolated_media  # noqa: F401 - autouse fixtures


@dataclass
class World:
    project: Project
    thing: LabelClass
    stuff: LabelClass
    users: dict
    image: Image


def make_user(username, **extra):
    return get_user_model().objects.create_user(username=username, password="pw-" + username + "-123", **extra)


def client_for(user) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


@pytest.fixture
def world(db, django_capture_on_commit_callbacks) -> World:
    manager = make_user("manager")
    project = project_create(user=manager, name="Streets", kind="panoptic", guidelines="# Label cars")
    users = {"manager": manager}
    for role in (Role.ANNOTATOR, Role.REVIEWER):
        users[role] = make_user(role)
        Membership.objects.create(project=project, user=users[role], role=role)
    users["outsider"] = make_user("outsider")
    thing = label_class_create(project=project, name="car", kind="thing", color="#ff0000")
    stuff = label_class_create(project=project, name="road", kind="stuff", color="#808080")
    with django_capture_on_commit_callbacks(execute=True):
        batch = images_upload(project=project, files=[SimpleUploadedFile("street.png", png_bytes(640, 480))],
                              user=manager)
    image = Image.objects.get(pk=batch.results[0].image_id)
    return World(project=project, thing=thing, stuff=stuff, users=users, image=image)


@pytest.fixture
def annotation(world) -> Annotation:
    return Annotation.objects.create(image=world.image, annotator=world.users[Role.ANNOTATOR])


def upload_files(client, project, files):
    """POST files (and ZIPs) to the project's upload endpoint, as the browser's upload page does."""
    return client.post(reverse("project-images", kwargs={"project_pk": project.pk}), {"files": files},
                       format="multipart")
