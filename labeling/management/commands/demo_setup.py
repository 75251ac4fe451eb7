"""Create (or refresh) the demo: users for each role, a panoptic project with classes, and sample photos.

Passwords are generated on every run and printed, never stored in code. The photos are the ones bundled with
scikit-image, so nothing is downloaded.
"""

import secrets
from pathlib import Path

import skimage
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management.base import BaseCommand
from django.db import transaction

from labeling.models import Membership, Project, Role
from labeling.services.images import images_upload
from labeling.services.projects import label_class_create, project_create

DEMO_PROJECT = "Demo: everyday photos"
SAMPLE_PHOTOS = ["astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg", "motorcycle_left.png", "camera.png",
                 "hubble_deep_field.jpg", "coins.png"]
CLASSES = [
    ("person", "thing", "#e6194b"),
    ("cat", "thing", "#f58231"),
    ("cup", "thing", "#ffe119"),
    ("vehicle", "thing", "#4363d8"),
    ("coin", "thing", "#911eb4"),
    ("sky", "stuff", "#46f0f0"),
    ("vegetation", "stuff", "#3cb44b"),
    ("background", "stuff", "#808080"),
]
USERS = [("admin", None), ("manager", Role.MANAGER), ("annotator", Role.ANNOTATOR), ("reviewer", Role.REVIEWER)]
GUIDELINES = """# Demo guidelines

* Label every **person**, **cat**, **cup**, **vehicle** and **coin** as its own instance.
* Paint **sky**, **vegetation** and everything else as **background** (stuff: one segment per class).
* Follow object edges at full zoom; holes (e.g. a cup handle) stay unlabeled or take the class behind them.
"""


class Command(BaseCommand):
    help = "Create the demo project, sample images and one login per role (passwords are printed)."

    def handle(self, *args, **options):
        User = get_user_model()
        logins = []
        with transaction.atomic():
            users = {}
            for username, role in USERS:
                user, _ = User.objects.get_or_create(username=username)
                password = secrets.token_urlsafe(9)
                user.set_password(password)
                user.is_staff = user.is_superuser = role is None
                user.save()
                users[username] = user
                logins.append((username, password, role or "superuser (Django admin)"))
            project = Project.objects.filter(name=DEMO_PROJECT).first()
            if project is None:
                project = project_create(user=users["manager"], name=DEMO_PROJECT, kind="panoptic",
                                         guidelines=GUIDELINES)
                for name, kind, color in CLASSES:
                    label_class_create(project=project, name=name, kind=kind, color=color)
            for username, role in USERS:
                if role is not None:
                    Membership.objects.update_or_create(project=project, user=users[username],
                                                        defaults={"role": role})
        data_dir = Path(skimage.__file__).parent / "data"
        files = [SimpleUploadedFile(name, (data_dir / name).read_bytes()) for name in SAMPLE_PHOTOS
                 if (data_dir / name).exists()]
        with transaction.atomic():
            batch = images_upload(project=project, files=files, user=users["manager"])
        added = sum(1 for r in batch.results if r.status == "accepted")
        self.stdout.write(self.style.SUCCESS(
            f"Demo project '{project.name}' (id {project.pk}): {added} new images, "
            f"{project.images.count()} in all; display tiles are built by the worker."
        ))
        self.stdout.write("Logins (new passwords on every run):")
        for username, password, role in logins:
            self.stdout.write(f"  {username:<10} {password:<14} {role}")
