"""Data model. Models hold data and constraints only; writes go through `labeling.services`, reads through
`labeling.selectors`.

The one source of truth for an image's labels is its `Annotation`'s label map: `LabelMapTile` rows of uint32
segment ids (zlib-compressed, see `labeling.masks.tiles`) plus the `Segment` table.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q


class ProjectKind(models.TextChoices):
    SEMANTIC = "semantic", "Semantic"
    INSTANCE = "instance", "Instance"
    PANOPTIC = "panoptic", "Panoptic"


class ClassKind(models.TextChoices):
    THING = "thing", "Thing (countable instances)"
    STUFF = "stuff", "Stuff (amorphous regions)"


# Which class kinds each project kind admits.
CLASS_KINDS_FOR_PROJECT = {
    ProjectKind.SEMANTIC: {ClassKind.STUFF},
    ProjectKind.INSTANCE: {ClassKind.THING},
    ProjectKind.PANOPTIC: {ClassKind.THING, ClassKind.STUFF},
}


class Role(models.TextChoices):
    MANAGER = "manager", "Manager"
    ANNOTATOR = "annotator", "Annotator"
    REVIEWER = "reviewer", "Reviewer"


class NextTaskOrder(models.TextChoices):
    DEFAULT = "default", "Oldest first"
    UNCERTAINTY = "uncertainty", "Most uncertain first"


class Project(models.Model):
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=16, choices=ProjectKind.choices)
    guidelines = models.TextField(blank=True, help_text="Markdown shown to annotators and reviewers.")
    annotators_per_image = models.PositiveSmallIntegerField(
        default=1, help_text="Consensus: how many different annotators label each image before review."
    )
    gold_share = models.FloatField(
        default=0.0, help_text="Share of each annotator's tasks that are gold images (0 to 0.5), handed out unseen."
    )
    # Learning from approved labels (labeling.services.training).
    retrain_every = models.PositiveIntegerField(
        default=0, help_text="Train a model again after this many newly approved images (0 = off)."
    )
    prelabel_new = models.BooleanField(
        default=False, help_text="After each training, pre-label the images nobody started with the best model."
    )
    next_task_order = models.CharField(
        max_length=12, choices=NextTaskOrder.choices, default=NextTaskOrder.DEFAULT,
        help_text="Within each Next-task tier: oldest first, or the most uncertain images first.",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="created_projects"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.name


class LabelClass(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="classes")
    name = models.CharField(max_length=100)
    color = models.CharField(max_length=7, help_text="#rrggbb")
    kind = models.CharField(max_length=8, choices=ClassKind.choices)
    order = models.PositiveIntegerField(default=0)
    # The id exports write (COCO category id, semantic PNG value): given once when the class is made and kept
    # through renames, reorders and exports of a subset, so datasets exported at different times agree.
    number = models.PositiveIntegerField(help_text="1, 2, 3, ... per project, in the order classes were made.")
    attribute_schema = models.JSONField(
        default=list, blank=True, help_text="List of {name, type: text|number|boolean|select, options?, required?}."
    )

    class Meta:
        ordering = ["project_id", "order", "id"]
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="unique_class_name_per_project"),
            models.UniqueConstraint(fields=["project", "number"], name="unique_class_number_per_project"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.kind})"


class Membership(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["project_id", "id"]
        constraints = [models.UniqueConstraint(fields=["project", "user"], name="one_membership_per_user")]

    def __str__(self) -> str:
        return f"{self.user} is {self.role} of {self.project}"


class Split(models.TextChoices):
    NONE = "", "Unassigned"
    TRAIN = "train", "Train"
    VAL = "val", "Validation"
    TEST = "test", "Test"


class TaskState(models.TextChoices):
    NEW = "new", "New"
    IN_PROGRESS = "in_progress", "In progress"
    SUBMITTED = "submitted", "Submitted"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"


class PyramidStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    READY = "ready", "Ready"
    FAILED = "failed", "Failed"


class Image(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="images")
    file = models.FileField(max_length=500)
    original_name = models.CharField(max_length=500)
    format = models.CharField(max_length=8)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    size_bytes = models.BigIntegerField()
    sha256 = models.CharField(max_length=64, help_text="Checksum of the uploaded bytes; duplicates are refused.")
    split = models.CharField(max_length=8, choices=Split.choices, blank=True, default=Split.NONE)
    state = models.CharField(max_length=16, choices=TaskState.choices, default=TaskState.NEW)
    # The annotation a reviewer approved: what exporters read while the image is approved.
    approved_annotation = models.ForeignKey(
        "Annotation", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # A gold image (honeypot): approved, its approved annotation is the reference annotators are scored against.
    is_gold = models.BooleanField(default=False)
    agreement = models.FloatField(null=True, blank=True, help_text="Mean agreement of its annotators (consensus).")
    thumbnail = models.FileField(max_length=500, blank=True)
    pyramid_status = models.CharField(max_length=8, choices=PyramidStatus.choices, default=PyramidStatus.PENDING)
    pyramid_tile_size = models.PositiveIntegerField(default=256)
    pyramid_format = models.CharField(max_length=8, blank=True, help_text="JPEG, or WEBP for images with alpha")
    pyramid_levels = models.JSONField(default=list, blank=True, help_text="[[width, height, cols, rows], ...]")
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    # How many times the reconcile sweep re-created this image's missing derived data (thumbnail, pyramid,
    # superpixels, embeddings); it gives up at ANNOTATOR_MAX_JOB_ATTEMPTS. A manager's reprocess resets it.
    rebuild_attempts = models.PositiveSmallIntegerField(default=0)
    # The mean of 1 - top class probability of the latest pre-label by a trained pixel classifier (its map is
    # stored as uncertainty/<id>.png); empty until such a model ran on the image.
    uncertainty = models.FloatField(null=True, blank=True, db_index=True)
    # The label-error finder's latest check of the approved labels (labeling/services/label_check.py): the worst
    # segment's 1 - IoU with a confident trained model, and {"model", "annotation", "version", "segments": [...]}.
    label_error_score = models.FloatField(null=True, blank=True, db_index=True)
    label_check = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["project", "sha256"], name="unique_image_checksum_per_project")]
        indexes = [models.Index(fields=["project", "state"]), models.Index(fields=["project", "split"])]

    def __str__(self) -> str:
        return self.original_name


class AnnotationState(models.TextChoices):
    DRAFT = "draft", "Draft"
    SUBMITTED = "submitted", "Submitted"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"


class Annotation(models.Model):
    """One person's (or one pre-label run's, when `annotator` is empty) label map of an image."""

    image = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="annotations")
    annotator = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="annotations"
    )
    state = models.CharField(max_length=16, choices=AnnotationState.choices, default=AnnotationState.DRAFT)
    version = models.PositiveIntegerField(default=0, help_text="Incremented by every accepted save.")
    submitted_at = models.DateTimeField(null=True, blank=True, help_text="Last submission for review.")
    gold_score = models.FloatField(
        null=True, blank=True, help_text="Agreement with the reference, for an annotation of a gold image."
    )
    tile_size = models.PositiveIntegerField(default=512)
    # Set on a pre-label annotation (no annotator): the model whose run produced it.
    trained_model = models.ForeignKey(
        "TrainedModel", null=True, blank=True, on_delete=models.SET_NULL, related_name="prelabels"
    )
    # Set on the pre-label a label import wrote (one per image): told apart from a deleted model's pre-labels and
    # a deleted user's work, which also end with no annotator and no model.
    imported = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["image", "annotator"], condition=Q(annotator__isnull=False), name="one_annotation_per_annotator"
            )
        ]

    def __str__(self) -> str:
        return f"annotation {self.pk} of image {self.image_id}"


class LabelMapTile(models.Model):
    """One non-empty tile of a label map: uint32 little-endian, row-major, zlib. All-zero tiles are not stored."""

    annotation = models.ForeignKey(Annotation, on_delete=models.CASCADE, related_name="tiles")
    tx = models.PositiveIntegerField()
    ty = models.PositiveIntegerField()
    data = models.BinaryField()
    # {segment_id: [area, xmin, ymin, xmax, ymax]} of this tile, so segment area/bbox are kept exact by
    # summing tile stats instead of decoding the whole map on every save.
    stats = models.JSONField(default=dict)

    class Meta:
        ordering = ["annotation_id", "ty", "tx"]
        constraints = [models.UniqueConstraint(fields=["annotation", "tx", "ty"], name="unique_tile_position")]


class SegmentSource(models.TextChoices):
    MANUAL = "manual", "Manual"
    SAM = "sam", "SAM"
    MODEL = "model", "Model"
    IMPORT = "import", "Import"


class SegmentReview(models.TextChoices):
    PENDING = "pending", "Pending"
    ACCEPTED = "accepted", "Accepted"
    REJECTED = "rejected", "Rejected"


class Segment(models.Model):
    annotation = models.ForeignKey(Annotation, on_delete=models.CASCADE, related_name="segments")
    segment_id = models.PositiveBigIntegerField(help_text="The id its pixels carry in the label map (1 .. 2**32-1).")
    label_class = models.ForeignKey(LabelClass, on_delete=models.PROTECT, related_name="segments")
    instance = models.PositiveIntegerField(null=True, blank=True, help_text="Instance number; empty for stuff.")
    attributes = models.JSONField(default=dict, blank=True)
    source = models.CharField(max_length=8, choices=SegmentSource.choices, default=SegmentSource.MANUAL)
    score = models.FloatField(null=True, blank=True)
    review_state = models.CharField(max_length=8, choices=SegmentReview.choices, default=SegmentReview.PENDING)
    # Vertex rings (outer and holes) while the segment is still an editable polygon; null for pixel segments.
    rings = models.JSONField(null=True, blank=True)
    # Derived from the pixels by the save service; never taken from the client.
    area = models.PositiveBigIntegerField(default=0)
    bbox = models.JSONField(default=list, blank=True, help_text="[x, y, width, height] or [] when empty")

    class Meta:
        ordering = ["annotation_id", "segment_id"]
        constraints = [models.UniqueConstraint(fields=["annotation", "segment_id"], name="unique_segment_id_per_map")]

    def __str__(self) -> str:
        return f"segment {self.segment_id} of annotation {self.annotation_id}"


class Revision(models.Model):
    """Append-only record of one accepted save: who, when, which tiles (new contents) and which segment rows."""

    annotation = models.ForeignKey(Annotation, on_delete=models.CASCADE, related_name="revisions")
    version = models.PositiveIntegerField()
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    segments_changed = models.JSONField(default=list)
    segments_deleted = models.JSONField(default=list)

    class Meta:
        ordering = ["annotation_id", "version"]
        constraints = [models.UniqueConstraint(fields=["annotation", "version"], name="unique_revision_version")]


class SaveReceipt(models.Model):
    """The answer to one accepted save, kept under the client's `Idempotency-Key`: a save resent after a timeout
    gets this answer again instead of a 409 it cannot interpret."""

    annotation = models.ForeignKey(Annotation, on_delete=models.CASCADE, related_name="save_receipts")
    key = models.CharField(max_length=100)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    version = models.PositiveIntegerField(help_text="The annotation version the save produced.")
    response = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["annotation_id", "id"]
        constraints = [models.UniqueConstraint(fields=["annotation", "key"], name="unique_save_key_per_annotation")]


class RevisionTile(models.Model):
    """A tile's contents after a revision (empty bytes when the tile became all zeros)."""

    revision = models.ForeignKey(Revision, on_delete=models.CASCADE, related_name="tiles")
    tx = models.PositiveIntegerField()
    ty = models.PositiveIntegerField()
    data = models.BinaryField()

    class Meta:
        ordering = ["revision_id", "ty", "tx"]


