"""Casefile settings: one file, read from the environment.

The defaults are safe for development on one machine (SQLite, local media, tasks run in-process);
a deployment changes behaviour only through the variables listed in `.env.example`.
"""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from kombu import Queue

from config.storage import default_storage_from_env

BASE_DIR = Path(__file__).resolve().parent.parent

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_bool(name: str, default: bool) -> bool:
    """Read a yes/no variable; a typo fails loudly instead of silently meaning "no".

    Empty means the default (as .env.example says): docker-compose passes `${VAR:-}` as an
    empty string, which must never quietly switch a production protection off."""
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be 1/0, true/false, yes/no or on/off; got {raw!r}")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw.strip().replace("_", ""))
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer; got {raw!r}") from None


def env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return float(raw.strip())
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, not {raw!r}.") from None


def env_list(name: str, default: list[str]) -> list[str]:
    """Read a comma-separated list; blank items are dropped."""
    raw = os.environ.get(name)
    if raw is None:
        return list(default)
    return [item.strip() for item in raw.split(",") if item.strip()]


# --- Core -----------------------------------------------------------------------------------

DEBUG = env_bool("DEBUG", True)

# Only ever good enough for a laptop: refused below whenever DEBUG is off.
DEVELOPMENT_SECRET_KEY = "django-insecure-casefile-development-key-do-not-deploy"  # noqa: S105
SECRET_KEY = os.environ.get("SECRET_KEY", "") or DEVELOPMENT_SECRET_KEY

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

if not DEBUG:
    if SECRET_KEY == DEVELOPMENT_SECRET_KEY:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    # The same bar as `check --deploy` (security.W009): long and not a placeholder.
    if len(SECRET_KEY) < 50 or len(set(SECRET_KEY)) < 5 or SECRET_KEY.startswith("django-insecure"):
        raise ImproperlyConfigured(
            "SECRET_KEY is too weak: use at least 50 random characters, e.g. the output of "
            "`python -c 'import secrets; print(secrets.token_urlsafe(50))'`."
        )
    if not ALLOWED_HOSTS:
        raise ImproperlyConfigured("ALLOWED_HOSTS must be set when DEBUG is off.")

# --- Transport and browser security (production defaults whenever DEBUG is off) -------------

# Behind a TLS-terminating reverse proxy that sets X-Forwarded-Proto. Only ever on request:
# trusting the header without such a proxy lets any client claim its request came over HTTPS.
if env_bool("USE_X_FORWARDED_PROTO", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# How many proxies in front of the app append to X-Forwarded-For; 0 trusts none of it. With a
# count, config.proxy.ForwardedForMiddleware puts the client's address in REMOTE_ADDR, which the
# login lockout, the API throttles and the logs all read.
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
# Probes from the orchestrator come over plain HTTP inside the private network.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
# A page with the site's stylesheet: Django's own styles itself inline, which CSP refuses.
CSRF_FAILURE_VIEW = "web.errors.csrf_failure"
# The CSRF cookie stays readable by our own scripts (htmx may send it as a header); HttpOnly on
# it protects nothing (Django's docs, CSRF_COOKIE_HTTPONLY), unlike on the session cookie.
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Idle timeout: the session expires this many seconds after the last request (each request
# pushes the expiry forward). Default 8 hours, a working day.
SESSION_COOKIE_AGE = env_int("SESSION_IDLE_TIMEOUT", 8 * 3600)
SESSION_SAVE_EVERY_REQUEST = True
# An operator who turned HSTS subdomains/preload off on purpose has decided; don't nag.
SILENCED_SYSTEM_CHECKS = [
    check
    for check, wanted in (
        ("security.W005", SECURE_HSTS_INCLUDE_SUBDOMAINS),
        ("security.W021", SECURE_HSTS_PRELOAD),
    )
    if not wanted
]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    "cases",
    "demo",
    "evidence",
    "api",
    "web",
]

MIDDLEWARE = [
    # First, so that every response and log line, even a redirect or an error, has the id.
    "config.logs.RequestIdMiddleware",
    "config.proxy.ForwardedForMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "config.health.ProbeMiddleware",
    # A view's database error while the database is away: 503 with Retry-After, not a 500.
    "config.unavailable.DatabaseUnavailableMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    # Oversized bodies and NUL bytes in parameters refused at the door; before the CSRF check,
    # which would otherwise read a whole anonymous upload to find its token.
    "config.limits.RequestLimitsMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Writes the reveals of protected identities the response showed (`evidence.reader`).
    "web.middleware.RevealRecordMiddleware",
    # The pages in the reader's time zone (a cookie set by static/js/casefile.js).
    "web.middleware.TimezoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    # Last: turns a login refused by the lockout backend into the lockout answer.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=env_int("CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
# SQLite: several requests write at once (the upload page sends three files in parallel). A
# deferred transaction that reads and then writes fails at once with "database is locked" when
# another holds the write lock; taking the lock at BEGIN makes it wait its turn instead.
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"transaction_mode": "IMMEDIATE", "timeout": 20}
    )
