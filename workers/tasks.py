"""Celery tasks: thin adapters from a job id to a service. Task names are stable; services enqueue by name."""

from celery import shared_task

from labeling.services.evaluations import evaluation_run
from labeling.services.export_artifacts import export_artifacts_refresh
from labeling.services.exports import export_run
from labeling.services.image_processing import images_build_display
from labeling.services.imports import import_run
from labeling.services.jobs import job_run
from labeling.services.sam import embeddings_compute, proposals_generate
from labeling.services.stored_files import stored_files_delete
from labeling.services.superpixels import superpixels_run
from labeling.services.trained_models import prelabel_run


@shared_task(name="workers.tasks.process_uploads", acks_late=True, reject_on_worker_lost=True)
def process_uploads(job_id: int) -> None:
    job_run(job_id, lambda job, progress: images_build_display(image_ids=job.params["image_ids"], progress=progress))


@shared_task(name="workers.tasks.delete_files", acks_late=True, reject_on_worker_lost=True)
def delete_files(job_id: int) -> None:
    job_run(job_id, lambda job, progress: stored_files_delete(job.params, progress=progress))


@shared_task(name="workers.tasks.compute_superpixels", acks_late=True, reject_on_worker_lost=True)
def compute_superpixels(job_id: int) -> None:
    job_run(job_id, lambda job, progress: superpixels_run(image_ids=job.params["image_ids"], progress=progress))


@shared_task(name="workers.tasks.run_prelabel", acks_late=True, reject_on_worker_lost=True)
def run_prelabel(job_id: int) -> None:
    job_run(job_id, lambda job, progress: prelabel_run(job=job, progress=progress))


@shared_task(name="workers.tasks.compute_embeddings", acks_late=True, reject_on_worker_lost=True)
def compute_embeddings(job_id: int) -> None:
    job_run(job_id, lambda job, progress: embeddings_compute(image_ids=job.params["image_ids"], progress=progress))


@shared_task(name="workers.tasks.segment_everything", acks_late=True, reject_on_worker_lost=True)
def segment_everything(job_id: int) -> None:
    job_run(job_id, lambda job, progress: proposals_generate(image_id=job.params["image_id"], progress=progress))


@shared_task(name="workers.tasks.run_export", acks_late=True, reject_on_worker_lost=True)
def run_export(job_id: int) -> None:
    job_run(job_id, lambda job, progress: export_run(job=job, progress=progress))


@shared_task(name="workers.tasks.refresh_export_artifacts", acks_late=True, reject_on_worker_lost=True)
def refresh_export_artifacts(image_id: int, annotation_id: int | None = None) -> None:
    # Not a job row: one per approval, idempotent by content (files named by their key), nothing to watch.
    export_artifacts_refresh(image_id=image_id, annotation_id=annotation_id)


@shared_task(name="workers.tasks.run_import", acks_late=True, reject_on_worker_lost=True)
def run_import(job_id: int) -> None:
    job_run(job_id, lambda job, progress: import_run(job=job, progress=progress))


@shared_task(name="workers.tasks.run_evaluation", acks_late=True, reject_on_worker_lost=True)
def run_evaluation(job_id: int) -> None:
    job_run(job_id, lambda job, progress: evaluation_run(job=job, progress=progress))


@shared_task(name="workers.tasks.train_model", acks_late=True, reject_on_worker_lost=True)
def train_model(job_id: int) -> None:
    # Heavy (scikit-learn, via the pixel classifier): imported by the worker that trains, never by a web process
    # (which loads this module to send tasks).
    from labeling.services.training import training_run

    job_run(job_id, lambda job, progress: training_run(job=job, progress=progress))


@shared_task(name="workers.tasks.check_labels", acks_late=True, reject_on_worker_lost=True)
def check_labels(job_id: int) -> None:
    # Heavy (scikit-learn), as for train_model.
    from labeling.services.label_check import label_check_run

    job_run(job_id, lambda job, progress: label_check_run(job=job, progress=progress))
