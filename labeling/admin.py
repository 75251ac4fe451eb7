from django.contrib import admin

from labeling import models


class LabelClassInline(admin.TabularInline):
    model = models.LabelClass
    extra = 0


class MembershipInline(admin.TabularInline):
    model = models.Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(models.Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ["id", "name", "kind", "created_by", "created_at"]
    list_filter = ["kind"]
    search_fields = ["name"]
    inlines = [LabelClassInline, MembershipInline]


@admin.register(models.LabelClass)
class LabelClassAdmin(admin.ModelAdmin):
    list_display = ["id", "name", "project", "kind", "color", "order"]
    list_filter = ["kind"]
    search_fields = ["name", "project__name"]


@admin.register(models.Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["id", "project", "user", "role"]
    list_filter = ["role"]
    autocomplete_fields = ["user"]


@admin.register(models.Image)
class ImageAdmin(admin.ModelAdmin):
    list_display = ["id", "original_name", "project", "width", "height", "state", "split", "pyramid_status"]
    list_filter = ["state", "split", "pyramid_status", "format"]
    search_fields = ["original_name", "sha256"]
    readonly_fields = ["sha256", "width", "height", "format", "size_bytes", "pyramid_levels"]


@admin.register(models.Annotation)
class AnnotationAdmin(admin.ModelAdmin):
    list_display = ["id", "image", "annotator", "state", "version", "updated_at"]
    list_filter = ["state"]
    readonly_fields = ["version"]


@admin.register(models.LabelMapTile)
class LabelMapTileAdmin(admin.ModelAdmin):
    list_display = ["id", "annotation", "tx", "ty"]
    readonly_fields = ["annotation", "tx", "ty", "stats"]
    exclude = ["data"]


@admin.register(models.Segment)
class SegmentAdmin(admin.ModelAdmin):
    list_display = ["id", "annotation", "segment_id", "label_class", "instance", "source", "area", "review_state"]
    list_filter = ["source", "review_state"]
    readonly_fields = ["area", "bbox"]


class RevisionTileInline(admin.TabularInline):
    model = models.RevisionTile
    extra = 0
    exclude = ["data"]
    readonly_fields = ["tx", "ty"]


@admin.register(models.Revision)
class RevisionAdmin(admin.ModelAdmin):
    list_display = ["id", "annotation", "version", "author", "created_at"]
    readonly_fields = ["annotation", "version", "author", "segments_changed", "segments_deleted"]
    inlines = [RevisionTileInline]


@admin.register(models.RevisionTile)
class RevisionTileAdmin(admin.ModelAdmin):
    list_display = ["id", "revision", "tx", "ty"]
    exclude = ["data"]


@admin.register(models.SaveReceipt)
class SaveReceiptAdmin(admin.ModelAdmin):
    list_display = ["id", "annotation", "key", "user", "version", "created_at"]
    readonly_fields = ["annotation", "key", "user", "version", "response"]


@admin.register(models.Job)
class JobAdmin(admin.ModelAdmin):
    list_display = ["id", "kind", "project", "status", "progress", "attempts", "worker", "lease_expires_at",
                    "created_at", "finished_at"]
    list_filter = ["kind", "status"]
    readonly_fields = ["params", "result", "error", "attempts", "started_at", "finished_at", "dispatched_at",
                       "dispatch_count", "lease_expires_at", "worker"]


@admin.register(models.Superpixels)
class SuperpixelsAdmin(admin.ModelAdmin):
    list_display = ["id", "image", "granularity", "count", "width", "height"]
    readonly_fields = ["image", "granularity", "count", "width", "height", "file"]


@admin.register(models.ImageEmbedding)
class ImageEmbeddingAdmin(admin.ModelAdmin):
    list_display = ["id", "sha256", "model_key", "shape", "created_at"]
    search_fields = ["sha256", "model_key"]
    readonly_fields = ["sha256", "model_key", "file", "shape", "original_size", "input_size"]


@admin.register(models.Proposal)
class ProposalAdmin(admin.ModelAdmin):
    list_display = ["id", "image", "model_key", "area", "score"]
    readonly_fields = ["image", "model_key", "rle", "bbox", "area", "score"]


@admin.register(models.TrainedModel)
class TrainedModelAdmin(admin.ModelAdmin):
    list_display = ["id", "name", "project", "format", "size_bytes", "created_at"]
    list_filter = ["format"]
    search_fields = ["name", "project__name"]
    readonly_fields = ["file", "sha256", "size_bytes"]


@admin.register(models.TaskAssignment)
class TaskAssignmentAdmin(admin.ModelAdmin):
    list_display = ["id", "image", "user", "assigned_by", "created_at"]
    autocomplete_fields = ["user"]
    raw_id_fields = ["image"]


@admin.register(models.TaskTransition)
class TaskTransitionAdmin(admin.ModelAdmin):
    # An audit trail: read only.
    list_display = ["id", "image", "annotation", "actor", "from_state", "to_state", "created_at"]
    list_filter = ["to_state"]
    readonly_fields = ["image", "annotation", "actor", "from_state", "to_state", "reason", "created_at"]


@admin.register(models.ReviewComment)
class ReviewCommentAdmin(admin.ModelAdmin):
    list_display = ["id", "annotation", "author", "segment_id", "created_at", "resolved_at"]
    raw_id_fields = ["annotation"]


@admin.register(models.DatasetVersion)
class DatasetVersionAdmin(admin.ModelAdmin):
    # A frozen export is immutable (its file and checksums go together): read only; the API deletes versions.
    list_display = ["id", "project", "number", "name", "format", "image_count", "size_bytes", "created_at",
                    "deleted_at"]
    list_filter = ["format"]
    search_fields = ["name", "project__name", "sha256"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
