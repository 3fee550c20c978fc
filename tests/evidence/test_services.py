import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from cases import services as cases_services
from cases.activity import activity_chain_problems, is_commitment
from cases.models import Activity, Claim
from cases.services import claim_create, claim_review, claim_submit
from evidence.models import Comment, EvidenceLink
from evidence.reader import activity_rows
from evidence.services.comments import comment_create, comment_edit
from evidence.services.custody import evidence_delete, evidence_purge
from evidence.services.evidence import evidence_create, evidence_update
from evidence.services.links import evidence_link, link_remove, link_update
from evidence.services.sources import source_create, source_update
from tests.factories import ClaimFactory, LinkEvidenceFactory, ProtectedSourceFactory

pytestmark = pytest.mark.django_db


def last_activity(case):
    return Activity.objects.filter(case=case).latest("id")


def test_protected_source_identity_never_enters_the_activity_record(personas):
    source = source_create(
        actor=personas.reporter,
        case=personas.case,
        kind="person",
        name="Zhang Min",
        protected=True,
        pseudonym="Source in China",
        notes="Meets at the tea house",
    )
    source_update(actor=personas.editor, source=source, name="Zhang Wei", notes="New phone")
    rows = Activity.objects.filter(case=personas.case, target_type="source")
    assert [r.verb for r in rows] == ["source.created", "source.updated"]
    for row in rows:
        secrets = list(row.secrets.values_list("value", flat=True))
        text = f"{row.target_label} {row.data} {secrets}"
        assert "Zhang" not in text and "tea house" not in text and "phone" not in text
        assert row.target_label.startswith("$c:")  # a commitment to the pseudonym
        (shown,), _ = activity_rows([row], reveal=False)
        assert shown.target_label == "Source in China"
    assert rows.last().data == {"fields": ["name", "notes"]}


def test_protected_source_needs_a_pseudonym_other_than_its_name(personas):
    with pytest.raises(ValidationError):
        source_create(
            actor=personas.reporter, case=personas.case, kind="person", name="Zhang", protected=True
        )
    with pytest.raises(ValidationError):
        source_create(
            actor=personas.reporter,
            case=personas.case,
            kind="person",
            name="Zhang",
            protected=True,
            pseudonym="zhang",
        )


def test_unknown_source_kind_is_refused(personas):
    with pytest.raises(ValidationError):
        source_create(actor=personas.reporter, case=personas.case, kind="oracle", name="Delphi")


def test_testimony_records_who_said_what_and_when(personas):
    source = ProtectedSourceFactory(case=personas.case, created_by=personas.reporter)
    evidence = evidence_create(
        actor=personas.reporter,
        case=personas.case,
        kind="testimony",
        source=source,
        text="Trucked to Longkou on 17 May.",
        stated_on="2026-05-28",
    )
    evidence.refresh_from_db()
    assert (evidence.kind, evidence.source, str(evidence.stated_on)) == (
        "testimony",
        source,
        "2026-05-28",
    )
    row = last_activity(personas.case)
    assert (row.verb, row.target_id, row.data["source"]) == (
        "evidence.added",
        evidence.pk,
        source.pk,
    )


@pytest.mark.parametrize(
    "fields",
    [
        {"kind": "testimony", "text": "no source"},
        {"kind": "link", "url": ""},
        {"kind": "photo", "url": "https://x.example"},
        {"kind": "link", "url": "not a url"},
        {"kind": "link", "url": "https://x.example", "latitude": 95.0, "longitude": 1.0},
    ],
)
def test_evidence_without_what_its_kind_needs_is_refused(personas, fields):
    with pytest.raises(ValidationError):
        evidence_create(actor=personas.reporter, case=personas.case, **fields)
    assert not personas.case.evidence.exists()


def test_evidence_update_never_touches_file_or_hash(personas):
    evidence = LinkEvidenceFactory(case=personas.case, collected_by=personas.reporter)
    with pytest.raises(ValidationError):
        evidence_update(actor=personas.reporter, evidence=evidence, sha256="0" * 64)
    evidence_update(actor=personas.reporter, evidence=evidence, place_name="Dandong station")
    row = last_activity(personas.case)
    # The stated place is committed in the chained row, and shown to who may see it.
    assert is_commitment(row.data["values"]["place_name"])
    (shown,), _ = activity_rows([row], reveal=False)
    assert shown.data == {"fields": ["place_name"], "values": {"place_name": "Dandong station"}}


