"""Index every case's items for search again: after an upgrade that added the index, or to
repair it. The services keep it current otherwise."""

from django.core.management.base import BaseCommand
from django.db import transaction

from cases.models import Case
from evidence.search import search_reindex


class Command(BaseCommand):
    help = "Rebuild the search index of every case (or of the cases named by id)."

    def add_arguments(self, parser):
        parser.add_argument("case_ids", nargs="*", type=int, help="Only these cases.")

    def handle(self, *args, case_ids, **options):
        cases = Case.objects.order_by("pk")
        if case_ids:
            cases = cases.filter(pk__in=case_ids)
        for case in cases:
            with transaction.atomic():
                written = search_reindex(case=case)
            self.stdout.write(f"case {case.pk}: {written} entries")