# PostgreSQL that does not answer fails a connection within seconds rather than the system's
# minutes: a request answers (503, see config.unavailable), a worker's recovery moves on.
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault(
        "connect_timeout", env_int("DATABASE_CONNECT_TIMEOUT", 5)
    )
# Lets several people run the suite against one PostgreSQL server without clashing.
if os.environ.get("DATABASE_TEST_NAME"):
    DATABASES["default"]["TEST"] = {"NAME": os.environ["DATABASE_TEST_NAME"]}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache ----------------------------------------------------------------------------------

# The cache holds API throttle counters. Per-process memory is enough for one machine; several
# gunicorn workers need a shared cache (e.g. redis://redis:6379/1) or each counts on its own.
if os.environ.get("CACHE_URL"):
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": os.environ["CACHE_URL"],
            "KEY_PREFIX": "casefile",
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Authentication -------------------------------------------------------------------------

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    # Not a check: revokes the user's API tokens whenever a new password is saved.
    {"NAME": "cases.tokens.RevokeTokensOnPasswordChange"},
]
LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/"

# --- Email (password reset links) -----------------------------------------------------------

# The console by default: a reset link is printed to the web process's log, enough on a laptop.
# A deployment sets EMAIL_HOST (and the rest) to send through its SMTP server.
EMAIL_HOST = os.environ.get("EMAIL_HOST", "")
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND") or (
    "django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_HOST
    else "django.core.mail.backends.console.EmailBackend"
)
EMAIL_PORT = env_int("EMAIL_PORT", 587)
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", EMAIL_PORT == 587)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", EMAIL_PORT == 465)
if EMAIL_USE_TLS and EMAIL_USE_SSL:
    raise ImproperlyConfigured("EMAIL_USE_TLS and EMAIL_USE_SSL cannot both be on.")
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL") or "casefile@localhost"
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# Where the links in notification emails point (evidence.services.notifications).
CASEFILE_SITE_URL = os.environ.get("CASEFILE_SITE_URL", "http://localhost:8000")
# Seconds a password reset link stays valid (Django's default is three days). Default: 1 hour.
PASSWORD_RESET_TIMEOUT = env_int("PASSWORD_RESET_TIMEOUT", 3600)

# Brute-force protection (django-axes): after AXES_FAILURE_LIMIT failed sign-ins for one
# username from one address, that pair is refused for LOGIN_LOCKOUT_MINUTES, on the web login
# and the API token view alike. Unknown usernames count and are answered exactly like real ones.
AUTHENTICATION_BACKENDS = [
    "config.lockout.LockoutBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("LOGIN_LOCKOUT_MINUTES", 15))
# Username and address together: a typo-prone colleague behind the newsroom's NAT does not lock
# everyone out, and nobody can lock a reporter out from elsewhere.
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "config.lockout.lockout_response"
AXES_HTTP_RESPONSE_CODE = 429

# --- Internationalisation -------------------------------------------------------------------

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static files and media -----------------------------------------------------------------

STATIC_URL = "/static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT") or BASE_DIR / "staticfiles")
STATICFILES_DIRS = [BASE_DIR / "static"] if (BASE_DIR / "static").is_dir() else []

MEDIA_URL = "/media/"
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT") or BASE_DIR / "media")