def test_link_evidence_to_claim_and_change_and_remove_it(personas):
    claim = ClaimFactory(case=personas.case, author=personas.reporter)
    evidence = LinkEvidenceFactory(case=personas.case, collected_by=personas.reporter)
    link = evidence_link(
        actor=personas.reporter, claim=claim, evidence=evidence, stance="contradicts", note="No"
    )
    assert last_activity(personas.case).verb == "link.created"
    with pytest.raises(ValidationError):
        evidence_link(actor=personas.reporter, claim=claim, evidence=evidence, stance="supports")
    link_update(actor=personas.reporter, link=link, stance="supports")
    assert last_activity(personas.case).data == {"stance": "supports"}
    link_remove(actor=personas.reporter, link=link)
    assert last_activity(personas.case).verb == "link.removed"
    assert not EvidenceLink.objects.exists()


def test_evidence_of_another_case_cannot_be_linked(personas):
    claim = ClaimFactory(case=personas.case, author=personas.reporter)
    foreign = LinkEvidenceFactory()
    with pytest.raises(ValidationError):
        evidence_link(actor=personas.reporter, claim=claim, evidence=foreign, stance="supports")


def test_unknown_stance_is_refused(personas):
    claim = ClaimFactory(case=personas.case, author=personas.reporter)
    evidence = LinkEvidenceFactory(case=personas.case)
    with pytest.raises(ValidationError):
        evidence_link(actor=personas.reporter, claim=claim, evidence=evidence, stance="maybe")


def test_comment_edits_are_kept_and_only_the_author_edits(personas):
    claim = ClaimFactory(case=personas.case, author=personas.reporter)
    comment = comment_create(actor=personas.reporter, claim=claim, text="Check the shadows.")
    with pytest.raises(PermissionDenied):
        comment_edit(actor=personas.editor, comment=comment, text="Mine now")
    comment_edit(actor=personas.reporter, comment=comment, text="Check the shadows at noon.")
    comment.refresh_from_db()
    assert comment.text == "Check the shadows at noon."
    assert comment.edited_at is not None
    assert list(comment.revisions.values_list("text", flat=True)) == ["Check the shadows."]
    assert [r.verb for r in Activity.objects.filter(target_type="comment")] == [
        "comment.created",
        "comment.edited",
    ]


def test_comment_on_evidence(personas):
    evidence = LinkEvidenceFactory(case=personas.case)
    comment = comment_create(
        actor=personas.viewer.__class__.objects.get(username="bob"),
        evidence=evidence,
        text="Archived a copy.",
    )
    assert Comment.objects.get(evidence=evidence) == comment


def test_empty_comment_is_refused(personas):
    claim = ClaimFactory(case=personas.case, author=personas.reporter)
    with pytest.raises(ValidationError):
        comment_create(actor=personas.reporter, claim=claim, text="  ")


# --- A change to a decided claim's evidence reopens it ----------------------------------------


def decided_claim(personas, status="supported"):
    """A claim bob wrote with one web link (supporting; contradicting for a contradicted claim,
    which a decision needs), which erin decided."""
    claim = claim_create(actor=personas.reporter, case=personas.case, statement="Never left")
    evidence = LinkEvidenceFactory(case=personas.case, title="Dandong station, 25 May")
    stance = "contradicts" if status == "contradicted" else "supports"
    link = evidence_link(actor=personas.reporter, claim=claim, evidence=evidence, stance=stance)
    claim_submit(actor=personas.reporter, claim=claim)
    claim_review(actor=personas.editor, claim=claim, decision=status, note="Two dated photos")
    return claim, link


def change(kind, personas, claim, link):
    """Make one kind of change to the claim's evidence; return who made it and what the
    history's note says about it."""
    if kind == "link":
        other = LinkEvidenceFactory(case=personas.case, title="April media report")
        evidence_link(actor=personas.reporter, claim=claim, evidence=other, stance="contradicts")
        return personas.reporter, "bob linked April media report (contradicts)"
    if kind == "unlink":
        link_remove(actor=personas.reporter, link=link)
        return personas.reporter, "bob unlinked Dandong station, 25 May (supports)"
    if kind == "stance":
        link_update(actor=personas.reporter, link=link, stance="context")
        return personas.reporter, "bob changed Dandong station, 25 May from supports to context"
    if kind == "delete":
        evidence_delete(actor=personas.owner, evidence=link.evidence, reason="Wrong train")
        return (
            personas.owner,
            "alice deleted Dandong station, 25 May (supports). Reason: Wrong train",
        )
    raise AssertionError(kind)


CHANGES = ["link", "unlink", "stance", "delete"]


