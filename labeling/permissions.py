"""The one permission gate.

Every API action declares a scope; `can(user, scope, obj)` decides it from the user's role in the object's
project (plus a few object rules, e.g. annotators see only their own annotations); `visible_to(user, qs)` is
the single queryset filter. Non-members cannot see a project's objects at all (the API answers 404); members
whose role lacks the scope get 403.
"""

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Model, Q, QuerySet

from labeling.models import (
    Annotation,
    DatasetVersion,
    Image,
    Job,
    LabelClass,
    Membership,
    Project,
    Proposal,
    ReviewComment,
    Revision,
    Role,
    Segment,
    Superpixels,
    TaskAssignment,
    TaskTransition,
    TrainedModel,
)

# Scopes, by area. The API's action tables use exactly these strings.
PROJECT_VIEW = "project:view"
PROJECT_EDIT = "project:edit"
PROJECT_DELETE = "project:delete"
MEMBER_VIEW = "member:view"
MEMBER_MANAGE = "member:manage"
CLASS_VIEW = "class:view"
CLASS_EDIT = "class:edit"
IMAGE_VIEW = "image:view"
IMAGE_UPLOAD = "image:upload"
IMAGE_EDIT = "image:edit"
IMAGE_DELETE = "image:delete"
ANNOTATION_VIEW = "annotation:view"
ANNOTATION_CREATE = "annotation:create"
ANNOTATION_EDIT = "annotation:edit"
JOB_VIEW = "job:view"
JOB_CANCEL = "job:cancel"
# AI assistance: reading derived data (superpixels, embeddings, proposals) is IMAGE_VIEW; starting assistance
# work (a server-side SAM decode, "segment everything") is ASSIST_RUN; own models are MODEL_VIEW / MODEL_MANAGE.
ASSIST_RUN = "assist:run"
MODEL_VIEW = "model:view"
MODEL_MANAGE = "model:manage"
# Training a model on the project's approved labels (a worker job on the GPU queue): managers only.
MODEL_TRAIN = "model:train"
# Running the label-error finder (a trained model checks the approved labels; writes no labels): managers and
# reviewers, who read its list with DASHBOARD_VIEW and open the images for a second review.
LABEL_CHECK = "label_check:run"
# Workflow: assigning images (managers), submitting one's own annotation, deciding reviews (approve / reject
# images and segments), pinning review comments, and resolving or reopening comments.
TASK_ASSIGN = "task:assign"
TASK_SUBMIT = "task:submit"
REVIEW_DECIDE = "review:decide"
REVIEW_COMMENT = "review:comment"
COMMENT_RESOLVE = "comment:resolve"
# Overseeing the task flow: which images are gold (honeypots handed to annotators unseen), every task's history and
# everyone's assignments. Without it a gold image looks like any task in progress and one sees only one's own
# annotations' history and assignments (`labeling.selectors.task_visibility` applies this on every endpoint).
TASK_OVERSEE = "task:oversee"
# The project dashboard shows every annotator's throughput, rejection rate and gold score: managers and reviewers.
DASHBOARD_VIEW = "dashboard:view"
# Exports (starting one and downloading its zip): managers and reviewers.
EXPORT_RUN = "export:run"
# Dataset versions: seeing and downloading them is EXPORT_RUN; freezing an export as a version and deleting one
# (the numbered datasets models are trained on) is VERSION_MANAGE, managers only.
VERSION_MANAGE = "version:manage"
# Label imports write pre-labels for any image of the project: managers only.
IMPORT_RUN = "import:run"

ALL_SCOPES = frozenset(
    {
        PROJECT_VIEW,
        PROJECT_EDIT,
        PROJECT_DELETE,
        MEMBER_VIEW,
        MEMBER_MANAGE,
        CLASS_VIEW,
        CLASS_EDIT,
        IMAGE_VIEW,
        IMAGE_UPLOAD,
        IMAGE_EDIT,
        IMAGE_DELETE,
        ANNOTATION_VIEW,
        ANNOTATION_CREATE,
        ANNOTATION_EDIT,
        JOB_VIEW,
        JOB_CANCEL,
        ASSIST_RUN,
        MODEL_VIEW,
        MODEL_MANAGE,
        MODEL_TRAIN,
        LABEL_CHECK,
        TASK_ASSIGN,
        TASK_SUBMIT,
        REVIEW_DECIDE,
        REVIEW_COMMENT,
        COMMENT_RESOLVE,
        TASK_OVERSEE,
        DASHBOARD_VIEW,
        EXPORT_RUN,
        VERSION_MANAGE,
        IMPORT_RUN,
    }
)

_READ = {PROJECT_VIEW, MEMBER_VIEW, CLASS_VIEW, IMAGE_VIEW, ANNOTATION_VIEW, JOB_VIEW, MODEL_VIEW}

