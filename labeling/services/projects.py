"""Writes to projects, their classes and their members."""

import re
from typing import Any

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import Max

from labeling.errors import Conflict, ValidationFailed
from labeling.models import (
    CLASS_KINDS_FOR_PROJECT,
    LabelClass,
    Membership,
    NextTaskOrder,
    Project,
    ProjectKind,
    Role,
    Segment,
)

_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
_ATTRIBUTE_TYPES = {"text", "number", "boolean", "select"}


@transaction.atomic
def project_create(*, user, name: str, kind: str, guidelines: str = "", annotators_per_image: int = 1,
                   gold_share: float = 0.0, retrain_every: int = 0, prelabel_new: bool = False,
                   next_task_order: str = NextTaskOrder.DEFAULT) -> Project:
    if kind not in ProjectKind.values:
        raise ValidationFailed(f"kind must be one of {', '.join(ProjectKind.values)}", code="bad_kind")
    project = Project.objects.create(name=name, kind=kind, guidelines=guidelines, created_by=user,
                                     annotators_per_image=annotators_per_image, gold_share=gold_share,
                                     retrain_every=retrain_every, prelabel_new=prelabel_new,
                                     next_task_order=next_task_order)
    # Whoever creates a project manages it.
    Membership.objects.create(project=project, user=user, role=Role.MANAGER)
    return project


@transaction.atomic
def project_update(*, project: Project, data: dict[str, Any]) -> Project:
    if "kind" in data and data["kind"] != project.kind:
        allowed = CLASS_KINDS_FOR_PROJECT.get(data["kind"])
        if allowed is None:
            raise ValidationFailed(f"kind must be one of {', '.join(ProjectKind.values)}", code="bad_kind")
        misfits = list(project.classes.exclude(kind__in=allowed).values_list("name", flat=True))
        if misfits:
            raise ValidationFailed(
                f"a {data['kind']} project cannot keep classes of another kind: {', '.join(misfits)}",
                code="class_kind_mismatch", extra={"classes": misfits},
            )
    for field in ("name", "kind", "guidelines", "annotators_per_image", "gold_share", "retrain_every", "prelabel_new",
                  "next_task_order"):
        if field in data:
            setattr(project, field, data[field])
    project.save()
    return project


def _validate_attribute_schema(schema: Any) -> list[dict[str, Any]]:
    if not isinstance(schema, list):
        raise ValidationFailed("attribute_schema must be a list", code="bad_attribute_schema")
    names = set()
    for item in schema:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not item["name"].strip():
            raise ValidationFailed("every attribute needs a name", code="bad_attribute_schema")
        if item["name"] in names:
            raise ValidationFailed(f"attribute {item['name']!r} is defined twice", code="bad_attribute_schema")
        names.add(item["name"])
        if item.get("type") not in _ATTRIBUTE_TYPES:
            raise ValidationFailed(
                f"attribute {item['name']!r}: type must be one of {', '.join(sorted(_ATTRIBUTE_TYPES))}",
                code="bad_attribute_schema",
            )
        if item["type"] == "select":
            options = item.get("options")
            if not isinstance(options, list) or not options or not all(isinstance(o, str) for o in options):
                raise ValidationFailed(f"attribute {item['name']!r}: a select needs a list of string options",
                                       code="bad_attribute_schema")
    return schema


def _validate_class_fields(*, project: Project, kind: str, color: str) -> None:
    if kind not in CLASS_KINDS_FOR_PROJECT[project.kind]:
        allowed = " or ".join(sorted(CLASS_KINDS_FOR_PROJECT[project.kind]))
        raise ValidationFailed(f"a {project.kind} project takes {allowed} classes, not {kind}",
                               code="class_kind_mismatch")
    if not _COLOR.match(color):
        raise ValidationFailed("color must look like #rrggbb", code="bad_color")


def label_class_create(
    *, project: Project, name: str, kind: str, color: str, order: int | None = None,
    attribute_schema: list | None = None,
) -> LabelClass:
    _validate_class_fields(project=project, kind=kind, color=color)
    schema = _validate_attribute_schema(attribute_schema or [])
    try:
        with transaction.atomic():
            # The project's row lock makes "the next number" safe against a concurrent create.
            Project.objects.select_for_update().filter(pk=project.pk).first()
            if order is None:
                order = project.classes.count()
            number = (project.classes.aggregate(top=Max("number"))["top"] or 0) + 1
            return LabelClass.objects.create(project=project, name=name, kind=kind, color=color.lower(), order=order,
                                             number=number, attribute_schema=schema)
    except IntegrityError as exc:
        raise ValidationFailed(f"class {name!r} already exists in this project", code="duplicate_class") from exc


def label_class_update(*, label_class: LabelClass, data: dict[str, Any]) -> LabelClass:
    kind = data.get("kind", label_class.kind)
    color = data.get("color", label_class.color)
    _validate_class_fields(project=label_class.project, kind=kind, color=color)
    if kind != label_class.kind and Segment.objects.filter(label_class=label_class).exists():
        raise ValidationFailed("cannot change thing/stuff of a class that has segments", code="class_in_use")
    if "attribute_schema" in data:
        _validate_attribute_schema(data["attribute_schema"])
    for field in ("name", "kind", "color", "order", "attribute_schema"):
        if field in data:
            setattr(label_class, field, data[field])
    label_class.color = label_class.color.lower()
    try:
        with transaction.atomic():
            label_class.save()
    except IntegrityError as exc:
        raise ValidationFailed(f"class {label_class.name!r} already exists in this project",
                               code="duplicate_class") from exc
    return label_class


def label_class_delete(*, label_class: LabelClass) -> None:
    if Segment.objects.filter(label_class=label_class).exists():
        raise Conflict("this class still has segments; relabel or delete them first", code="class_in_use")
    label_class.delete()


def member_add(*, project: Project, username: str, role: str) -> Membership:
    if role not in Role.values:
        raise ValidationFailed(f"role must be one of {', '.join(Role.values)}", code="bad_role")
    user = get_user_model().objects.filter(username=username, is_active=True).first()
    if user is None:
        raise ValidationFailed(f"no active user named {username!r}", code="unknown_user")
    try:
        with transaction.atomic():
            return Membership.objects.create(project=project, user=user, role=role)
    except IntegrityError as exc:
        raise ValidationFailed(f"{username} is already a member", code="already_member") from exc


def _ensure_a_manager_remains(membership: Membership) -> None:
    others = Membership.objects.filter(project_id=membership.project_id, role=Role.MANAGER).exclude(pk=membership.pk)
    if membership.role == Role.MANAGER and not others.exists():
        raise Conflict("a project needs at least one manager", code="last_manager")


@transaction.atomic
def member_update(*, membership: Membership, role: str) -> Membership:
    if role not in Role.values:
        raise ValidationFailed(f"role must be one of {', '.join(Role.values)}", code="bad_role")
    if role != Role.MANAGER:
        _ensure_a_manager_remains(membership)
    membership.role = role
    membership.save(update_fields=["role"])
    return membership


@transaction.atomic
def member_remove(*, membership: Membership) -> None:
    _ensure_a_manager_remains(membership)
    membership.delete()