@pytest.mark.parametrize("kind", CHANGES)
def test_a_change_to_a_decided_claims_evidence_reopens_it_once(personas, kind):
    claim, link = decided_claim(personas)
    before = claim.transitions.count()
    actor, what = change(kind, personas, claim, link)
    claim.refresh_from_db()
    assert claim.status == "in_review"
    # The decision no longer stands; who made it and why stay in the history.
    assert (claim.reviewer, claim.reviewed_at, claim.review_note) == (None, None, "")
    new = list(claim.transitions.all()[before:])
    assert [(t.from_status, t.to_status, t.actor, t.note) for t in new] == [
        ("supported", "in_review", actor, f"Evidence changed after the decision: {what}")
    ]
    reopened = Activity.objects.filter(case=personas.case, verb="claim.reopened")
    assert [(a.actor, a.target_id, a.data["from"], a.data["to"]) for a in reopened] == [
        (actor, claim.pk, "supported", "in_review")
    ]
    # The change's own row comes first, then the reopening it caused.
    verbs = list(Activity.objects.filter(case=personas.case).values_list("verb", flat=True))
    expected = {
        "link": ["link.created", "claim.reopened"],
        "unlink": ["link.removed", "claim.reopened"],
        "stance": ["link.updated", "claim.reopened"],
        "delete": ["link.removed", "claim.reopened", "evidence.deleted"],
    }[kind]
    assert verbs[-len(expected) :] == expected
    assert activity_chain_problems(case=personas.case) == []


@pytest.mark.parametrize("decision", ["supported", "contradicted", "unverified"])
def test_every_decision_is_reopened(personas, decision):
    claim, link = decided_claim(personas, status=decision)
    link_remove(actor=personas.reporter, link=link)
    assert list(claim.transitions.values_list("from_status", "to_status"))[-1] == (
        decision,
        "in_review",
    )
    claim.refresh_from_db()
    assert claim.status == "in_review"


@pytest.mark.parametrize("kind", CHANGES)
@pytest.mark.parametrize("status", ["draft", "in_review"])
def test_a_claim_not_yet_decided_is_untouched(personas, kind, status):
    claim = claim_create(actor=personas.reporter, case=personas.case, statement="Never left")
    evidence = LinkEvidenceFactory(case=personas.case, title="Dandong station, 25 May")
    link = evidence_link(actor=personas.reporter, claim=claim, evidence=evidence, stance="supports")
    if status == "in_review":
        claim_submit(actor=personas.reporter, claim=claim)
    before = list(claim.transitions.values_list("pk", flat=True))
    change(kind, personas, claim, link)
    claim.refresh_from_db()
    assert claim.status == status
    assert list(claim.transitions.values_list("pk", flat=True)) == before
    assert not Activity.objects.filter(verb="claim.reopened").exists()


def test_a_new_note_alone_does_not_reopen(personas):
    claim, link = decided_claim(personas)
    link_update(actor=personas.reporter, link=link, note="Same cars, empty")
    claim.refresh_from_db()
    assert (claim.status, claim.reviewer) == ("supported", personas.editor)


def test_a_refused_link_change_reopens_nothing(personas):
    claim, link = decided_claim(personas)
    before = claim.transitions.count()
    with pytest.raises(ValidationError):
        evidence_link(
            actor=personas.reporter, claim=claim, evidence=link.evidence, stance="contradicts"
        )
    with pytest.raises(ValidationError):
        link_update(actor=personas.reporter, link=link, stance="maybe")
    with pytest.raises(PermissionDenied):
        link_remove(actor=personas.viewer, link=link)
    claim.refresh_from_db()
    assert claim.status == "supported" and claim.transitions.count() == before


def test_reopening_and_the_link_change_are_one_transaction(personas, monkeypatch):
    """If anything fails after the claim was reopened, the unlink is undone with it."""
    claim, link = decided_claim(personas)
    before, link_id = claim.transitions.count(), link.pk
    record = cases_services.activity_record

    def failing_record(**kwargs):
        if kwargs["verb"] == "claim.reopened":
            raise RuntimeError("the database went away")
        return record(**kwargs)

    monkeypatch.setattr(cases_services, "activity_record", failing_record)
    with pytest.raises(RuntimeError):
        link_remove(actor=personas.reporter, link=link)
    claim.refresh_from_db()
    assert claim.status == "supported" and claim.reviewer == personas.editor
    assert claim.transitions.count() == before
    assert EvidenceLink.objects.filter(pk=link_id).exists()
    assert not Activity.objects.filter(verb="link.removed").exists()