# ---- Workflow: who labels what, transitions, review comments ----


class TaskAssignment(models.Model):
    """A manager's choice of who labels an image; `next task` hands assigned images out first."""

    image = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="assignments")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="task_assignments")
    assigned_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["image_id", "id"]
        constraints = [models.UniqueConstraint(fields=["image", "user"], name="one_assignment_per_user")]


class TaskTransition(models.Model):
    """Append-only record of one state change: of the image's task (`annotation` empty, TaskState values) or of
    one annotation (AnnotationState values)."""

    image = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="transitions")
    annotation = models.ForeignKey(
        Annotation, null=True, blank=True, on_delete=models.CASCADE, related_name="transitions"
    )
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    from_state = models.CharField(max_length=16)
    to_state = models.CharField(max_length=16)
    reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["image_id", "id"]
        indexes = [models.Index(fields=["to_state", "created_at"])]


class ReviewComment(models.Model):
    """A comment on an annotation pinned to a point (image pixels) and/or a segment; resolved and reopened."""

    annotation = models.ForeignKey(Annotation, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    body = models.TextField()
    x = models.FloatField(null=True, blank=True)
    y = models.FloatField(null=True, blank=True)
    segment_id = models.PositiveBigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")

    class Meta:
        ordering = ["annotation_id", "id"]


class JobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


ACTIVE_JOB_STATUSES = (JobStatus.QUEUED, JobStatus.RUNNING)


class Job(models.Model):
    kind = models.CharField(max_length=40)
    project = models.ForeignKey(Project, null=True, blank=True, on_delete=models.CASCADE, related_name="jobs")
    status = models.CharField(max_length=10, choices=JobStatus.choices, default=JobStatus.QUEUED)
    progress = models.FloatField(default=0.0)
    params = models.JSONField(default=dict, blank=True)
    result = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    # Two active jobs with the same key are one job: enqueueing again returns the existing row.
    dedup_key = models.CharField(max_length=200, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    # The database, not the broker, remembers work. `dispatched_at` is when the task message last reached the
    # broker (empty: never, e.g. the broker was down); the reconcile sweep re-sends queued jobs from it.
    dispatched_at = models.DateTimeField(null=True, blank=True)
    dispatch_count = models.PositiveIntegerField(default=0)
    # A running job's lease, renewed by its worker's heartbeat: once it has expired the worker is taken for dead
    # and the sweep re-runs the job; a second delivery of a job with a live lease leaves it alone. On a queued
    # job, the time until which its creator is still adding work to it (an upload in progress).
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    worker = models.CharField(max_length=200, blank=True, help_text="host and pid of the worker running it")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "kind"])]
        constraints = [
            models.UniqueConstraint(
                fields=["dedup_key"],
                condition=Q(status__in=["queued", "running"]) & ~Q(dedup_key=""),
                name="one_active_job_per_dedup_key",
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} job {self.pk} ({self.status})"


# ---- AI assistance: derived per-image data and registered models (computed by worker jobs) ----


class Superpixels(models.Model):
    """An over-segmentation of an image at one granularity: a grid of region ids stored in the label-map tile
    codec (uint32 LE + zlib) as one file. Large images are segmented at a reduced size; `width`/`height` are the
    grid's size, and grid cell (x, y) covers image pixels [x * image.width / width, ...)."""

    image = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="superpixels")
    granularity = models.PositiveIntegerField(help_text="Requested number of regions (SLIC n_segments).")
    count = models.PositiveIntegerField(help_text="Number of regions actually produced (ids 1..count).")
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    file = models.CharField(max_length=500, help_text="Storage path of the encoded grid.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["image_id", "granularity"]
        constraints = [
            models.UniqueConstraint(fields=["image", "granularity"], name="unique_superpixels_per_granularity")
        ]


class ImageEmbedding(models.Model):
    """A SAM image-encoder output, keyed by the image's checksum and the model, so identical uploads in any
    project share it. Stored in storage as float16."""

    sha256 = models.CharField(max_length=64)
    model_key = models.CharField(max_length=80, help_text="Model type and checkpoint checksum, e.g. vit_b:1a2b...")
    file = models.CharField(max_length=500, help_text="Storage path of the float16 embedding.")
    # Shape of the embedding, the image size it was computed from and the resized input size (before padding),
    # which decoders need to map prompts and masks between image and model coordinates.
    shape = models.JSONField(default=list)
    original_size = models.JSONField(default=list, help_text="[height, width] of the image")
    input_size = models.JSONField(default=list, help_text="[height, width] after the longest-side resize")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["sha256", "model_key"], name="unique_embedding_per_model")]


