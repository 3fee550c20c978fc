"""Give the photos processed before the near-duplicate hashes (evidence.imaging.hashes) their
hashes, and record the near-duplicates those find.

A management command rather than a data migration: it reads every thumbnail from storage (S3
in a newsroom), runs for minutes on a large archive, can be stopped and started again (each
photo is its own transaction; a photo with hashes is skipped), and needs no worker or broker.
A migration would hold the deploy for all of that and run with the historical models, without
the storage or the imaging code. Run it once after deploying: `manage.py
backfill_near_duplicates` (or `--dry-run` to count)."""

from django.core.management.base import BaseCommand

from evidence.services.photos import photo_hashes_backfill, photos_without_hashes


class Command(BaseCommand):
    help = (
        "Compute the near-duplicate hashes of photos processed before them (from their stored "
        "thumbnails) and record the near-duplicates found. Safe to stop and run again."
    )

    def add_arguments(self, parser):
        parser.add_argument("--limit", type=int, default=None, help="At most this many photos.")
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Count the photos without hashes, change nothing.",
        )

    def handle(self, *args, limit: int | None, dry_run: bool, **options):
        pending = photos_without_hashes()
        if dry_run:
            self.stdout.write(f"{pending.count()} photo(s) without near-duplicate hashes.")
            return
        ids = list(
            pending.values_list("pk", flat=True)[:limit]
            if limit
            else pending.values_list("pk", flat=True)
        )
        done = skipped = matches = 0
        for photo_id in ids:
            found = photo_hashes_backfill(photo_id=photo_id)
            if found is None:
                skipped += 1
                continue
            done += 1
            matches += found
        self.stdout.write(
            f"Hashed {done} photo(s), {matches} near-duplicate match(es) recorded; "
            f"{skipped} skipped (changed meanwhile or thumbnail unreadable)."
        )
