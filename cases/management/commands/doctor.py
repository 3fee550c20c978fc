"""`python manage.py doctor`: what this deployment is missing, in plain words.

Meant for the newcomer who has just set the environment variables and wonders why something
does not work: it looks at the settings, the database and its migrations, the broker and the
workers, the cache and the storage, and says for each what is fine, what is worth fixing and
what is broken, with the variable or command that fixes it. Exits 1 when anything is broken.
"""

import uuid
from dataclasses import dataclass

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor

from cases import signing, timestamps
from config.celery import app
from config.health import broker_check, cache_check
from config.settings import DEVELOPMENT_SECRET_KEY
from config.tesseract import tesseract_status

OK, WARN, FAIL = "ok", "warn", "FAIL"
MARKS = {OK: "  ok   ", WARN: "  warn ", FAIL: "  FAIL "}


@dataclass
class Finding:
    level: str
    text: str


class Command(BaseCommand):
    help = "Say in plain words what this deployment is missing (settings, services, storage)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--timeout",
            type=float,
            default=3.0,
            help="Seconds to wait for each service (default 3).",
        )

    def handle(self, *args, timeout: float, **options):
        self.timeout = timeout
        sections = [
            ("Settings", self.settings_findings),
            ("Database", self.database_findings),
            ("Broker and workers", self.broker_findings),
            ("Cache", self.cache_findings),
            ("Storage", self.storage_findings),
            ("Text in pictures (OCR)", self.ocr_findings),
        ]
        failures = warnings = 0
        for title, collect in sections:
            self.stdout.write(title)
            try:
                findings = collect()
            except Exception as exc:  # noqa: BLE001 - the doctor reports, it does not crash
                findings = [Finding(FAIL, f"Could not check: {type(exc).__name__}: {exc}")]
            for finding in findings:
                self.stdout.write(f"{MARKS[finding.level]}{finding.text}")
                failures += finding.level == FAIL
                warnings += finding.level == WARN
            self.stdout.write("")
        if failures:
            self.stdout.write(
                f"{failures} problem(s) to fix and {warnings} warning(s). "
                "See the README's Deploying section."
            )
            raise SystemExit(1)
        if warnings:
            self.stdout.write(f"No problems; {warnings} warning(s) worth a look.")
        else:
            self.stdout.write("Everything this doctor knows how to check is in order.")

    # --- OCR --------------------------------------------------------------------------------

    def ocr_findings(self) -> list[Finding]:
        """Tesseract and the default languages: without them the OCR step is skipped, with a
        note on each photo and scan (nothing else depends on it, hence a warning)."""
        if not settings.CASEFILE_OCR:
            return [Finding(WARN, "CASEFILE_OCR is off: text in photos and scans is not read.")]
        status = tesseract_status()
        if not status.available:
            return [Finding(WARN, f"{status.problem} Each photo and scan says it was skipped.")]
        found = [
            Finding(
                OK,
                f"{status.version} at {status.command}; languages installed: "
                f"{', '.join(status.languages) or 'none'}.",
            )
        ]
        wanted = [n for n in settings.CASEFILE_OCR_LANGUAGES.split("+") if n]
        missing = [n for n in wanted if n not in status.languages]
        if missing:
            found.append(
                Finding(
                    WARN,
                    f"CASEFILE_OCR_LANGUAGES asks for {', '.join(missing)}, not installed: "
                    "install tesseract-ocr-"
                    + " tesseract-ocr-".join(n.replace("_", "-") for n in missing)
                    + " (or take them out of CASEFILE_OCR_LANGUAGES).",
                )
            )
        return found

    # --- Settings -------------------------------------------------------------------------

    def settings_findings(self) -> list[Finding]:
        found = []
        if settings.DEBUG:
            found.append(
                Finding(
                    WARN,
                    "DEBUG is on: fine on a laptop, never on a server (it shows tracebacks and "
                    "settings to anyone). Set DEBUG=0.",
                )
            )
        else:
            found.append(Finding(OK, "DEBUG is off."))
        if settings.SECRET_KEY == DEVELOPMENT_SECRET_KEY:
            found.append(
                Finding(
                    WARN if settings.DEBUG else FAIL,
                    "SECRET_KEY is the built-in development key. Set SECRET_KEY to 50+ random "
                    "characters and keep it secret (sessions and tokens depend on it).",
                )
            )
        if not settings.DEBUG:
            if settings.SECURE_PROXY_SSL_HEADER is None and settings.SECURE_SSL_REDIRECT:
                found.append(
                    Finding(
                        WARN,
                        "USE_X_FORWARDED_PROTO is off. Behind a reverse proxy that terminates "
                        "TLS, every request looks like plain HTTP and is redirected forever; "
                        "set USE_X_FORWARDED_PROTO=1 if your proxy sets X-Forwarded-Proto.",
                    )
                )
            if not settings.CSRF_TRUSTED_ORIGINS:
                found.append(
                    Finding(
                        WARN,
                        "CSRF_TRUSTED_ORIGINS is empty: if forms fail with 'CSRF verification "
                        "failed', set it to your site's origin, e.g. https://casefile.example.org.",
                    )
                )
        found.append(self._signing_finding())
        found.append(self._tsa_finding())
        found.extend(self._static_findings())
        # Django's own deployment checklist (`check --deploy`), in its words.
        before = len(found)
        for message in checks.run_checks(include_deployment_checks=True):
            if message.level < checks.WARNING or message.is_silenced():
                continue
            if settings.DEBUG and message.id in _DEVELOPMENT_NOISE:
                continue
            hint = f" {message.hint}" if message.hint else ""
            level = FAIL if message.level >= checks.ERROR else WARN
            found.append(Finding(level, f"{message.id}: {message.msg}{hint}".replace("\n", " ")))
        if len(found) == before:
            found.append(Finding(OK, "Django's deployment checklist passes."))
        return found

    def _signing_finding(self) -> Finding:
        """The newsroom key that signs checkpoints and exports: without one, with DEBUG off,
        every export fails. Never generates one (the doctor changes nothing)."""
        path = signing.key_path()
        if settings.CASEFILE_SIGNING_KEY or path.exists():
            try:
                key = signing.signing_key()
            except (ImproperlyConfigured, OSError) as exc:
                return Finding(FAIL, f"The signing key cannot be read: {exc}")
            return Finding(
                OK,
                f"Signing key {signing.fingerprint(key.public_key())} (published at "
                "/.well-known/casefile-signing-key; keep a backup of the private key).",
            )
        if settings.CASEFILE_SIGNING_KEY_GENERATE:
            return Finding(
                OK if settings.DEBUG else WARN,
                f"No signing key yet: one is generated at {path} on first use. On a server, "
                "make it yourself and back it up: `python manage.py casefile_key generate`.",
            )
        return Finding(
            FAIL,
            f"No signing key: exports and checkpoints cannot be signed. Run `python manage.py "
            f"casefile_key generate` (it writes {path}), or set CASEFILE_SIGNING_KEY_FILE or "
            "CASEFILE_SIGNING_KEY.",
        )

    def _tsa_finding(self) -> Finding:
        """The timestamp authority (RFC 3161): not configured, or configured and whether it
        gives a valid token now (over the SHA-256 of a fixed text: nothing of a case)."""
        url = timestamps.tsa_url()
        if not url:
            return Finding(
                OK,
                "No timestamp authority configured (CASEFILE_TSA_URL): checkpoints, originals "
                'and exports are signed but not timestamped; custody records say "no trusted '
                'timestamp". Set CASEFILE_TSA_URL (and CASEFILE_TSA_CA_FILE) to add them.',
            )
        try:
            roots = timestamps.tsa_certificates()
        except (OSError, ValueError) as exc:
            return Finding(
                FAIL, f"CASEFILE_TSA_CA_FILE {settings.CASEFILE_TSA_CA_FILE} cannot be read: {exc}"
            )
        try:
            token = timestamps.token_fetch(
                timestamps.sha256(b"casefile doctor"), timeout=self.timeout
            )
        except timestamps.TimestampUnavailable as exc:
            return Finding(
                WARN,
                f"Timestamp authority configured but not usable now: {exc}. Nothing fails for "
                "it; what is left without a timestamp is filled in once it answers.",
            )
        info = timestamps.token_read(token)
        pinned = (
            f"checked against CASEFILE_TSA_CA_FILE ({len(roots)} certificate(s))"
            if roots
            else "checked against the root it carries: set CASEFILE_TSA_CA_FILE to pin the root"
        )
        return Finding(
            OK if roots else WARN,
            f"Timestamp authority {url} reachable: a token from {info.tsa} at "
            f"{info.at.isoformat()}, {pinned}.",
        )

    def _static_findings(self) -> list[Finding]:
        from django.contrib.staticfiles.storage import staticfiles_storage

        manifest = getattr(staticfiles_storage, "manifest_name", None)
        if manifest is None:
            return []
        if not staticfiles_storage.exists(manifest):
            return [
                Finding(
                    FAIL,
                    f"Static files are not collected in {settings.STATIC_ROOT}: every page would "
                    "fail. Run: python manage.py collectstatic --noinput (the Docker image does).",
                )
            ]
        return [Finding(OK, "Static files are collected.")]

    # --- Database -------------------------------------------------------------------------

    def database_findings(self) -> list[Finding]:
        connection = connections[DEFAULT_DB_ALIAS]
        try:
            connection.ensure_connection()
        except Exception as exc:  # noqa: BLE001
            return [
                Finding(
                    FAIL,
                    f"Cannot reach the database ({type(exc).__name__}: {exc}). Check "
                    "DATABASE_URL and that the database server is running.",
                )
            ]
        found = [Finding(OK, f"The database answers ({connection.vendor}).")]
        if connection.vendor == "sqlite" and not settings.DEBUG:
            found.append(
                Finding(
                    WARN,
                    "The database is SQLite: enough for one person trying Casefile out. A "
                    "newsroom uses PostgreSQL: DATABASE_URL=postgres://user:password@host/db.",
                )
            )
        executor = MigrationExecutor(connection)
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
        if plan:
            names = ", ".join(f"{m.app_label}.{m.name}" for m, _ in plan[:5])
            more = f" and {len(plan) - 5} more" if len(plan) > 5 else ""
            found.append(
                Finding(
                    FAIL,
                    f"{len(plan)} migration(s) not applied ({names}{more}). "
                    "Run: python manage.py migrate",
                )
            )
        else:
            found.append(Finding(OK, "Every migration is applied."))
            from django.contrib.auth import get_user_model

            if not get_user_model().objects.exists():
                found.append(
                    Finding(
                        WARN,
                        "There are no user accounts yet. Create the first one with: "
                        "python manage.py createsuperuser",
                    )
                )
        return found

    # --- Broker and workers ---------------------------------------------------------------

    def broker_findings(self) -> list[Finding]:
        if settings.CELERY_BROKER_URL.startswith("memory://"):
            level = OK if settings.DEBUG else WARN
            return [
                Finding(
                    level,
                    "No broker (REDIS_URL is not set): photos are processed inside the web "
                    "request. Fine for one machine; a newsroom sets REDIS_URL and runs workers.",
                )
            ]
        try:
            broker_check()
        except Exception as exc:  # noqa: BLE001
            return [
                Finding(
                    FAIL,
                    f"Cannot reach the broker ({type(exc).__name__}). Check REDIS_URL (with the "
                    "password, redis://:password@host:6379/0) and that Redis is running.",
                )
            ]
        found = [Finding(OK, "The broker (Redis) answers.")]
        if settings.CELERY_TASK_ALWAYS_EAGER:
            found.append(
                Finding(
                    WARN,
                    "CELERY_TASK_ALWAYS_EAGER is on although there is a broker: tasks run in "
                    "the web process and the workers stay idle. Unset it.",
                )
            )
        replies = app.control.inspect(timeout=self.timeout).active_queues() or {}
        if not replies:
            found.append(
                Finding(
                    FAIL,
                    "No Celery worker answers: uploaded photos will wait in the queue. Start "
                    "workers (docker-compose up worker export-worker, or make worker).",
                )
            )
            return found
        consumed: dict[str, int] = {}
        for queues in replies.values():
            for queue in queues:
                consumed[queue["name"]] = consumed.get(queue["name"], 0) + 1
        found.append(Finding(OK, f"{len(replies)} worker(s) answer."))
        purposes = {
            settings.CELERY_INGEST_QUEUE: "photo processing",
            settings.CELERY_EXPORT_QUEUE: "case exports",
            settings.CELERY_TASK_DEFAULT_QUEUE: "the reconciler and other jobs",
        }
        for queue, purpose in purposes.items():
            if consumed.get(queue):
                found.append(
                    Finding(OK, f"Queue '{queue}' ({purpose}): {consumed[queue]} worker(s).")
                )
            else:
                found.append(
                    Finding(
                        FAIL,
                        f"No worker reads queue '{queue}', so {purpose} never happen. Start "
                        f"one with: celery -A config worker -Q {queue}",
                    )
                )
        return found

    # --- Cache ----------------------------------------------------------------------------

    def cache_findings(self) -> list[Finding]:
        location = settings.CACHES["default"].get("LOCATION", "")
        if not (isinstance(location, str) and location.startswith(("redis://", "rediss://"))):
            level = OK if settings.DEBUG else WARN
            return [
                Finding(
                    level,
                    "The cache is per process (CACHE_URL is not set): with several gunicorn "
                    "workers each counts API throttles on its own. Set CACHE_URL to a Redis "
                    "database, e.g. redis://:password@redis:6379/1.",
                )
            ]
        try:
            cache_check()
        except Exception as exc:  # noqa: BLE001
            return [
                Finding(FAIL, f"Cannot reach the cache ({type(exc).__name__}). Check CACHE_URL.")
            ]
        return [Finding(OK, "The shared cache (Redis) answers.")]

    # --- Storage --------------------------------------------------------------------------

    def storage_findings(self) -> list[Finding]:
        from django.core.files.base import ContentFile
        from django.core.files.storage import default_storage

        bucket = getattr(default_storage, "bucket_name", None)
        found = []
        if bucket:
            where = f"bucket '{bucket}'"
        else:
            where = f"the local folder {default_storage.location}"
            if not settings.DEBUG:
                found.append(
                    Finding(
                        WARN,
                        "Files are on this machine's disk (STORAGE_BUCKET is not set): every web "
                        "and worker container must share that folder, and backups must include "
                        "it. Several machines need S3-compatible storage (STORAGE_BUCKET).",
                    )
                )
        probe = f"doctor/{uuid.uuid4().hex}.txt"
        try:
            name = default_storage.save(probe, ContentFile(b"casefile doctor probe"))
            with default_storage.open(name, "rb") as handle:
                handle.read()
        except Exception as exc:  # noqa: BLE001
            found.append(
                Finding(
                    FAIL,
                    f"Cannot write and read a file in {where} ({type(exc).__name__}: {exc}). "
                    + (
                        "Check STORAGE_BUCKET, STORAGE_ENDPOINT_URL and the access keys."
                        if bucket
                        else "Check MEDIA_ROOT and that the app's user may write there."
                    ),
                )
            )
            return found
        try:
            found.append(Finding(OK, f"Files can be written to and read from {where}."))
            if bucket:
                found.append(self._public_read_finding(default_storage, name))
        finally:
            default_storage.delete(name)
        return found

    def _public_read_finding(self, storage, name: str) -> Finding:
        """Originals must not be readable without credentials: try, as an anonymous client."""
        import boto3
        from botocore import UNSIGNED
        from botocore.config import Config
        from botocore.exceptions import ClientError

        client = storage.connection.meta.client
        anonymous = boto3.client(
            "s3",
            endpoint_url=client.meta.endpoint_url,
            region_name=client.meta.region_name,
            config=Config(signature_version=UNSIGNED, connect_timeout=self.timeout, retries={}),
        )
        key = storage._normalize_name(name)
        try:
            anonymous.get_object(Bucket=storage.bucket_name, Key=key)
        except ClientError:
            return Finding(OK, "The bucket refuses anonymous reads: originals stay private.")
        return Finding(
            FAIL,
            f"Anyone can read files in bucket '{storage.bucket_name}' without credentials: "
            "originals and protected material are public. Make the bucket private (remove "
            "public-read policies and ACLs).",
        )


# Deployment checks that only restate "this is a development setup" while DEBUG is on.
_DEVELOPMENT_NOISE = {
    "security.W004",
    "security.W008",
    "security.W009",
    "security.W012",
    "security.W016",
    "security.W018",
    "security.W020",
}
