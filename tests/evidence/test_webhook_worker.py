"""A real Celery worker, consuming the webhooks queue from the real Redis, delivers a signed
webhook to a receiver this test runs on 127.0.0.1 (allowed through the setting).

Run (PostgreSQL; Redis database 5 unless REDIS_URL says otherwise):
DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres .venv/bin/pytest -m worker \
    tests/evidence/test_webhook_worker.py
"""

import json
import os
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings as django_settings

from evidence import webhooks
from evidence.models import WebhookDelivery
from evidence.services.comments import comment_create
from tests.evidence.test_worker import Worker, _reset_connections, database_url
from tests.factories import ClaimFactory
from tests.needs import unavailable
from tests.webhook_receiver import receiver_start

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/5")


def test_webhook_task_is_routed_to_the_webhooks_queue():
    from config.celery import app

    route = app.amqp.router.route({}, webhooks.WEBHOOK_DELIVER, (1,), {})
    assert route["queue"].name == django_settings.CELERY_WEBHOOK_QUEUE == "webhooks"
    assert "webhooks" in django_settings.CELERY_WORKER_QUEUES


@pytest.fixture
def receiver(settings):
    receiver = receiver_start()
    settings.CASEFILE_WEBHOOK_ALLOW_HOSTS = receiver.allow
    yield receiver
    receiver.stop()


@pytest.fixture
def webhook_worker(settings, tmp_path, receiver):
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        unavailable(f"Redis is unreachable at {REDIS_URL}: {exc}")
    from config.celery import app

    queue = f"casefile-webhooks-test-{uuid.uuid4().hex[:8]}"
    saved = {
        key: app.conf[key]
        for key in ("broker_url", "task_routes", "task_default_queue", "task_always_eager")
    }
    app.conf.broker_url = REDIS_URL
    app.conf.task_routes = {
        webhooks.WEBHOOK_DELIVER: {"queue": queue},
        "*": {"queue": f"{queue}-x"},
    }
    app.conf.task_always_eager = False
    _reset_connections(app)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": database_url(),
        "REDIS_URL": REDIS_URL,
        "CELERY_TASK_ALWAYS_EAGER": "0",
        "CELERY_WEBHOOK_QUEUE": queue,
        "CELERY_EXPORT_QUEUE": f"{queue}-x",
        "CELERY_INGEST_QUEUE": f"{queue}-x",
        "CELERY_QUEUE": f"{queue}-x",
        "CASEFILE_WEBHOOK_ALLOW_HOSTS": receiver.allow,
        "CASEFILE_WEBHOOK_BACKOFF_SECONDS": "1",
        "CASEFILE_RECOVERY_INTERVAL_SECONDS": "1",
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "PYTHONPATH": str(ROOT),
    }
    env.pop("DATABASE_TEST_NAME", None)
    worker = Worker(env=env, queue=queue, log=tmp_path / "webhook-worker.log")
    yield worker
    worker.stop()
    app.conf.update(saved)
    _reset_connections(app)


def _wait(predicate, worker, what, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    pytest.fail(f"{what}; worker log:\n{worker.output()}")


def test_a_real_worker_delivers_a_signed_webhook_and_retries_a_failure(
    personas, receiver, webhook_worker
):
    hook = webhooks.webhook_create(
        actor=personas.owner, case=personas.case, url=receiver.url, events=["comment.created"]
    )
    claim = ClaimFactory(case=personas.case)
    # The first answer is a 503: the worker tries again after the backoff (recovery sends it).
    receiver.status = 503
    comment_create(actor=personas.reporter, claim=claim, text="Seen at 14:00")
    _wait(lambda: len(receiver.requests) >= 1, webhook_worker, "no delivery arrived")
    receiver.status = 200
    delivery = WebhookDelivery.objects.get()
    _wait(
        lambda: WebhookDelivery.objects.filter(pk=delivery.pk, status="delivered").exists(),
        webhook_worker,
        "the delivery was not retried to success",
    )
    delivery.refresh_from_db()
    assert (delivery.attempts, delivery.response_code) == (2, 200)
    last = receiver.requests[-1]
    assert webhooks.signature_valid(
        hook.secret,
        last.headers["X-Casefile-Timestamp"],
        last.body,
        last.headers["X-Casefile-Signature"],
    )
    body = json.loads(last.body)
    assert (body["event"], body["attempt"], body["delivery"]) == ("comment.created", 2, delivery.pk)
    assert "14:00" not in last.body.decode()
    assert webhook_worker.alive
