"""Delete the bundles of exports past their retention (Celery beat runs the same every hour
through `exports_expire_task`)."""

from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils import timezone

from evidence.selectors import exports_past_retention
from evidence.services.exports import exports_expire


class Command(BaseCommand):
    help = (
        "Delete the bundles of exports written more than CASEFILE_EXPORT_RETENTION_DAYS ago "
        "and mark them expired; the export rows and their activity stay."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run", action="store_true", help="List the exports due, delete nothing."
        )

    def handle(self, *args, dry_run: bool, **options):
        days = settings.CASEFILE_EXPORT_RETENTION_DAYS
        if dry_run:
            due = exports_past_retention(now=timezone.now())
            for export in due:
                self.stdout.write(
                    f"export {export.pk} of case {export.case_id}: written "
                    f"{export.finished_at:%Y-%m-%d %H:%M}, {export.size} bytes"
                )
            self.stdout.write(
                f"{due.count()} export(s) older than {days} days; nothing deleted (--dry-run)."
            )
            return
        ids = exports_expire()
        self.stdout.write(f"Expired {len(ids)} export(s) older than {days} days.")
