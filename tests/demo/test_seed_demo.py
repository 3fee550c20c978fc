import pytest
from django.core.management import call_command

from cases.models import Activity, Case, Claim, Membership
from evidence.models import Evidence, EvidenceLink, Source

pytestmark = pytest.mark.django_db


def counts():
    return [
        model.objects.count()
        for model in (Case, Membership, Claim, Source, Evidence, EvidenceLink, Activity)
    ]


def test_seed_demo_loads_the_running_example_and_running_it_twice_changes_nothing():
    call_command("seed_demo")
    first = counts()
    call_command("seed_demo")
    assert counts() == first

    case = Case.objects.get(title="The Dandong freight train")
    roles = dict(case.memberships.values_list("user__username", "role"))
    assert roles == {"olivia": "owner", "edgar": "editor", "rita": "reporter", "victor": "viewer"}
    protected = case.sources.get(pseudonym="Source in China")
    assert protected.protected and protected.name != protected.pseudonym
    photos = case.evidence.filter(kind="photo").order_by("observed_at")
    assert [p.observed_at.day for p in photos] == [14, 25]
    assert all(len(p.sha256) == 64 for p in photos)
    never_left = case.claims.get(statement__startswith="The train never left")
    assert never_left.status == "supported"
    arrived = case.claims.get(statement__contains="arrived in North Korea")
    assert arrived.status == "contradicted"
    assert arrived.links.get(evidence=photos[1]).stance == "contradicts"
    assert never_left.links.get(evidence=photos[1]).stance == "supports"
    assert set(case.evidence.exclude(latitude=None).values_list("place_name", flat=True)) >= {
        "Dandong station, Liaoning, China",
        "Longkou port, Shandong, China",
        "Nampo port, North Korea",
    }
