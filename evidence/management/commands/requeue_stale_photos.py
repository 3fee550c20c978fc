"""Queue processing again for photos whose work was lost: abandoned by a dead worker (the lease
ran out) or pending too long (every worker's recovery does the same every few seconds)."""

from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand

from evidence.services.photos import photos_requeue_stale, photos_stale


class Command(BaseCommand):
    help = (
        "Queue again the photos abandoned by a dead worker (their lease ran out) and those "
        "pending for longer than CASEFILE_STALE_AFTER_SECONDS."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--older-than",
            type=int,
            default=settings.CASEFILE_STALE_AFTER_SECONDS,
            help="Seconds a photo must have been pending (default: %(default)s).",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="List the stuck photos, queue nothing."
        )

    def handle(self, *args, older_than: int, dry_run: bool, **options):
        age = timedelta(seconds=older_than)
        if dry_run:
            stuck = list(photos_stale(older_than=age).values_list("pk", "status"))
            for photo_id, status in stuck:
                self.stdout.write(f"photo {photo_id}: {status}")
            self.stdout.write(f"{len(stuck)} stuck photo(s); nothing queued (--dry-run).")
            return
        ids = photos_requeue_stale(older_than=age)
        self.stdout.write(f"Queued {len(ids)} stuck photo(s) again.")
