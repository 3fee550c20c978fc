"""Recompute every original's SHA-256 and every case's activity chain; exit non-zero on any
mismatch."""

import sys

from django.core.management.base import BaseCommand, CommandError

from cases.models import Case
from cases.timestamps import NO_TIMESTAMP
from evidence.services.custody import custody_verify


class Command(BaseCommand):
    help = (
        "Check the chain of custody: recompute the SHA-256 of every stored original and the "
        "hash chain of every case's activity record, and compare each chain with the case's "
        "signed checkpoints (a deleted tail, a rewritten row, a reordered pair). Prints intact "
        "or broken per item and per case; exits with status 1 if anything does not match."
    )

    def add_arguments(self, parser):
        parser.add_argument("--case", type=int, help="Check only this case (its id).")

    def handle(self, *args, **options):
        cases = Case.objects.order_by("id")
        if options["case"] is not None:
            cases = cases.filter(pk=options["case"])
            if not cases.exists():
                raise CommandError(f"No case with id {options['case']}.")
        broken = 0
        items = 0
        for case in cases.iterator():
            check = custody_verify(case=case)
            chain = "intact" if not check.problems else "BROKEN"
            self.stdout.write(
                f"case {case.pk} “{case.title}”: activity chain {chain} ({check.rows} rows)"
            )
            latest = check.latest_checkpoint
            if latest is None:
                self.stdout.write("  no signed checkpoint yet: a deleted tail would go unseen")
            elif not check.problems:
                self.stdout.write(
                    f"  {check.checkpoints} signed checkpoint(s) match the chain (latest: "
                    f"{latest.rows} rows at {latest.created_at.isoformat()}, key "
                    f"{latest.key_fingerprint})"
                )
            if latest is not None:
                self.stdout.write(f"  latest checkpoint: {_stamped(check.latest_timestamp)}")
            for problem in check.problems:
                self.stdout.write(f"  BROKEN {problem}")
            for item in check.items:
                items += 1
                state = "BROKEN" if item.state == "broken" else item.state
                digest = f" sha256 {item.sha256}" if item.sha256 else ""
                stamped = f"; {_stamped(item.timestamp)}" if item.sha256 else ""
                self.stdout.write(
                    f"  evidence {item.evidence_id} “{item.label}”: {state}{digest}{stamped}"
                )
                for problem in item.problems:
                    self.stdout.write(f"    - {problem}")
            if not check.intact:
                broken += 1
        if broken:
            self.stderr.write(f"Custody check FAILED: {broken} case(s) with a mismatch.")
            sys.exit(1)
        self.stdout.write(self.style.SUCCESS(f"Custody intact: {items} item(s) checked."))


def _stamped(stamp) -> str:
    if stamp is None:
        return NO_TIMESTAMP
    return f"timestamped by {stamp.tsa} at {stamp.generated_at.isoformat()} (serial {stamp.serial})"
