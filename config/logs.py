"""Structured logs and the request id that ties a request to everything it caused.

Every request gets an id (the reverse proxy's `X-Request-ID` when it sends a sane one, a fresh
one otherwise). It is returned in the response's `X-Request-ID` header, stamped on every log
line written while the request is handled, and carried into the Celery tasks the request
queues as a message header, so that a worker's log lines for that task carry the same id. One
`grep` over web and worker logs then follows an upload from the browser to its thumbnail.
"""

import contextvars
import json
import logging
import re
import time
import uuid
from datetime import UTC, datetime

from celery import signals

REQUEST_ID_HEADER = "X-Request-ID"
# The Celery message header that carries the id from the web process to the worker.
TASK_HEADER = "casefile_request_id"

# A contextvar, not a thread-local: it is right under threads, greenlets and asyncio alike.
_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "casefile_request_id", default=None
)

# Anything else a proxy sends is replaced: the id ends up in log lines and must not be a way to
# inject text into them.
_SANE_ID = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")

_PROBES = frozenset({"/healthz", "/readyz"})

log = logging.getLogger("casefile.requests")
task_log = logging.getLogger("casefile.tasks")


def current_request_id() -> str | None:
    return _request_id.get()


def new_request_id() -> str:
    return uuid.uuid4().hex


class RequestIdMiddleware:
    """First in the middleware list, so even a redirect or an error carries the id."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.META.get("HTTP_X_REQUEST_ID", "")
        request_id = incoming if _SANE_ID.match(incoming) else new_request_id()
        request.request_id = request_id
        token = _request_id.set(request_id)
        started = time.monotonic()
        try:
            response = self.get_response(request)
            response[REQUEST_ID_HEADER] = request_id
            # Probes come every few seconds: only a failing one is worth a line at INFO.
            quiet = request.path in _PROBES and response.status_code < 400
            log.log(
                logging.DEBUG if quiet else logging.INFO,
                "%s %s %s",
                request.method,
                request.path,
                response.status_code,
                extra={
                    "method": request.method,
                    "path": request.path,
                    "status": response.status_code,
                    "duration_ms": round((time.monotonic() - started) * 1000, 1),
                },
            )
            return response
        finally:
            _request_id.reset(token)


class RequestIdFilter(logging.Filter):
    """Adds `request_id` (and, inside a Celery task, `task_id` and `task_name`) to each record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", None):
            record.request_id = _request_id.get()
        task = _current_task()
        if task is not None and not getattr(record, "task_id", None):
            record.task_id = task.request.id
            record.task_name = task.name
        return True


def _current_task():
    from celery import current_task

    # current_task is a proxy; it is falsy outside a task.
    if current_task and getattr(current_task.request, "id", None):
        return current_task
    return None


# Attributes every LogRecord has; anything else on a record came from `extra=` and is logged.
_RECORD_ATTRS = frozenset(
    logging.LogRecord("", 0, "", 0, "", (), None).__dict__.keys()
    | {"message", "asctime", "request_id", "task_id", "task_name"}
)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: what log shippers (Loki, ELK, CloudWatch) read without rules."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
        }
        if getattr(record, "task_id", None):
            entry["task_id"] = record.task_id
            entry["task_name"] = getattr(record, "task_name", None)
        for key, value in record.__dict__.items():
            if key not in _RECORD_ATTRS and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


class PlainFormatter(logging.Formatter):
    """The development format, with the request id when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        request_id = getattr(record, "request_id", None)
        return f"{line} [request {request_id}]" if request_id else line


# --- Celery: carry the id from the publisher into the worker --------------------------------


@signals.before_task_publish.connect
def _add_request_id_header(headers=None, **kwargs):
    request_id = _request_id.get()
    if request_id and headers is not None and TASK_HEADER not in headers:
        headers[TASK_HEADER] = request_id


_task_tokens: dict[str, contextvars.Token] = {}


@signals.task_prerun.connect
def _task_started(task_id=None, task=None, **kwargs):
    request = task.request
    request_id = getattr(request, TASK_HEADER, None) or (
        (getattr(request, "headers", None) or {}).get(TASK_HEADER)
    )
    # An eager task runs inside the request and already has the id; a worker gets it from the
    # message header.
    if request_id and request_id != _request_id.get():
        _task_tokens[task_id] = _request_id.set(request_id)
    task_log.info("task %s started", task.name, extra={"event": "task.started"})


@signals.task_postrun.connect
def _task_finished(task_id=None, task=None, state=None, **kwargs):
    task_log.info(
        "task %s finished: %s", task.name, state, extra={"event": "task.finished", "state": state}
    )
    token = _task_tokens.pop(task_id, None)
    if token is not None:
        try:
            _request_id.reset(token)
        except ValueError:  # set in another context (should not happen); just clear it
            _request_id.set(None)
