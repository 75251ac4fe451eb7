from django.apps import AppConfig


class WorkersConfig(AppConfig):
    """Registers the Celery tasks in every Django process, so services can enqueue them by name."""

    name = "workers"

    def ready(self) -> None:
        from workers import tasks  # noqa: F401 - importing registers the tasks with the Celery app
