from django.apps import AppConfig


class EvidenceConfig(AppConfig):
    name = "evidence"
    verbose_name = "Evidence"

    def ready(self) -> None:
        # SQLite connections get the Hamming-distance function the near-duplicate search uses.
        from evidence.similarity import connect_signals

        connect_signals()
