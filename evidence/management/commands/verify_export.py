"""Check a case bundle against its manifest, without the database."""

import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from evidence.bundle.reading import one_line
from evidence.bundle.verify import bundle_verify


class Command(BaseCommand):
    help = (
        "Verify a case export (ZIP): every file against the SHA-256 in its manifest, every "
        "original against its evidence's SHA-256, the manifest against SHA256SUMS and the "
        "activity chain it carries. Needs no database. Exits with status 1 on any mismatch."
    )
    requires_system_checks = []
    requires_migrations_checks = False

    def add_arguments(self, parser):
        parser.add_argument("bundle", help="The bundle (.zip) to check.")

    def handle(self, *args, **options):
        path = Path(options["bundle"])
        if not path.is_file():
            raise CommandError(f"No such file: {path}")
        check = bundle_verify(path)
        if check.manifest is None:
            # Refused before its files were checked: one line, what is wrong with it.
            self.stderr.write(f"BROKEN: {one_line(check.problems[0])}")
            sys.exit(1)
        manifest = check.manifest
        # What the bundle says of itself, on one line (a title could hold a line break).
        self.stdout.write(
            one_line(
                f"Bundle of case “{manifest['case']['title']}” exported "
                f"{manifest['exported_at']} by {manifest['exported_by']}: {check.checked} "
                f"file(s) checked, {len(manifest['evidence'])} evidence item(s), "
                f"{manifest['activity']['rows']} activity row(s).",
                limit=1000,
            )
        )
        if check.problems:
            for problem in check.problems:
                self.stdout.write(f"  BROKEN {one_line(problem)}")
            self.stderr.write(f"Bundle check FAILED: {len(check.problems)} problem(s).")
            sys.exit(1)
        self.stdout.write(self.style.SUCCESS("Bundle intact: every file matches its manifest."))
