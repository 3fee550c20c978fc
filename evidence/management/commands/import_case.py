"""Restore a case from an export bundle."""

import sys
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from evidence.bundle.manifest import BundleError
from evidence.bundle.reading import one_line
from evidence.services.imports import case_import


class Command(BaseCommand):
    help = (
        "Import a case from an export bundle (ZIP) as an open case: new ids, the same hashes, "
        "each item's custody record carried over and the import recorded. The bundle is "
        "verified first."
    )

    def add_arguments(self, parser):
        parser.add_argument("bundle", help="The bundle (.zip) to import.")
        parser.add_argument(
            "--owner", required=True, help="Username of the account that will own the case."
        )

    def handle(self, *args, **options):
        path = Path(options["bundle"])
        if not path.is_file():
            raise CommandError(f"No such file: {path}")
        owner = get_user_model().objects.filter(username=options["owner"], is_active=True).first()
        if owner is None:
            raise CommandError(f"No active user named {options['owner']!r}.")
        try:
            case = case_import(path=path, owner=owner)
        except BundleError as exc:
            # Refused, and nothing imported: one line, what is wrong with the bundle.
            self.stderr.write(f"BROKEN: {one_line(str(exc))}")
            sys.exit(1)
        self.stdout.write(
            self.style.SUCCESS(
                f"Imported case {case.pk} “{case.title}”: {case.evidence.count()} evidence "
                f"item(s), {case.claims.count()} claim(s); owner {owner.username}."
            )
        )
        # The case is committed whatever the broker does: say so, never report a failure
        # (a second run would import it twice).
        waiting = [d for d in case.processing if d.sent is False]
        if waiting:
            self.stdout.write(
                self.style.WARNING(
                    f"The task queue is unreachable: processing of {len(waiting)} photo(s) "
                    "will start once it is back (it is recorded with the case; the workers "
                    "send it when they reconnect). Do not import the bundle again."
                )
            )
