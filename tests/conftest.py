"""Shared fixtures: a case with one persona per role, and one outsider."""

from dataclasses import dataclass

import pytest
from django.db.backends.sqlite3.base import DatabaseWrapper as SQLiteWrapper

from cases.models import Case, Role
from tests.factories import CaseFactory, MembershipFactory, UserFactory
from tests.snapshot import FAST_PASSWORD_HASHERS
from tests.tamper import sqlite_triggers


@dataclass
class Personas:
    case: Case
    owner: object
    editor: object
    reporter: object
    viewer: object
    outsider: object

    def by_role(self, name: str):
        return getattr(self, name)


ROLES = ("owner", "editor", "reporter", "viewer", "outsider")


@pytest.fixture(autouse=True)
def _test_settings(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    # Temporary files of each test's own (an export's spool among them): the workers' recovery
    # removes abandoned ones it finds, and the processes of `make test` share the machine.
    (tmp_path / "spool").mkdir(exist_ok=True)
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path / "spool")
    # Real password hashing costs a quarter of a second per user; tests make hundreds.
    settings.PASSWORD_HASHERS = FAST_PASSWORD_HASHERS
    # Reading text (Tesseract, a second or more per photo) only where a test asks for it
    # (tests/evidence/test_ocr.py): hundreds of tests upload photos.
    settings.CASEFILE_OCR = False


@pytest.fixture(autouse=True)
def _tasks_in_process(request):
    """Ordinary tests run tasks in-process even when REDIS_URL is set (as in CI); tests marked
    `worker` talk to a real Celery worker instead."""
    from config.celery import app

    eager = request.node.get_closest_marker("worker") is None
    # Worker tests point the app at Redis and at queues of their own for a while; whatever
    # happens to them (a skip half-way through a fixture), the next test gets the app back.
    keys = ("task_always_eager", "broker_url", "task_routes", "task_default_queue")
    previous = {key: app.conf[key] for key in keys}
    app.conf.task_always_eager = eager
    yield
    moved = {key for key in keys if app.conf[key] != previous[key]} - {"task_always_eager"}
    app.conf.update(previous)
    if moved:  # the app caches its broker connections and its routes
        app._pool = None
        app.amqp._producer_pool = None
        app.amqp.flush_routes()
        app.amqp.__dict__.pop("router", None)


@pytest.fixture(autouse=True, scope="session")
def _sqlite_flush_lifts_append_only():
    """A transactional test ends with a flush of every table: on PostgreSQL a TRUNCATE, which
    the append-only row triggers do not see, on SQLite a DELETE of every row, which they refuse.
    Emptying the test database is not tampering with a record: there, they are lifted for it."""
    original = SQLiteWrapper.ops_class.execute_sql_flush

    def execute_sql_flush(self, sql_list):
        with self.connection.cursor() as cursor:
            triggers = sqlite_triggers(cursor)
            for name, _ in triggers:
                cursor.execute(f'DROP TRIGGER "{name}"')
        try:
            original(self, sql_list)
        finally:
            with self.connection.cursor() as cursor:
                for _, sql in triggers:
                    cursor.execute(sql)

    SQLiteWrapper.ops_class.execute_sql_flush = execute_sql_flush
    yield
    SQLiteWrapper.ops_class.execute_sql_flush = original


@pytest.fixture(autouse=True)
def _fresh_cache():
    # Throttle counters and other cached state must not leak from one test into the next.
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


def make_personas() -> Personas:
    """The shared case and its people (the `personas` fixture; also part of larger worlds)."""
    owner = UserFactory(username="alice")
    case = CaseFactory(title="The Dandong freight train", created_by=owner)
    people = {"owner": owner}
    MembershipFactory(case=case, user=owner, role=Role.OWNER)
    for role, name in (("editor", "erin"), ("reporter", "bob"), ("viewer", "victor")):
        people[role] = UserFactory(username=name)
        MembershipFactory(case=case, user=people[role], role=role)
    # Charlie has an account and a case of his own, but is not in this one.
    people["outsider"] = UserFactory(username="charlie")
    MembershipFactory(
        case=CaseFactory(created_by=people["outsider"]), user=people["outsider"], role=Role.OWNER
    )
    return Personas(case=case, **people)


@pytest.fixture
def personas(db) -> Personas:
    return make_personas()


@pytest.fixture
def case(personas) -> Case:
    return personas.case


def pytest_collection_modifyitems(config, items):
    """With pytest-xdist (`make test` runs on every core), the tests that share a service of
    their own making run one after another on one process: the ones that start Celery workers,
    gunicorn or a private Redis (tests/deploy, `worker`), and the browser tests (one Chromium
    at a time). Everything else is spread over the processes."""
    for item in items:
        if item.get_closest_marker("browser"):
            item.add_marker(pytest.mark.xdist_group("browser"))
        elif item.get_closest_marker("worker") or "tests/deploy/" in item.nodeid:
            item.add_marker(pytest.mark.xdist_group("services"))
