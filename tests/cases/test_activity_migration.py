"""The migration that moves identities out of existing activity rows (cases 0005): run on a
database whose rows were written the way the code before it wrote them (names and places in the
clear, chained over them), every row afterwards holds commitments, the names are gone from the
rows, and the chain verifies."""

from types import SimpleNamespace

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from cases.activity import activity_chain_problems, activity_digest
from cases.models import Activity, ActivitySecret, Case

BEFORE = [("cases", "0004_account_activity")]


def _old_rows(apps, case_id, actor_id):
    """Rows as the code before the migration wrote them, chained over their clear content."""
    Activity = apps.get_model("cases", "Activity")
    prev = ""
    rows = [
        ("source", 11, "Kim Chol-su", "source.created", {"kind": "person", "protected": False}),
        ("source", 11, "Kim Chol-su", "source.updated", {"values": {"name": "Kim Chol-jin"}}),
        ("evidence", 12, "Testimony", "evidence.updated", {"values": {"latitude": 40.0992}}),
        ("claim", 13, "The train never left", "claim.created", {}),
    ]
    for target_type, target_id, label, verb, data in rows:
        fields = dict(
            case_id=case_id,
            actor_id=actor_id,
            verb=verb,
            target_type=target_type,
            target_id=target_id,
            target_label=label,
            data=data,
            created_at=timezone.now(),
            prev_hash=prev,
        )
        prev = activity_digest(**fields)
        Activity.objects.create(hash=prev, **fields)
    return prev


@pytest.fixture
def before(django_user_model):
    """The database as it stood before the migration, with a case and its rows written the old
    way; migrated to the latest state afterwards, whatever the test did."""
    executor = MigrationExecutor(connection)
    latest = executor.loader.graph.leaf_nodes()
    executor.migrate(BEFORE)
    apps = executor.loader.project_state(BEFORE).apps
    user = django_user_model.objects.create(username="old-reporter")
    case = apps.get_model("cases", "Case").objects.create(title="Old case", created_by_id=user.pk)
    head = _old_rows(apps, case.pk, user.pk)
    yield SimpleNamespace(apps=apps, case_id=case.pk, head=head, migrate=lambda: _migrate(latest))
    _migrate(latest)


def _migrate(targets):
    MigrationExecutor(connection).migrate(targets)


@pytest.mark.django_db(transaction=True)
def test_existing_rows_are_recommitted_and_the_chain_still_verifies(before):
    before.migrate()
    case = Case.objects.get(pk=before.case_id)
    rows = list(Activity.objects.filter(case=case).order_by("id"))
    assert [r.verb for r in rows][-1] == "activity.recommitted"
    assert rows[-1].data["old_head"] == before.head and rows[-1].data["problems_before"] == []
    assert rows[-1].data["new_head"] == rows[-2].hash
    text = " ".join(f"{r.target_label} {r.data}" for r in rows)
    assert "Kim" not in text and "40.0992" not in text
    assert "The train never left" in text  # what identifies no one stays as it was
    assert set(ActivitySecret.objects.values_list("value", flat=True)) == {
        "Kim Chol-su",
        "Kim Chol-jin",
        40.0992,
    }
    assert activity_chain_problems(case=case) == []
    call_command("verify_custody", case=case.pk)  # exits 1 on any problem


@pytest.mark.django_db(transaction=True)
def test_a_chain_broken_before_the_migration_says_so_after_it(before):
    OldActivity = before.apps.get_model("cases", "Activity")
    forged = OldActivity.objects.filter(case_id=before.case_id, verb="claim.created").first()
    OldActivity.objects.filter(pk=forged.pk).update(target_label="Something else")
    before.migrate()
    closing = Activity.objects.filter(case_id=before.case_id).order_by("id").last()
    # Recomputing the chain does not launder the forged row: the record names it.
    assert closing.data["problems_before"] == [
        f"activity {forged.pk} (claim.created): its content was changed"
    ]
