"""`manage.py reconcile`: one pass of the sweep every worker runs periodically, including the stored-files pass
(orphan files). Safe to run at any time, beside running workers; prints what it did as JSON."""

import json

from django.core.management.base import BaseCommand

from labeling.services.reconcile import reconcile


class Command(BaseCommand):
    help = ("Re-send lost job messages, re-run jobs whose worker died, rebuild missing derived data, remove stale "
            "temp files and orphan stored files.")

    def add_arguments(self, parser):
        parser.add_argument("--no-files", action="store_true", help="skip the stored-files (orphan) pass")

    def handle(self, *args, no_files: bool = False, **options):
        report = reconcile(files=not no_files)
        self.stdout.write(json.dumps(report, indent=2, sort_keys=True))
