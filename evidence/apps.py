from django.apps import AppConfig


class EvidenceConfig(AppConfig):
    name = "evidence"
    verbose_name = "Evidence"

    def ready(self) -> None:
        # SQLite connections get the Hamming-distance function the near-duplicate search uses.
        from cases.activity import activity_listen
        from evidence.services.notifications import notifications_on_activity
        from evidence.similarity import connect_signals
        from evidence.webhooks import webhooks_on_activity

        connect_signals()
        # Events for the case's webhooks, from every row of its activity record.
        activity_listen(webhooks_on_activity)
        # Notifications of claims sent for review, decided or reopened, and webhooks disabled.
        activity_listen(notifications_on_activity)