# Originals and derivatives: the local disk (MEDIA_ROOT), or an S3-compatible bucket when
# STORAGE_BUCKET is set (see config/storage.py and the STORAGE_* variables in .env.example).
STORAGES = {
    "default": default_storage_from_env(os.environ),
    # The manifest needs `collectstatic`, which only deployments run (the Dockerfile does).
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# --- Uploads --------------------------------------------------------------------------------

# Uploads always stream to a temporary file, never into memory, whatever their size.
# (config/uploads.py: a temporary file written in 1 MiB chunks, SHA-256 computed on the way.)
FILE_UPLOAD_HANDLERS = ["config.uploads.HashingUploadHandler"]
CASEFILE_MAX_UPLOAD_BYTES = env_int("CASEFILE_MAX_UPLOAD_BYTES", 50 * 1024 * 1024)
# Decompression-bomb guard for the image pipeline (Pillow's MAX_IMAGE_PIXELS is set from this).
CASEFILE_MAX_IMAGE_PIXELS = env_int("CASEFILE_MAX_IMAGE_PIXELS", 60_000_000)
# Videos (issue #15) may be larger than any other upload: an upload whose first bytes are a
# video's may stream up to this limit; every other upload stops at CASEFILE_MAX_UPLOAD_BYTES
# (config.uploads). Longer videos than CASEFILE_MAX_VIDEO_SECONDS are refused at ingest.
CASEFILE_MAX_VIDEO_BYTES = env_int("CASEFILE_MAX_VIDEO_BYTES", 2 * 1024 * 1024 * 1024)
CASEFILE_MAX_VIDEO_SECONDS = env_int("CASEFILE_MAX_VIDEO_SECONDS", 2 * 3600)
# Freed image memory each worker process keeps for the next photo, in MB (0: none; see
# evidence.imaging.decode.image_memory_pool).
CASEFILE_IMAGE_MEMORY_POOL_MB = env_int("CASEFILE_IMAGE_MEMORY_POOL_MB", 64)

# --- Text in pictures (OCR, evidence.imaging.ocr; PDF text layers, evidence.imaging.pdftext) ---

# Read the text of photos and PDFs after they are ready, on the `ocr` queue (0: never).
CASEFILE_OCR = env_bool("CASEFILE_OCR", True)
# The Tesseract program: a name on PATH or a path. Where it is absent the step is skipped
# with a note on the item, and `manage.py doctor` says so.
CASEFILE_TESSERACT_CMD = os.environ.get("CASEFILE_TESSERACT_CMD") or "tesseract"
# The languages a case reads in when it names none (Tesseract's names, joined by "+").
CASEFILE_OCR_LANGUAGES = os.environ.get("CASEFILE_OCR_LANGUAGES") or "eng+kor+chi_sim+rus+ukr+ara"
# One Tesseract run may take this long before it is stopped (the item fails with the reason).
CASEFILE_OCR_TIMEOUT_SECONDS = env_int("CASEFILE_OCR_TIMEOUT_SECONDS", 120)
# A photo is read at most this many pixels along its longer edge (reduced if larger).
CASEFILE_OCR_MAX_EDGE = env_int("CASEFILE_OCR_MAX_EDGE", 2400)
# A PDF: at most this many pages are read; a scanned page is rendered at OCR_DPI, reduced to
# stay under CASEFILE_MAX_IMAGE_PIXELS.
CASEFILE_OCR_MAX_PAGES = env_int("CASEFILE_OCR_MAX_PAGES", 50)
CASEFILE_OCR_DPI = env_int("CASEFILE_OCR_DPI", 200)

# --- Celery ---------------------------------------------------------------------------------

REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_RESULT_BACKEND = REDIS_URL
else:
    # One machine, no broker: tasks run in-process when they are queued.
    CELERY_BROKER_URL = "memory://localhost/"
    CELERY_RESULT_BACKEND = "cache+memory://"
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", not REDIS_URL)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("CELERY_QUEUE") or "casefile"
# Uploads and exports never wait behind each other: photo processing has its own queue (the
# `worker` service, scaled to the load), case exports theirs (`export-worker`), and everything
# else the default queue. Every queue a route names is declared here, so that a plain
# `celery -A config worker` consumes all of them; `-Q ingest` (or any subset) narrows it.
CELERY_INGEST_QUEUE = os.environ.get("CELERY_INGEST_QUEUE") or "ingest"
CELERY_EXPORT_QUEUE = os.environ.get("CELERY_EXPORT_QUEUE") or "exports"
# Webhook deliveries wait on other people's servers: a queue of their own, so a slow receiver
# never holds up photos or exports.
CELERY_WEBHOOK_QUEUE = os.environ.get("CELERY_WEBHOOK_QUEUE") or "webhooks"
# Link captures run Chromium: their own queue, consumed by the `capture-worker` service.
CELERY_CAPTURE_QUEUE = os.environ.get("CELERY_CAPTURE_QUEUE") or "capture"
# Reading text (OCR) has its own queue, so that it never delays a photo becoming ready.
CELERY_OCR_QUEUE = os.environ.get("CELERY_OCR_QUEUE") or "ocr"
# Videos take minutes where photos take a second: their own queue (`video-worker`).
CELERY_VIDEO_QUEUE = os.environ.get("CELERY_VIDEO_QUEUE") or "video"
CELERY_WORKER_QUEUES = list(
    dict.fromkeys(
        [
            CELERY_INGEST_QUEUE,
            CELERY_VIDEO_QUEUE,
            CELERY_EXPORT_QUEUE,
            CELERY_WEBHOOK_QUEUE,
            CELERY_CAPTURE_QUEUE,
            CELERY_OCR_QUEUE,
            CELERY_TASK_DEFAULT_QUEUE,
        ]
    )
)
CELERY_TASK_QUEUES = [Queue(name, routing_key=name) for name in CELERY_WORKER_QUEUES]
CELERY_TASK_ROUTES = {
    "evidence.tasks.photo_process_task": {"queue": CELERY_INGEST_QUEUE},
    "evidence.tasks.video_process_task": {"queue": CELERY_VIDEO_QUEUE},
    "*export*": {"queue": CELERY_EXPORT_QUEUE},
    "evidence.tasks.webhook_deliver_task": {"queue": CELERY_WEBHOOK_QUEUE},
    "evidence.tasks.link_capture_task": {"queue": CELERY_CAPTURE_QUEUE},
    "evidence.tasks.text_read_task": {"queue": CELERY_OCR_QUEUE},
}
# Our JSON log configuration stays in charge in the worker too.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# A task is acknowledged only once it has finished, and is redelivered if its worker dies, so
# every task must be safe to run twice.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_TRACK_STARTED = True
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 120)
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 180)
if CELERY_TASK_SOFT_TIME_LIMIT >= CELERY_TASK_TIME_LIMIT:
    # The soft limit raises SoftTimeLimitExceeded so a task can record why it failed.
    raise ImproperlyConfigured("CELERY_TASK_SOFT_TIME_LIMIT must be below CELERY_TASK_TIME_LIMIT.")
