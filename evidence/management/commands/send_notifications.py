"""Send the notification emails that are due (every worker's recovery runs the same every few
seconds; this is for the embedded setup, which runs no worker: cron it, or run it by hand)."""

from django.core.management.base import BaseCommand

from evidence.services.notifications import notifications_email


class Command(BaseCommand):
    help = (
        "Email each notification of those who chose 'at once', and the daily summary of those "
        "who chose it (once a day); nothing is sent twice."
    )

    def handle(self, *args, **options):
        sent = notifications_email()
        self.stdout.write(f"{sent} email{'s' if sent != 1 else ''} sent.")
