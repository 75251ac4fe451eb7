"""Celery tasks: thin adapters from a job id to a service. Task names are stable; services enqueue by name."""

from celery import shared_task

from labeling.services.image_processing import images_build_display
from labeling.services.jobs import job_run
from labeling.services.stored_files import stored_files_delete


@shared_task(name="workers.tasks.process_uploads", acks_late=True, reject_on_worker_lost=True)
def process_uploads(job_id: int) -> None:
    job_run(job_id, lambda job, progress: images_build_display(image_ids=job.params["image_ids"], progress=progress))


@shared_task(name="workers.tasks.delete_files", acks_late=True, reject_on_worker_lost=True)
def delete_files(job_id: int) -> None:
    job_run(job_id, lambda job, progress: stored_files_delete(job.params, progress=progress))
