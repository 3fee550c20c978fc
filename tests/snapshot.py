"""A world that is expensive to make (photos uploaded and really processed, through the services)
made once per session, and a private copy of it for every test that asks.

    _world_snapshot = session_snapshot(build_world)  # build_world() runs once, rolled back

    @pytest.fixture
    def world(_world_snapshot, db):
        return _world_snapshot.restore()             # in each test: the same rows and files

`take` runs `build` inside a transaction that it rolls back, after reading back every row the
build wrote (from every table, so new models need nothing here) as INSERT statements compiled
once, and with the files it stored kept in a folder of its own. `restore` runs those statements
(the rows with their primary keys and every column as written: no `auto_now`, no signals) in
the test's database, copies the files into the test's MEDIA_ROOT, and returns what `build`
returned with each model instance fetched afresh. A test changes its own copy only: its
transaction is rolled back as before, and its media folder is its own. It works in
transactional tests too (the live server's): the rows are then committed, and flushed after
the test like any other.

The snapshot fixture is session-scoped: one build per session where it is defined in a
conftest, one per module for a module that defines (or imports) it.

Primary keys are the build's. They never collide with rows a test makes: PostgreSQL's sequences
are not rolled back, so they are already past the build's keys, and SQLite's AUTOINCREMENT
counter moves past keys inserted explicitly.
"""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps
from django.conf import settings
from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, connections, models, transaction
from django.db.models.sql import InsertQuery
from django.test import override_settings

from config.celery import app

# What the autouse `_test_settings` gives every test, for the build that runs before it.
FAST_PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _tables() -> list[type[models.Model]]:
    return [
        model
        for model in apps.get_models(include_auto_created=True)
        if model._meta.managed and not model._meta.proxy
    ]


def _stored_fields(model: type[models.Model]) -> list[models.Field]:
    # The columns an INSERT writes (a GeneratedField is computed by the database).
    return [f for f in model._meta.local_concrete_fields if not f.generated]


@dataclasses.dataclass
class Snapshot:
    inserts: list[tuple[str, tuple]]
    media: Path
    value: Any
    using: str = DEFAULT_DB_ALIAS

    @classmethod
    def take(
        cls, build: Callable[[], Any], *, media: Path, using: str = DEFAULT_DB_ALIAS
    ) -> Snapshot:
        """Run `build()` with its files under `media`, keep what it wrote, and roll it back.
        Needs database access (`django_db_blocker.unblock()` in a session fixture)."""
        before = {
            model: set(model._base_manager.using(using).values_list("pk", flat=True))
            for model in _tables()
        }
        media.mkdir(parents=True, exist_ok=True)
        eager = app.conf.task_always_eager
        # As in every ordinary test (tests/conftest.py): fast hashing, tasks in-process.
        app.conf.task_always_eager = True
        try:
            with (
                override_settings(MEDIA_ROOT=media, PASSWORD_HASHERS=FAST_PASSWORD_HASHERS),
                transaction.atomic(using=using),
            ):
                value = build()
                rows = []
                for model, existing in before.items():
                    made = [
                        obj
                        for obj in model._base_manager.using(using).order_by("pk")
                        if obj.pk not in existing
                    ]
                    if made:
                        rows.append((model, made))
                # Nothing the build wrote outlives it (its on-commit callbacks are dropped too).
                transaction.set_rollback(True, using=using)
        finally:
            app.conf.task_always_eager = eager
            cache.clear()
        return cls(inserts=_inserts(rows, using), media=media, value=value, using=using)

    def restore(self) -> Any:
        """The build's rows and files in this test's database and MEDIA_ROOT; returns what the
        build returned, its model instances read from the database."""
        # One transaction: foreign keys are checked at its end, whatever the order of tables.
        with transaction.atomic(using=self.using), connections[self.using].cursor() as cursor:
            for sql, params in self.inserts:
                cursor.execute(sql, params)
        shutil.copytree(self.media, Path(settings.MEDIA_ROOT), dirs_exist_ok=True)
        return _fetched(self.value, self.using)


def _inserts(rows, using: str) -> list[tuple[str, tuple]]:
    """The INSERT statements that write `rows` again, compiled once: turning every value into
    its database form is most of the cost of an insert, and a test restores thousands of rows.
    Built as QuerySet._insert (what bulk_create uses) builds them; `raw` keeps the values as
    read (bulk_create would stamp `auto_now` fields with the time now)."""
    connection = connections[using]
    statements = []
    for model, objs in rows:
        fields = _stored_fields(model)
        size = connection.ops.bulk_batch_size(fields, objs) or len(objs)
        for start in range(0, len(objs), size):
            query = InsertQuery(model)
            query.insert_values(fields, objs[start : start + size], raw=True)
            for sql, params in query.get_compiler(using=using).as_sql():
                statements.append((sql, tuple(params)))
    return statements


def session_snapshot(build: Callable[[], Any]):
    """A session-scoped fixture: the Snapshot of `build()`, taken when a test first needs it."""

    @pytest.fixture(scope="session")
    def snapshot(django_db_setup, django_db_blocker, tmp_path_factory) -> Snapshot:
        media = tmp_path_factory.mktemp(build.__name__) / "media"
        with django_db_blocker.unblock():
            return Snapshot.take(build, media=media)

    return snapshot


def _fetched(value: Any, using: str) -> Any:
    """`value` with every model instance in it (also inside dataclasses, lists, tuples and dicts)
    read again from the database: each test gets objects of its own, as a fixture made them."""
    if isinstance(value, models.Model):
        return type(value)._base_manager.using(using).get(pk=value.pk)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes = {
            f.name: _fetched(getattr(value, f.name), using)
            for f in dataclasses.fields(value)
            if f.init
        }
        return dataclasses.replace(value, **changes)
    if isinstance(value, list | tuple):
        return type(value)(_fetched(item, using) for item in value)
    if isinstance(value, dict):
        return {key: _fetched(item, using) for key, item in value.items()}
    return value
