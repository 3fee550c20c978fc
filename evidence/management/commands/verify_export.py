"""Check a case bundle against its manifest, without the database."""

import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

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
        manifest = check.manifest or {}
        case = manifest.get("case") or {}
        if case:
            self.stdout.write(
                f"Bundle of case “{case.get('title')}” exported {manifest.get('exported_at')} "
                f"by {manifest.get('exported_by')}: {check.checked} file(s) checked, "
                f"{len(manifest.get('evidence', []))} evidence item(s), "
                f"{manifest.get('activity', {}).get('rows', 0)} activity row(s)."
            )
        if check.problems:
            for problem in check.problems:
                self.stdout.write(f"  BROKEN {problem}")
            self.stderr.write(f"Bundle check FAILED: {len(check.problems)} problem(s).")
            sys.exit(1)
        self.stdout.write(self.style.SUCCESS("Bundle intact: every file matches its manifest."))
