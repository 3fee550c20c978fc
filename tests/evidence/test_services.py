import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from cases.models import Activity
from evidence.models import Comment, EvidenceLink
from evidence.services import (
    comment_create,
    comment_edit,
    evidence_create,
    evidence_link,
    evidence_update,
    link_remove,
    link_update,
    source_create,
    source_update,
)
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
        text = f"{row.target_label} {row.data}"
        assert "Zhang" not in text and "tea house" not in text and "phone" not in text
        assert row.target_label == "Source in China"
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
    assert last_activity(personas.case).data == {
        "fields": ["place_name"],
        "values": {"place_name": "Dandong station"},
    }


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
