"""Queues that keep uploads and exports apart, and the limits that keep workers healthy."""

import re

from celery.app.routes import Router, prepare
from django.conf import settings

from config.celery import app


def queue_of(task_name: str) -> str:
    # A router built from the settings themselves: worker tests elsewhere point the app's cached
    # router at queues of their own for a while.
    router = Router(
        prepare(settings.CELERY_TASK_ROUTES), app.amqp.queues, create_missing=True, app=app
    )
    options = router.route({}, task_name)
    queue = options.get("queue")
    return queue.name if queue is not None else settings.CELERY_TASK_DEFAULT_QUEUE


def test_photo_processing_goes_to_the_ingest_queue():
    assert queue_of("evidence.tasks.photo_process_task") == settings.CELERY_INGEST_QUEUE == "ingest"


def test_case_exports_go_to_the_exports_queue():
    assert queue_of("evidence.tasks.case_export_task") == settings.CELERY_EXPORT_QUEUE == "exports"
    assert queue_of("evidence.tasks.exports_expire_task") == "exports"
    assert queue_of("cases.tasks.anything_export_task") == "exports"


def test_reading_text_goes_to_the_ocr_queue_apart_from_ingest():
    assert queue_of("evidence.tasks.text_read_task") == settings.CELERY_OCR_QUEUE == "ocr"


def test_other_tasks_go_to_the_default_queue():
    assert queue_of("cases.tasks.anything_task") == settings.CELERY_TASK_DEFAULT_QUEUE


def test_every_queue_is_declared_so_a_plain_worker_consumes_them_all():
    # Every queue setting (CELERY_<KIND>_QUEUE, and the default queue) is declared.
    named = {getattr(settings, n) for n in dir(settings) if re.fullmatch(r"CELERY_\w+_QUEUE", n)}
    assert set(settings.CELERY_WORKER_QUEUES) == named | {settings.CELERY_TASK_DEFAULT_QUEUE}
    # What `celery -A config worker` (no -Q) consumes: every declared queue.
    declared = [queue.name for queue in settings.CELERY_TASK_QUEUES]
    assert declared == ["ingest", "video", "exports", "webhooks", "capture", "ocr", "casefile"]
    assert settings.CELERY_TASK_ROUTES["evidence.tasks.video_process_task"] == {"queue": "video"}
    assert [queue.name for queue in app.conf.task_queues] == declared
    # And every queue a route names is among them.
    routed = {route["queue"] for route in settings.CELERY_TASK_ROUTES.values()}
    assert routed <= set(declared)


def test_workers_recycle_children_and_stop_runaway_tasks():
    assert app.conf.worker_max_memory_per_child == settings.CELERY_WORKER_MAX_MEMORY_PER_CHILD > 0
    assert 0 < app.conf.task_soft_time_limit < app.conf.task_time_limit
    visibility = app.conf.broker_transport_options["visibility_timeout"]
    assert visibility > app.conf.task_time_limit
    assert app.conf.task_acks_late and app.conf.task_reject_on_worker_lost
    assert app.conf.worker_prefetch_multiplier == 1
    # Our JSON logging stays in charge inside the worker.
    assert app.conf.worker_hijack_root_logger is False


def test_beat_only_expires_old_exports_and_signs_checkpoints_workers_recover_jobs_themselves():
    from evidence.tasks import RecoveryStep

    tasks = {entry["task"] for entry in app.conf.beat_schedule.values()}
    assert tasks == {"evidence.tasks.exports_expire_task", "evidence.tasks.checkpoints_write_task"}
    assert RecoveryStep in app.steps["consumer"]


def test_the_names_work_is_sent_by_are_the_registered_tasks():
    from evidence import enqueue, tasks

    assert enqueue.PHOTO_PROCESS == tasks.photo_process_task.name
    assert enqueue.CASE_EXPORT == tasks.case_export_task.name


def test_connecting_to_the_broker_gives_up_quickly():
    # A request that queues work must not hang on a broker that does not answer.
    assert 0 < app.conf.broker_transport_options["socket_connect_timeout"] <= 1