CELERY_RESULT_EXPIRES = 24 * 3600
CELERY_TIMEZONE = TIME_ZONE
# Redis redelivers an unacknowledged task after this many seconds, so it must exceed the hard
# limit (and any retry countdown), or a slow task would run twice at the same time.
visibility_timeout = env_int("CELERY_VISIBILITY_TIMEOUT", 3600)
if visibility_timeout <= CELERY_TASK_TIME_LIMIT:
    raise ImproperlyConfigured("CELERY_VISIBILITY_TIMEOUT must exceed CELERY_TASK_TIME_LIMIT.")
# A video's task (keyframes, then the web-playable preview of up to two hours) has limits of
# its own, below the visibility timeout so that it is never delivered twice while it runs.
CASEFILE_VIDEO_SOFT_TIME_LIMIT = env_int("CASEFILE_VIDEO_SOFT_TIME_LIMIT", 3000)
CASEFILE_VIDEO_TIME_LIMIT = env_int("CASEFILE_VIDEO_TIME_LIMIT", 3300)
if not CASEFILE_VIDEO_SOFT_TIME_LIMIT < CASEFILE_VIDEO_TIME_LIMIT < visibility_timeout:
    raise ImproperlyConfigured(
        "CASEFILE_VIDEO_SOFT_TIME_LIMIT < CASEFILE_VIDEO_TIME_LIMIT < CELERY_VISIBILITY_TIMEOUT "
        "must hold."
    )
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": visibility_timeout,
    # A broker that does not answer (host down, packets dropped) fails a connection attempt
    # within this many seconds instead of the system's minutes: a request that queues work
    # answers quickly (see evidence.enqueue), and a worker retries its connection anyway.
    "socket_connect_timeout": 0.75,
}
# KiB; a child that grows past it is replaced after its current task. 0 disables the limit.
CELERY_WORKER_MAX_MEMORY_PER_CHILD = env_int("CELERY_WORKER_MAX_MEMORY_PER_CHILD", 512_000) or None

