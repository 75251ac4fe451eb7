from django.urls import path, register_converter

from labeling.api import (
    annotations,
    auth,
    classes,
    evaluations,
    exports,
    images,
    imports,
    jobs,
    learning,
    members,
    projects,
    sam,
    scribbles,
    superpixels,
    trained_models,
    versions,
    workflow,
)


class IdConverter:
    """Positive ids of at most 18 digits: larger numbers cannot be database ids, and SQLite and PostgreSQL
    raise (rather than find nothing) on integers past 64 bits, so they are a plain 404 here."""

    regex = "[0-9]{1,18}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int) -> str:
        return str(value)


register_converter(IdConverter, "id")

urlpatterns = [
    path("auth/token/", auth.TokenView.as_view(), name="auth-token"),
    path("auth/me/", auth.MeView.as_view(), name="auth-me"),
    path("auth/login/", auth.SessionLoginView.as_view(), name="auth-login"),
    path("auth/logout/", auth.SessionLogoutView.as_view(), name="auth-logout"),
    path("projects/", projects.ProjectListView.as_view(), name="project-list"),
    path("projects/<id:pk>/", projects.ProjectDetailView.as_view(), name="project-detail"),
    path("projects/<id:project_pk>/classes/", classes.ProjectClassesView.as_view(), name="project-classes"),
    path("projects/<id:project_pk>/members/", members.ProjectMembersView.as_view(), name="project-members"),
    path("projects/<id:project_pk>/images/", images.ProjectImagesView.as_view(), name="project-images"),
    path("projects/<id:project_pk>/reprocess/", images.ProjectReprocessView.as_view(), name="project-reprocess"),
    path("projects/<id:project_pk>/jobs/", jobs.ProjectJobsView.as_view(), name="project-jobs"),
    path("classes/<id:pk>/", classes.LabelClassDetailView.as_view(), name="class-detail"),
    path("members/<id:pk>/", members.MemberDetailView.as_view(), name="member-detail"),
    path("images/<id:pk>/", images.ImageDetailView.as_view(), name="image-detail"),
    path("images/<id:pk>/reprocess/", images.ImageReprocessView.as_view(), name="image-reprocess"),
    path("images/<id:pk>/file/", images.ImageFileView.as_view(), name="image-file"),
    path("images/<id:pk>/thumbnail/", images.ImageThumbnailView.as_view(), name="image-thumbnail"),
    path("images/<id:pk>/tiles/<id:level>/<id:x>/<id:y>/", images.ImagePyramidTileView.as_view(),
         name="image-tile"),
    path("images/<id:pk>/superpixels/", superpixels.ImageSuperpixelsView.as_view(), name="image-superpixels"),
    path("images/<id:pk>/superpixels/<id:granularity>/", superpixels.ImageSuperpixelsDataView.as_view(),
         name="image-superpixels-data"),
    path("images/<id:pk>/embedding/", sam.ImageEmbeddingView.as_view(), name="image-embedding"),
    path("images/<id:pk>/sam/decode/", sam.ImageSamDecodeView.as_view(), name="image-sam-decode"),
    path("images/<id:pk>/proposals/", sam.ImageProposalsView.as_view(), name="image-proposals"),
    path("images/<id:pk>/scribble-proposal/", scribbles.ImageScribbleProposalView.as_view(),
         name="image-scribble-proposal"),
    path("images/<id:pk>/annotations/", annotations.ImageAnnotationsView.as_view(), name="image-annotations"),
    path("annotations/<id:pk>/", annotations.AnnotationDetailView.as_view(), name="annotation-detail"),
    path("annotations/<id:pk>/tiles/<id:tx>/<id:ty>/", annotations.AnnotationTileView.as_view(),
         name="annotation-tile"),
    path("annotations/<id:pk>/save/", annotations.AnnotationSaveView.as_view(), name="annotation-save"),
    path("annotations/<id:pk>/revisions/", annotations.AnnotationRevisionsView.as_view(),
         name="annotation-revisions"),
    path("sam/", sam.SamStatusView.as_view(), name="sam-status"),
    path("sam/decoder/", sam.SamDecoderView.as_view(), name="sam-decoder"),
    path("jobs/<id:pk>/", jobs.JobDetailView.as_view(), name="job-detail"),
    path("jobs/<id:pk>/cancel/", jobs.JobCancelView.as_view(), name="job-cancel"),
    path("jobs/<id:pk>/download/", exports.JobDownloadView.as_view(), name="job-download"),
    path("projects/<id:project_pk>/exports/", exports.ProjectExportsView.as_view(), name="project-exports"),
    path("projects/<id:project_pk>/imports/", imports.ProjectImportsView.as_view(), name="project-imports"),
    path("projects/<id:project_pk>/evaluations/", evaluations.ProjectEvaluationsView.as_view(),
         name="project-evaluations"),
    path("projects/<id:project_pk>/versions/", versions.ProjectVersionsView.as_view(), name="project-versions"),
    path("versions/<id:pk>/", versions.VersionDetailView.as_view(), name="version-detail"),
    path("versions/<id:pk>/download/", versions.VersionDownloadView.as_view(), name="version-download"),
    path("versions/<id:pk>/manifest/", versions.VersionManifestView.as_view(), name="version-manifest"),
    path("projects/<id:project_pk>/models/", trained_models.ProjectModelsView.as_view(), name="project-models"),
    path("models/<id:pk>/", trained_models.TrainedModelDetailView.as_view(), name="model-detail"),
    path("models/<id:pk>/prelabel/", trained_models.TrainedModelPrelabelView.as_view(), name="model-prelabel"),
    path("projects/<id:project_pk>/models/train/", learning.ProjectTrainView.as_view(), name="project-models-train"),
    path("images/<id:pk>/uncertainty/", learning.ImageUncertaintyView.as_view(), name="image-uncertainty"),
    path("projects/<id:project_pk>/label-check/", learning.ProjectLabelCheckView.as_view(),
         name="project-label-check"),
    path("projects/<id:project_pk>/label-errors/", learning.ProjectLabelErrorsView.as_view(),
         name="project-label-errors"),
    # Workflow: task states, assignments, review decisions and comments.
    path("projects/<id:project_pk>/assignments/", workflow.ProjectAssignmentsView.as_view(),
         name="project-assignments"),
    path("projects/<id:project_pk>/next-task/", workflow.ProjectNextTaskView.as_view(), name="project-next-task"),
    path("projects/<id:project_pk>/next-review/", workflow.ProjectNextReviewView.as_view(),
         name="project-next-review"),
    path("projects/<id:project_pk>/dashboard/", workflow.ProjectDashboardView.as_view(), name="project-dashboard"),
    path("images/<id:pk>/approve/", workflow.ImageApproveView.as_view(), name="image-approve"),
    path("images/<id:pk>/reject/", workflow.ImageRejectView.as_view(), name="image-reject"),
    path("images/<id:pk>/reopen/", workflow.ImageReopenView.as_view(), name="image-reopen"),
    path("images/<id:pk>/task/", workflow.ImageTaskView.as_view(), name="image-task"),
    path("images/<id:pk>/transitions/", workflow.ImageTransitionsView.as_view(), name="image-transitions"),
    path("images/<id:pk>/agreement/", workflow.ImageAgreementView.as_view(), name="image-agreement"),
    path("images/<id:pk>/agreement/heatmap/", workflow.ImageDisagreementView.as_view(), name="image-disagreement"),
    path("images/<id:pk>/gold/", workflow.ImageGoldView.as_view(), name="image-gold"),
    path("annotations/<id:pk>/submit/", workflow.AnnotationSubmitView.as_view(), name="annotation-submit"),
    path("annotations/<id:pk>/segment-reviews/", workflow.AnnotationSegmentReviewsView.as_view(),
         name="annotation-segment-reviews"),
    path("annotations/<id:pk>/comments/", workflow.AnnotationCommentsView.as_view(), name="annotation-comments"),
    path("comments/<id:pk>/", workflow.CommentDetailView.as_view(), name="comment-detail"),
]