class Proposal(models.Model):
    """One "segment everything" mask proposal for an image, accepted into a label map by an annotator."""

    image = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="proposals")
    model_key = models.CharField(max_length=80)
    rle = models.JSONField(help_text="COCO RLE {size: [h, w], counts: str} of the mask at image resolution.")
    bbox = models.JSONField(default=list, help_text="[x, y, width, height]")
    area = models.PositiveBigIntegerField()
    score = models.FloatField()

    class Meta:
        ordering = ["image_id", "-score", "id"]
        indexes = [models.Index(fields=["image", "model_key"])]


class ModelFormat(models.TextChoices):
    TORCHSCRIPT = "torchscript", "TorchScript"
    ONNX = "onnx", "ONNX"
    # A random forest over pixel features trained here on approved labels, stored with skops (no pickle).
    PIXEL_FOREST = "pixel_forest", "Pixel classifier (skops)"


class ModelOrigin(models.TextChoices):
    UPLOADED = "uploaded", "Uploaded"
    TRAINED = "trained", "Trained on approved labels"


class TrainedModel(models.Model):
    """A project's own segmentation model with its manifest: uploaded (TorchScript or ONNX, never a pickle; input
    size, normalisation, output kind and class mapping) or trained here on the approved labels (a pixel
    classifier; `training` records how). Run as pre-label jobs."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="trained_models")
    name = models.CharField(max_length=200)
    format = models.CharField(max_length=12, choices=ModelFormat.choices)
    file = models.CharField(max_length=500, help_text="Storage path of the model file.")
    sha256 = models.CharField(max_length=64)
    size_bytes = models.BigIntegerField()
    manifest = models.JSONField(default=dict)
    origin = models.CharField(max_length=8, choices=ModelOrigin.choices, default=ModelOrigin.UPLOADED)
    # A trained model's record: learner, the image ids it trained and validated on, hyper-parameters, metrics per
    # round and the final validation metrics, the job that trained it. Empty for uploaded models.
    training = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["project", "name"], name="unique_model_name_per_project")]

    def __str__(self) -> str:
        return self.name


# ---- Dataset versions: frozen exports ----


class DatasetVersion(models.Model):
    """A succeeded export frozen for training: its zip copied to a path of its own (so re-running or deleting the
    export never changes it), the zip's SHA-256, every member's SHA-256 (`members`) and the train/val/test
    split it was exported with. Immutable: nothing changes a version but its deletion, which removes the file and
    keeps the row as a tombstone."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="dataset_versions")
    number = models.PositiveIntegerField(help_text="1, 2, 3, ... per project, in the order versions were made.")
    name = models.CharField(max_length=100, help_text='A short label; "v<number>" unless given.')
    note = models.TextField(blank=True)
    job = models.ForeignKey(Job, null=True, blank=True, on_delete=models.SET_NULL, related_name="dataset_versions",
                            help_text="The export job it was frozen from (empty once that job is deleted).")
    format = models.CharField(max_length=40)
    format_version = models.PositiveIntegerField()
    params = models.JSONField(default=dict, help_text="The export's parameters, copied.")
    file = models.CharField(max_length=500, help_text="Storage path of the version's own copy of the zip.")
    size_bytes = models.BigIntegerField()
    sha256 = models.CharField(max_length=64, help_text="Of the zip; equal to the export job's recorded checksum.")
    members = models.JSONField(default=dict, help_text="{zip member path: SHA-256 hex of its bytes}")
    splits = models.JSONField(default=dict, help_text="{split name: [image ids]}; {} when exported without one.")
    image_count = models.PositiveIntegerField(default=0)
    annotation_count = models.PositiveIntegerField(
        default=0, help_text="The exported segments (objects), counted the same way for every format.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    # A deleted version keeps its row (so its number is never given to other data) but not its file.
    deleted_at = models.DateTimeField(null=True, blank=True)
    deleted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    class Meta:
        ordering = ["project_id", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["project", "number"], name="unique_version_number_per_project"),
            models.UniqueConstraint(fields=["job"], condition=Q(job__isnull=False), name="one_version_per_job"),
        ]

    def __str__(self) -> str:
        return f"{self.project} {self.name}"