# Recovery without waiting (evidence.services.recovery). A worker renews the lease on the job it
# holds every third of CASEFILE_LEASE_SECONDS; a job whose lease ran out was abandoned (its worker
# died) and is handed to another. Every worker runs the recovery when it connects to the broker
# and every CASEFILE_RECOVERY_INTERVAL_SECONDS: a killed worker's jobs are running again within
# lease + interval, with or without Celery beat.
CASEFILE_LEASE_SECONDS = env_float("CASEFILE_LEASE_SECONDS", 30)
CASEFILE_RECOVERY_INTERVAL_SECONDS = env_float("CASEFILE_RECOVERY_INTERVAL_SECONDS", 15)
if CASEFILE_LEASE_SECONDS < 1 or CASEFILE_RECOVERY_INTERVAL_SECONDS < 0.5:
    raise ImproperlyConfigured(
        "CASEFILE_LEASE_SECONDS must be at least 1, CASEFILE_RECOVERY_INTERVAL_SECONDS 0.5."
    )
# A photo still pending after this long lost its task (sent, then lost by the broker) and is
# sent again.
CASEFILE_STALE_AFTER_SECONDS = env_int("CASEFILE_STALE_AFTER_SECONDS", CELERY_TASK_TIME_LIMIT)
# Beat is optional: the workers recover jobs themselves. It only deletes expired export bundles
# (`expire_exports` does the same by hand).
# Minutes between two signed checkpoints of a growing case's activity chain.
# Link capture (issue #16): what one capture may spend, and the hosts it may reach although
# they are not on the public internet ("host:port,host:port": tests, an intranet).
CASEFILE_CAPTURE_SECONDS = env_int("CASEFILE_CAPTURE_SECONDS", 60)
CASEFILE_CAPTURE_MAX_BYTES = env_int("CASEFILE_CAPTURE_MAX_BYTES", 100 * 1024 * 1024)
CASEFILE_CAPTURE_MAX_REQUESTS = env_int("CASEFILE_CAPTURE_MAX_REQUESTS", 500)
# Images whose sides are both at least this many pixels become evidence items of their own.
CASEFILE_CAPTURE_MIN_IMAGE_SIDE = env_int("CASEFILE_CAPTURE_MIN_IMAGE_SIDE", 100)
CASEFILE_CAPTURE_ALLOW_HOSTS = os.environ.get("CASEFILE_CAPTURE_ALLOW_HOSTS", "")
if CASEFILE_CAPTURE_SECONDS < 5 or CASEFILE_CAPTURE_MAX_BYTES < 1024 * 1024:
    raise ImproperlyConfigured(
        "CASEFILE_CAPTURE_SECONDS must be at least 5, CASEFILE_CAPTURE_MAX_BYTES at least 1 MB."
    )
CASEFILE_CHECKPOINT_MINUTES = env_int("CASEFILE_CHECKPOINT_MINUTES", 60)
CELERY_BEAT_SCHEDULE = {
    "exports-expire": {
        "task": "evidence.tasks.exports_expire_task",
        "schedule": timedelta(hours=1),
    },
    # Signs a checkpoint of every case whose activity chain grew since its last one.
    "checkpoints-write": {
        "task": "evidence.tasks.checkpoints_write_task",
        "schedule": timedelta(minutes=CASEFILE_CHECKPOINT_MINUTES),
    },
}
# Only the fault-injection tests set this: a photo or export job pauses this long mid-task (its
# lease still renewed), so that the test can kill its worker, its broker or its database
# connection while it runs.
CASEFILE_PIPELINE_TEST_DELAY_SECONDS = float(
    os.environ.get("CASEFILE_PIPELINE_TEST_DELAY_SECONDS") or 0
)

# --- Casefile -------------------------------------------------------------------------------

CASEFILE_TOKEN_TTL_DAYS = env_int("CASEFILE_TOKEN_TTL_DAYS", 30)

