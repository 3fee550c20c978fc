"""The database itself refuses to change or remove a row of the activity record, of the secrets
its commitments hide, and of a signed checkpoint: raw SQL, past every line of our code."""

import pytest
from django.db import DatabaseError, connection, transaction

from cases.activity import activity_record, checkpoint_write
from cases.models import Activity, ActivityCheckpoint, ActivitySecret, TrustedTimestamp
from evidence.services.sources import source_create
from tests.needs import unavailable

STATEMENTS = [
    ("cases_activity", "UPDATE cases_activity SET verb = 'case.sneezed' WHERE id = %s"),
    ("cases_activity", "DELETE FROM cases_activity WHERE id = %s"),
    ("cases_activitysecret", "UPDATE cases_activitysecret SET value = '\"x\"' WHERE id = %s"),
    ("cases_activitysecret", "DELETE FROM cases_activitysecret WHERE id = %s"),
    ("cases_activitycheckpoint", "UPDATE cases_activitycheckpoint SET rows = 0 WHERE id = %s"),
    ("cases_activitycheckpoint", "DELETE FROM cases_activitycheckpoint WHERE id = %s"),
    ("cases_trustedtimestamp", "UPDATE cases_trustedtimestamp SET serial = '1' WHERE id = %s"),
    ("cases_trustedtimestamp", "DELETE FROM cases_trustedtimestamp WHERE id = %s"),
]


@pytest.fixture
def rows(personas):
    source = source_create(
        actor=personas.reporter, case=personas.case, kind="person", name="Kim Chol-su"
    )
    plain = activity_record(case=personas.case, actor=personas.owner, verb="case.updated")
    checkpoint = checkpoint_write(case=personas.case, reason="schedule")
    secret = ActivitySecret.objects.filter(activity__target_id=source.pk).first()
    # A row as a TSA's token would be stored (the token's bytes do not matter to the trigger).
    stamp = TrustedTimestamp.objects.create(
        case=personas.case,
        subject="checkpoint",
        object_id=checkpoint.pk,
        digest="0" * 64,
        token=b"token",
        tsa="A TSA",
        generated_at=checkpoint.created_at,
        serial="2a",
    )
    return {
        "cases_trustedtimestamp": stamp.pk,
        "cases_activity": secret.activity_id,
        "cases_activitysecret": secret.pk,
        "cases_activitycheckpoint": checkpoint.pk,
        "plain": plain.pk,  # a row with no secrets, which the ORM would delete outright
    }


def _refused(rows) -> list[str]:
    refused = []
    for table, sql in STATEMENTS:
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(sql, [rows[table]])
        except DatabaseError as exc:
            assert "append-only" in str(exc)
            refused.append(sql.split()[0] + " " + table)
    return refused


EVERY = [sql.split()[0] + " " + table for table, sql in STATEMENTS]


def test_the_database_refuses_update_and_delete_of_the_record(rows):
    """On whichever database the suite runs: SQLite by default, PostgreSQL in CI (and below)."""
    before = (Activity.objects.count(), ActivitySecret.objects.count())
    assert _refused(rows) == EVERY
    assert (Activity.objects.count(), ActivitySecret.objects.count()) == before
    assert ActivityCheckpoint.objects.get(pk=rows["cases_activitycheckpoint"]).rows > 0


def test_the_orm_is_refused_too(rows):
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        Activity.objects.filter(pk=rows["cases_activity"]).update(verb="case.sneezed")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        Activity.objects.filter(pk=rows["plain"]).delete()


@pytest.mark.postgres
def test_postgresql_refuses_update_and_delete_of_the_record(rows):
    if connection.vendor != "postgresql":
        unavailable("needs PostgreSQL: DATABASE_URL=postgres://…")
    assert _refused(rows) == EVERY
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
            "WHERE t.tgname = 'casefile_append_only' AND t.tgenabled = 'O' ORDER BY 1"
        )
        assert [r[0] for r in cursor.fetchall()] == sorted(
            [
                "cases_activity",
                "cases_activitysecret",
                "cases_activitycheckpoint",
                "cases_trustedtimestamp",
            ]
        )
