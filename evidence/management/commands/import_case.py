"""Restore a case from an export bundle."""

import sys
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from cases import signing
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
        trust = parser.add_mutually_exclusive_group()
        trust.add_argument("--key", help="The signer's public key (PEM) the bundle must bear.")
        trust.add_argument("--fingerprint", help="The hex SHA-256 of the signer's raw public key.")
        parser.add_argument(
            "--accept-unsigned",
            action="store_true",
            help="Import an unsigned bundle (older formats) whose files and chain hold; the "
            "import records that it was unsigned.",
        )

    def handle(self, *args, **options):
        path = Path(options["bundle"])
        if not path.is_file():
            raise CommandError(f"No such file: {path}")
        owner = get_user_model().objects.filter(username=options["owner"], is_active=True).first()
        if owner is None:
            raise CommandError(f"No active user named {options['owner']!r}.")
        key = None
        if options["key"]:
            try:
                key = signing.public_key_parse(Path(options["key"]).read_bytes())
            except (OSError, ValueError) as exc:
                raise CommandError(f"--key {options['key']}: {exc}") from None
        try:
            case = case_import(
                path=path,
                owner=owner,
                accept_unsigned=options["accept_unsigned"],
                key=key,
                fingerprint=options["fingerprint"],
            )
        except BundleError as exc:
            # Refused, and nothing imported: one line, what is wrong with the bundle.
            self.stderr.write(f"BROKEN: {one_line(str(exc))}")
            sys.exit(1)
        signature = case.activity.filter(verb="case.imported").get().data["signature"]
        signed = (
            f"signed by key {signature['key_fingerprint']}"
            if signature["state"] == "signed"
            else "UNSIGNED (accepted)"
        )
        self.stdout.write(
            self.style.SUCCESS(
                f"Imported case {case.pk} “{one_line(case.title)}” ({signed}): "
                f"{case.evidence.count()} evidence item(s), {case.claims.count()} claim(s); "
                f"owner {owner.username}."
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