# Webhooks (evidence.webhooks). host:port pairs a webhook may reach although they are not on
# the public internet (a receiver on this machine in tests, an intranet service).
CASEFILE_WEBHOOK_ALLOW_HOSTS = os.environ.get("CASEFILE_WEBHOOK_ALLOW_HOSTS", "")
# Seconds to connect and for each read; a delivery takes at most three times this.
CASEFILE_WEBHOOK_TIMEOUT_SECONDS = env_float("CASEFILE_WEBHOOK_TIMEOUT_SECONDS", 5)
# Attempts per delivery, the first retry's wait (doubling after each failure, at most an
# hour), and how many deliveries in a row may fail for good before the webhook is disabled.
CASEFILE_WEBHOOK_MAX_ATTEMPTS = env_int("CASEFILE_WEBHOOK_MAX_ATTEMPTS", 6)
CASEFILE_WEBHOOK_BACKOFF_SECONDS = env_float("CASEFILE_WEBHOOK_BACKOFF_SECONDS", 30)
CASEFILE_WEBHOOK_DISABLE_AFTER = env_int("CASEFILE_WEBHOOK_DISABLE_AFTER", 3)
# Bulk import (evidence.services.bulk_import): rows per file, bytes per file and per cell.
CASEFILE_IMPORT_MAX_ROWS = env_int("CASEFILE_IMPORT_MAX_ROWS", 10_000)
CASEFILE_IMPORT_MAX_BYTES = env_int("CASEFILE_IMPORT_MAX_BYTES", 20 * 1024 * 1024)
CASEFILE_IMPORT_MAX_CELL = env_int("CASEFILE_IMPORT_MAX_CELL", 10_000)
# Days an export's bundle is kept after it is written; then its file is deleted and the export
# marked expired (its row and activity stay).
CASEFILE_EXPORT_RETENTION_DAYS = env_int("CASEFILE_EXPORT_RETENTION_DAYS", 7)
if CASEFILE_EXPORT_RETENTION_DAYS < 1:
    raise ImproperlyConfigured("CASEFILE_EXPORT_RETENTION_DAYS must be at least 1.")
# What a bundle given to `verify_export` or `import_case` may hold (evidence/bundle/reading.py):
# it is refused before a byte is read when a file is larger, or expands more, than this.
CASEFILE_BUNDLE_MAX_MEMBER_BYTES = env_int("CASEFILE_BUNDLE_MAX_MEMBER_BYTES", 2 * 1024**3)
# manifest.json (and SHA256SUMS) are parsed whole, in about 10 times their size of memory: an
# export writes ~7 KB per photo, so 16 MiB is a case of ~2,000 photos, parsed in ~170 MB.
CASEFILE_BUNDLE_MAX_MANIFEST_BYTES = env_int("CASEFILE_BUNDLE_MAX_MANIFEST_BYTES", 16 * 1024**2)
CASEFILE_BUNDLE_MAX_RATIO = env_int("CASEFILE_BUNDLE_MAX_RATIO", 100)
CASEFILE_BUNDLE_MAX_MEMBERS = env_int("CASEFILE_BUNDLE_MAX_MEMBERS", 100_000)
for _name in (
    "CASEFILE_BUNDLE_MAX_MEMBER_BYTES",
    "CASEFILE_BUNDLE_MAX_MANIFEST_BYTES",
    "CASEFILE_BUNDLE_MAX_RATIO",
    "CASEFILE_BUNDLE_MAX_MEMBERS",
):
    if globals()[_name] < 1:
        raise ImproperlyConfigured(f"{_name} must be at least 1.")
