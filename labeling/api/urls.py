from django.urls import path

from labeling.api import annotations, auth, classes, images, jobs, members, projects

urlpatterns = [
    path("auth/token/", auth.TokenView.as_view(), name="auth-token"),
    path("auth/me/", auth.MeView.as_view(), name="auth-me"),
    path("auth/login/", auth.SessionLoginView.as_view(), name="auth-login"),
    path("auth/logout/", auth.SessionLogoutView.as_view(), name="auth-logout"),
    path("projects/", projects.ProjectListView.as_view(), name="project-list"),
    path("projects/<int:pk>/", projects.ProjectDetailView.as_view(), name="project-detail"),
    path("projects/<int:project_pk>/classes/", classes.ProjectClassesView.as_view(), name="project-classes"),
    path("projects/<int:project_pk>/members/", members.ProjectMembersView.as_view(), name="project-members"),
    path("projects/<int:project_pk>/images/", images.ProjectImagesView.as_view(), name="project-images"),
    path("projects/<int:project_pk>/jobs/", jobs.ProjectJobsView.as_view(), name="project-jobs"),
    path("classes/<int:pk>/", classes.LabelClassDetailView.as_view(), name="class-detail"),
    path("members/<int:pk>/", members.MemberDetailView.as_view(), name="member-detail"),
    path("images/<int:pk>/", images.ImageDetailView.as_view(), name="image-detail"),
    path("images/<int:pk>/file/", images.ImageFileView.as_view(), name="image-file"),
    path("images/<int:pk>/thumbnail/", images.ImageThumbnailView.as_view(), name="image-thumbnail"),
    path("images/<int:pk>/tiles/<int:level>/<int:x>/<int:y>/", images.ImagePyramidTileView.as_view(),
         name="image-tile"),
    path("images/<int:pk>/annotations/", annotations.ImageAnnotationsView.as_view(), name="image-annotations"),
    path("annotations/<int:pk>/", annotations.AnnotationDetailView.as_view(), name="annotation-detail"),
    path("annotations/<int:pk>/tiles/<int:tx>/<int:ty>/", annotations.AnnotationTileView.as_view(),
         name="annotation-tile"),
    path("annotations/<int:pk>/save/", annotations.AnnotationSaveView.as_view(), name="annotation-save"),
    path("annotations/<int:pk>/revisions/", annotations.AnnotationRevisionsView.as_view(),
         name="annotation-revisions"),
    path("jobs/<int:pk>/", jobs.JobDetailView.as_view(), name="job-detail"),
    path("jobs/<int:pk>/cancel/", jobs.JobCancelView.as_view(), name="job-cancel"),
]