def test_a_reopened_claim_needs_a_fresh_decision_from_a_non_author(personas):
    claim, link = decided_claim(personas)
    link_remove(actor=personas.reporter, link=link)
    # No one moves it out of review by hand except by a review.
    with pytest.raises(ValidationError):
        claim_submit(actor=personas.reporter, claim=claim)
    with pytest.raises(PermissionDenied):
        claim_review(actor=personas.reporter, claim=claim, decision="supported", note="Still")
    claim_review(actor=personas.owner, claim=claim, decision="unverified", note="One photo left")
    claim.refresh_from_db()
    assert (claim.status, claim.reviewer) == ("unverified", personas.owner)
    assert list(claim.transitions.values_list("from_status", "to_status")) == [
        ("draft", "in_review"),
        ("in_review", "supported"),
        ("supported", "in_review"),
        ("in_review", "unverified"),
    ]


def test_reopening_is_not_a_move_anyone_asks_for(personas):
    # The system's move is not among the ones people make.
    assert all("in_review" not in Claim.TRANSITIONS[d] for d in Claim.DECIDED)


def test_purging_deleted_evidence_changes_no_claim(personas):
    """Deletion took the links away (and reopened the claim); the purge changes no claim."""
    claim, link = decided_claim(personas)
    evidence_delete(actor=personas.owner, evidence=link.evidence, reason="Wrong train")
    claim_review(actor=personas.editor, claim=claim, decision="unverified", note="Nothing left")
    transitions = claim.transitions.count()
    evidence_purge(actor=personas.owner, evidence=link.evidence)
    claim.refresh_from_db()
    assert claim.status == "unverified" and claim.transitions.count() == transitions


def test_deleting_evidence_reopens_every_decided_claim_resting_on_it(personas):
    first, link = decided_claim(personas)
    second = claim_create(actor=personas.reporter, case=personas.case, statement="Arrived")
    evidence_link(
        actor=personas.reporter, claim=second, evidence=link.evidence, stance="contradicts"
    )
    claim_submit(actor=personas.reporter, claim=second)
    claim_review(actor=personas.editor, claim=second, decision="contradicted", note="Photos")
    draft = claim_create(actor=personas.reporter, case=personas.case, statement="Trucked")
    evidence_link(actor=personas.reporter, claim=draft, evidence=link.evidence, stance="supports")
    evidence_delete(actor=personas.editor, evidence=link.evidence, reason="Wrong train")
    statuses = dict(Claim.objects.values_list("statement", "status"))
    assert statuses == {"Never left": "in_review", "Arrived": "in_review", "Trucked": "draft"}
    assert Activity.objects.filter(verb="claim.reopened").count() == 2


def _protected(personas):
    return source_create(
        actor=personas.reporter,
        case=personas.case,
        kind="person",
        name="Zhang Min",
        protected=True,
        pseudonym="Source in China",
    )


@pytest.mark.parametrize("guess", ["Zhang Min", "Li Wei"])
def test_reporter_cannot_confirm_a_guessed_name_through_the_pseudonym(personas, guess):
    source = _protected(personas)
    with pytest.raises(PermissionDenied) as refused:
        source_update(actor=personas.reporter, source=source, pseudonym=guess)
    # The same refusal, word for word, whether the guess is right or wrong.
    assert str(refused.value) == (
        "To change a protected source's identity or pseudonym you need the editor role in "
        "this case."
    )
    source.refresh_from_db()
    assert source.pseudonym == "Source in China"


def test_editor_changes_a_protected_sources_pseudonym(personas):
    source = _protected(personas)
    source_update(actor=personas.editor, source=source, pseudonym="Forwarder in Dandong")
    source.refresh_from_db()
    assert source.pseudonym == "Forwarder in Dandong"
    assert last_activity(personas.case).data == {"fields": ["pseudonym"]}


def test_reporter_cannot_move_a_protected_sources_evidence_to_an_open_source(personas):
    source = _protected(personas)
    open_source = source_create(
        actor=personas.reporter, case=personas.case, kind="publication", name="Daily"
    )
    item = evidence_create(
        actor=personas.reporter,
        case=personas.case,
        kind="testimony",
        source=source,
        text="Trucked to Longkou.",
        place_name="Longkou",
        latitude=37.6,
        longitude=120.3,
    )
    with pytest.raises(PermissionDenied):
        evidence_update(actor=personas.reporter, evidence=item, source=open_source)
    item.refresh_from_db()
    assert item.source == source


def test_stated_place_of_a_protected_sources_evidence_stays_out_of_the_record(personas):
    source = _protected(personas)
    item = evidence_create(
        actor=personas.reporter, case=personas.case, kind="testimony", source=source, text="x"
    )
    evidence_update(
        actor=personas.reporter, evidence=item, place_name="Longkou", latitude=37.6, longitude=120.3
    )
    row = last_activity(personas.case)
    assert row.data == {"fields": ["latitude", "longitude", "place_name"], "values": {}}