# The newsroom's Ed25519 signing key (cases/signing.py): the key itself (PEM, or base64 of its
# PEM, DER or raw 32 bytes), or a PEM file (default: MEDIA_ROOT/signing-key.pem, never served).
# In development a missing file is generated on first use; with DEBUG off it must exist
# (`python manage.py casefile_key generate`).
CASEFILE_SIGNING_KEY = os.environ.get("CASEFILE_SIGNING_KEY", "")
CASEFILE_SIGNING_KEY_FILE = os.environ.get("CASEFILE_SIGNING_KEY_FILE", "")
CASEFILE_SIGNING_KEY_GENERATE = env_bool("CASEFILE_SIGNING_KEY_GENERATE", DEBUG)
# RFC 3161 trusted timestamps (cases/timestamps.py) of checkpoints, originals at ingest and
# exports, from this timestamp authority (none: nothing is timestamped, custody records say "no
# trusted timestamp"). CA_FILE: PEM roots a token must chain to (and that bundles carry).
# Taken by workers, never by a request; what a TSA that was down left without a timestamp is
# filled in by the workers' recovery, at most every RETRY seconds.
CASEFILE_TSA_URL = os.environ.get("CASEFILE_TSA_URL", "")
CASEFILE_TSA_CA_FILE = os.environ.get("CASEFILE_TSA_CA_FILE", "")
CASEFILE_TSA_CONNECT_TIMEOUT = env_float("CASEFILE_TSA_CONNECT_TIMEOUT", 3.0)
CASEFILE_TSA_TIMEOUT = env_float("CASEFILE_TSA_TIMEOUT", 10.0)
CASEFILE_TSA_RETRY_SECONDS = env_int("CASEFILE_TSA_RETRY_SECONDS", 300)
CASEFILE_MAP_TILE_URL = (
    os.environ.get("CASEFILE_MAP_TILE_URL") or "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
)
CASEFILE_MAP_ATTRIBUTION = (
    os.environ.get("CASEFILE_MAP_ATTRIBUTION")
    or '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors'
)

# --- Content-Security-Policy ----------------------------------------------------------------


# Strict: our own scripts and styles only, no inline code, never framed. Map tiles are the one
# outside resource, so the tile server's host (from CASEFILE_MAP_TILE_URL) may serve images.
def _tile_origin(template: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(template.replace("{s}", "*"))
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ImproperlyConfigured(
            f"CASEFILE_MAP_TILE_URL must be an http(s) URL; got {template!r}"
        )
    return f"{parts.scheme}://{parts.netloc}"


CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:", "blob:", _tile_origin(CASEFILE_MAP_TILE_URL)],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}

# --- REST API -------------------------------------------------------------------------------

# Token first: an unauthenticated request then gets 401 with `WWW-Authenticate: Token`.
API_AUTHENTICATION_CLASSES = [
    "api.authentication.TokenAuthentication",
    "rest_framework.authentication.SessionAuthentication",
]

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": API_AUTHENTICATION_CLASSES,
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # DRF's parsers, with a bound on JSON nesting (a deep document was a 500).
    "DEFAULT_PARSER_CLASSES": [
        "api.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_PAGINATION_CLASS": "api.pagination.Pagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "api.exceptions.exception_handler",
    # Keyed on the user or on REMOTE_ADDR, never on a client-supplied X-Forwarded-For.
    "DEFAULT_THROTTLE_CLASSES": [
        "api.throttles.AnonThrottle",
        "api.throttles.UserThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": os.environ.get("API_THROTTLE_ANON") or "60/minute",
        "user": os.environ.get("API_THROTTLE_USER") or "1000/minute",
        "login": os.environ.get("API_THROTTLE_LOGIN") or "20/minute",
    },
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Casefile API",
    "DESCRIPTION": "OSINT case files: cases, claims, sources, evidence and their links.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": "/api/v[0-9]",
    # Swagger UI from our own static files (drf-spectacular-sidecar), never from a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "CaseStatusEnum": "cases.models.Case.Status",
        "ClaimStatusEnum": "cases.models.Claim.Status",
        "PhotoStatusEnum": "evidence.models.Photo.Status",
        "EvidenceKindEnum": "evidence.models.Evidence.Kind",
        "SourceKindEnum": "evidence.models.Source.Kind",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "api.schema.add_error_responses",
        # Last: closes every object of every response (the error shape says why it is open).
        "api.schema.close_response_objects",
    ],
}

# --- Logging --------------------------------------------------------------------------------

LOG_LEVEL = (os.environ.get("LOG_LEVEL") or "INFO").upper()

# json: one JSON object per line with the request id (and task id in workers), for log
# shippers; plain: for a person at a terminal. Default: json when DEBUG is off.
LOG_FORMAT = (os.environ.get("LOG_FORMAT") or ("plain" if DEBUG else "json")).lower()
if LOG_FORMAT not in ("json", "plain"):
    raise ImproperlyConfigured(f"LOG_FORMAT must be json or plain; got {LOG_FORMAT!r}")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "config.logs.RequestIdFilter"}},
    "formatters": {
        "plain": {
            "()": "config.logs.PlainFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s: %(message)s",
        },
        "json": {"()": "config.logs.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["request_id"],
        },
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django": {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False},
        "celery": {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False},
    },
}
