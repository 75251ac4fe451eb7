"""Store the per-image export artifacts of a project's approved images again, e.g. after its classes changed
(exports stay correct without this, computing what is missing; with it they only stream stored bytes)."""

from django.core.management.base import BaseCommand, CommandError

from labeling.models import Project
from labeling.services.export_artifacts import project_artifacts_rebuild


class Command(BaseCommand):
    help = "Refresh the export artifacts of every approved image of the given projects (in this process)."

    def add_arguments(self, parser):
        parser.add_argument("project_ids", nargs="+", type=int)

    def handle(self, *args, project_ids, **options):
        for project_id in project_ids:
            project = Project.objects.filter(pk=project_id).first()
            if project is None:
                raise CommandError(f"no project {project_id}")
            totals = project_artifacts_rebuild(project=project)
            self.stdout.write(f"project {project_id}: {totals['images']} images, {totals['stored']} artifacts "
                              f"stored, {totals['kept']} kept, {totals['removed']} stale ones removed")
