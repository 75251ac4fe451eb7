from django.apps import AppConfig


class WorkersConfig(AppConfig):
    """Registers the Celery tasks in every Django process, so services can enqueue them by name, and the
    reconcile sweep that worker processes run."""

    name = "workers"

    def ready(self) -> None:
        from workers import reconcile, tasks  # noqa: F401 - importing registers the tasks and signal handlers