ROLE_SCOPES: dict[str, frozenset[str]] = {
    Role.MANAGER: ALL_SCOPES,
    Role.ANNOTATOR: frozenset(_READ | {ANNOTATION_CREATE, ANNOTATION_EDIT, ASSIST_RUN, TASK_SUBMIT, COMMENT_RESOLVE}),
    # Reviewers may correct a map; the save service records the edit as the reviewer's own revision. That they
    # never decide on their own work is a guard of the workflow services, not a scope.
    Role.REVIEWER: frozenset(_READ | {ANNOTATION_EDIT, ASSIST_RUN, REVIEW_DECIDE, REVIEW_COMMENT, COMMENT_RESOLVE,
                                       TASK_OVERSEE, DASHBOARD_VIEW, EXPORT_RUN, LABEL_CHECK}),
}


def project_of(obj: Model) -> Project | None:
    if isinstance(obj, Project):
        return obj
    if isinstance(obj, (LabelClass, Membership, Image, Job, TrainedModel, DatasetVersion)):
        return obj.project
    if isinstance(obj, (Superpixels, Proposal, TaskAssignment, TaskTransition)):
        return obj.image.project
    if isinstance(obj, Annotation):
        return obj.image.project
    if isinstance(obj, (Segment, Revision, ReviewComment)):
        return obj.annotation.image.project
    raise TypeError(f"no project rule for {type(obj).__name__}")


def role_in(user: AbstractBaseUser | AnonymousUser, project: Project) -> str | None:
    """The user's role in the project; superusers act as managers everywhere."""
    if not user.is_authenticated or not user.is_active:
        return None
    if user.is_superuser:
        return Role.MANAGER
    cache = getattr(user, "_project_roles", None)
    if cache is None:
        cache = {}
        user._project_roles = cache  # per request: the user object lives as long as the request
    if project.pk not in cache:
        cache[project.pk] = (
            Membership.objects.filter(project=project, user=user).values_list("role", flat=True).first()
        )
    return cache[project.pk]


def is_visible(user, obj: Model) -> bool:
    """May the user know this object exists? (No: the API answers 404.)"""
    if isinstance(obj, Job) and obj.project is None:
        return user.is_authenticated and (user.is_superuser or obj.created_by_id == user.pk)
    project = project_of(obj)
    role = role_in(user, project)
    if role is None:
        return False
    if isinstance(obj, Annotation) and role == Role.ANNOTATOR:
        return obj.annotator_id in (None, user.pk)
    if isinstance(obj, ReviewComment) and role == Role.ANNOTATOR:
        return obj.annotation.annotator_id in (None, user.pk)
    return True


def can(user, scope: str, obj: Model) -> bool:
    if scope not in ALL_SCOPES:
        raise ValueError(f"unknown scope {scope!r}")
    if not is_visible(user, obj):
        return False
    if isinstance(obj, Job) and obj.project is None:
        return scope in (JOB_VIEW, JOB_CANCEL)
    role = role_in(user, project_of(obj))
    if scope not in ROLE_SCOPES[role]:
        # Whoever started a job may cancel it.
        return scope == JOB_CANCEL and isinstance(obj, Job) and obj.created_by_id == user.pk
    if isinstance(obj, Annotation) and scope == ANNOTATION_EDIT and role == Role.ANNOTATOR:
        return obj.annotator_id == user.pk
    if isinstance(obj, Annotation) and scope == TASK_SUBMIT:
        return obj.annotator_id == user.pk  # only one's own work is submitted, whatever the role
    return True


# Path from each model to its project id, for the single queryset filter.
_PROJECT_PATH = {
    Project: "pk",
    LabelClass: "project_id",
    Membership: "project_id",
    Image: "project_id",
    Job: "project_id",
    TrainedModel: "project_id",
    DatasetVersion: "project_id",
    Superpixels: "image__project_id",
    Proposal: "image__project_id",
    Annotation: "image__project_id",
    Segment: "annotation__image__project_id",
    Revision: "annotation__image__project_id",
    ReviewComment: "annotation__image__project_id",
    TaskAssignment: "image__project_id",
    TaskTransition: "image__project_id",
}


def visible_to(user, queryset: QuerySet) -> QuerySet:
    """Only the rows the user may see: rows of projects they belong to (annotators: their own annotations)."""
    model = queryset.model
    if model not in _PROJECT_PATH:
        raise TypeError(f"no visibility rule for {model.__name__}")
    if not user.is_authenticated or not user.is_active:
        return queryset.none()
    if user.is_superuser:
        return queryset
    path = _PROJECT_PATH[model]
    member_of = Membership.objects.filter(user=user).values("project_id")
    visible = Q(**{f"{path}__in": member_of})
    if model is Job:
        visible |= Q(project__isnull=True, created_by=user)
    if model in (Annotation, Segment, Revision, ReviewComment):
        prefix = "" if model is Annotation else "annotation__"
        seeing_all = Membership.objects.filter(user=user, role__in=[Role.MANAGER, Role.REVIEWER]).values("project_id")
        visible &= (
            Q(**{f"{path}__in": seeing_all})
            | Q(**{f"{prefix}annotator": user})
            | Q(**{f"{prefix}annotator__isnull": True})
        )
    return queryset.filter(visible)
