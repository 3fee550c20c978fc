"""Corroboration: the same bytes from a second source are a second provenance, and a claim's
support is counted in independent lines of evidence and sources (evidence.corroboration)."""

import io
import json
import zipfile

from django.core.files.storage import default_storage
from django.test import Client

from cases.activity import Verb
from cases.models import Activity
from cases.services import claim_create
from evidence.corroboration import claim_corroboration
from evidence.models import Evidence, PhotoMatch, Provenance
from evidence.reader import Reader
from evidence.services.evidence import evidence_create, photo_ingest
from evidence.services.exports import export_request
from evidence.services.links import evidence_link
from evidence.services.sources import source_create
from tests.api.conftest import token_client
from tests.images import jpeg_bytes, upload


def _sources(personas):
    case, editor = personas.case, personas.editor
    falcon = source_create(
        actor=editor,
        case=case,
        kind="person",
        name="Li Ming",
        protected=True,
        pseudonym="Falcon",
    )
    wire = source_create(actor=editor, case=case, kind="publication", name="Wire agency")
    own = source_create(actor=editor, case=case, kind="own_reporting", name="Our photographer")
    return falcon, wire, own


def _photo(personas, capture, *, seed, source, size=(640, 480), title="", make="Canon"):
    with capture(execute=True):
        item, created = photo_ingest(
            actor=personas.reporter,
            case=personas.case,
            file=upload(jpeg_bytes(seed=seed, size=size, make=make), f"p{seed}-{size[0]}.jpg"),
            source=source,
            title=title,
        )
    assert created
    return item


def test_the_same_bytes_from_a_second_source_are_a_second_provenance(
    personas, django_capture_on_commit_callbacks
):
    falcon, wire, _ = _sources(personas)
    data = jpeg_bytes(seed=5, make="Canon")
    with django_capture_on_commit_callbacks(execute=True):
        first, created = photo_ingest(
            actor=personas.reporter,
            case=personas.case,
            file=upload(data, "train.jpg"),
            source=wire,
        )
    again, created_again = photo_ingest(
        actor=personas.editor, case=personas.case, file=upload(data, "IMG_0042.jpg"), source=falcon
    )
    assert created and not created_again and again.pk == first.pk
    assert Evidence.objects.filter(case=personas.case).count() == 1
    rows = list(
        Provenance.objects.filter(evidence=first).values_list(
            "source", "received_by__username", "original_name"
        )
    )
    assert rows == [(wire.pk, "bob", "train.jpg"), (falcon.pk, "erin", "IMG_0042.jpg")]
    row = Activity.objects.get(verb=Verb.EVIDENCE_UPLOADED_AGAIN, target_id=first.pk)
    assert row.data["source"] == falcon.pk and row.data["original_name"] == "IMG_0042.jpg"

    # The API lists every provenance, the protected source by its pseudonym below editor.
    def provenance(user):
        response = token_client(user).get(f"/api/v1/evidence/{first.pk}/")
        assert response.status_code == 200
        return [
            {k: v for k, v in p.items() if k != "received_at"}
            for p in response.json()["provenance"]
        ]

    assert provenance(personas.viewer) == [
        {
            "source": wire.pk,
            "source_name": "Wire agency",
            "received_by": "bob",
            "original_name": "train.jpg",
        },
        {
            "source": falcon.pk,
            "source_name": "Falcon",
            "received_by": "erin",
            "original_name": "IMG_0042.jpg",
        },
    ]
    assert provenance(personas.editor)[1]["source_name"] == "Li Ming"
    # And the page.
    client = personas_client(personas.viewer)
    page = client.get(f"/evidence/{first.pk}/").content.decode()
    assert "Provenance" in page and "IMG_0042.jpg" in page and "Falcon" in page
    assert "Li Ming" not in page


def personas_client(user):
    client = Client()
    client.force_login(user)
    return client


def test_near_duplicates_from_different_sources_are_one_line_and_one_source(
    personas, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    falcon, wire, own = _sources(personas)
    a = _photo(personas, capture, seed=2, source=wire, title="Loaded train")
    b = _photo(personas, capture, seed=2, size=(480, 360), source=falcon, title="Loaded again")
    c = _photo(personas, capture, seed=9, source=own, title="Station yard", make="")
    assert PhotoMatch.objects.filter(photo_a=a.pk, photo_b=b.pk).exists()
    assert not PhotoMatch.objects.filter(photo_a__in=[a.pk, b.pk], photo_b=c.pk).exists()
    claim = claim_create(actor=personas.reporter, case=personas.case, statement="Never left")
    for item in (a, b, c):
        evidence_link(actor=personas.reporter, claim=claim, evidence=item, stance="supports")

    viewer = Reader(actor=personas.viewer, case=personas.case, via="page")
    summary = claim_corroboration(claim=claim, reader=viewer)
    assert summary == {
        "supports": {
            "items": 3,
            "photos": 3,
            "independent_lines": 2,
            "independent_sources": 2,
            "unsourced_lines": 0,
            "lines": [
                {
                    "items": [
                        {
                            "id": a.pk,
                            "kind": "photo",
                            "label": "Loaded train",
                            "flags": ["Near-duplicate from another source"],
                        },
                        {
                            "id": b.pk,
                            "kind": "photo",
                            "label": "Loaded again",
                            "flags": ["Near-duplicate from another source"],
                        },
                    ],
                    "sources": [
                        {"id": wire.pk, "name": "Wire agency", "protected": False},
                        {"id": falcon.pk, "name": "Falcon", "protected": True},
                    ],
                    "why": ["near_duplicate"],
                },
                {
                    "items": [
                        {
                            "id": c.pk,
                            "kind": "photo",
                            "label": "Station yard",
                            "flags": ["No camera metadata"],
                        },
                    ],
                    "sources": [{"id": own.pk, "name": "Our photographer", "protected": False}],
                    "why": [],
                },
            ],
        },
        "contradicts": {
            "items": 0,
            "photos": 0,
            "independent_lines": 0,
            "independent_sources": 0,
            "unsourced_lines": 0,
            "lines": [],
        },
        "warnings": [
            "2 of 3 supporting photos are near-duplicates from different sources (Wire agency, "
            "Falcon): they are not independent of each other.",
            "The supporting photo “Loaded train” is flagged: Near-duplicate from another source.",
            "The supporting photo “Loaded again” is flagged: Near-duplicate from another source.",
            "The supporting photo “Station yard” is flagged: No camera metadata.",
        ],
    }
    # The editor sees the name, and that showing it is recorded as a reveal.
    editor = Reader(actor=personas.editor, case=personas.case, via="page")
    shown = claim_corroboration(claim=claim, reader=editor)
    assert shown["supports"]["lines"][0]["sources"][1]["name"] == "Li Ming"
    assert "Li Ming" in shown["warnings"][0]
    assert editor.record() == 1


def test_the_same_file_from_two_sources_counts_once_and_says_so(
    personas, django_capture_on_commit_callbacks
):
    falcon, wire, own = _sources(personas)
    data = jpeg_bytes(seed=7, make="Canon")
    with django_capture_on_commit_callbacks(execute=True):
        item, _ = photo_ingest(
            actor=personas.reporter, case=personas.case, file=upload(data, "a.jpg"), source=wire
        )
    photo_ingest(
        actor=personas.reporter, case=personas.case, file=upload(data, "b.jpg"), source=own
    )
    claim = claim_create(actor=personas.reporter, case=personas.case, statement="Loaded")
    evidence_link(actor=personas.reporter, claim=claim, evidence=item, stance="supports")
    summary = claim_corroboration(
        claim=claim, reader=Reader(actor=personas.viewer, case=personas.case, via="page")
    )
    side = summary["supports"]
    assert (side["items"], side["independent_lines"], side["independent_sources"]) == (1, 1, 1)
    assert side["lines"][0]["why"] == ["same_file"]
    assert [s["name"] for s in side["lines"][0]["sources"]] == ["Wire agency", "Our photographer"]
    assert summary["warnings"] == [
        "“a.jpg” came in as the same file from 2 sources (Wire agency, Our photographer): "
        "it counts once.",
        "All support comes from sources that share material (Wire agency, Our photographer): "
        "they count as one independent source.",
    ]


def test_all_support_from_one_protected_source_names_only_its_pseudonym_below_editor(
    personas,
):
    falcon, wire, _ = _sources(personas)
    claim = claim_create(actor=personas.reporter, case=personas.case, statement="Trucked")
    told = evidence_create(
        actor=personas.reporter,
        case=personas.case,
        kind="testimony",
        source=falcon,
        text="Trucked to Longkou on 17 May.",
    )
    link_a = evidence_create(
        actor=personas.reporter, case=personas.case, kind="link", url="https://x.example/a"
    )
    link_b = evidence_create(
        actor=personas.reporter, case=personas.case, kind="link", url="https://x.example/a/"
    )
    evidence_link(actor=personas.reporter, claim=claim, evidence=told, stance="supports")
    evidence_link(actor=personas.reporter, claim=claim, evidence=link_a, stance="contradicts")
    evidence_link(actor=personas.reporter, claim=claim, evidence=link_b, stance="contradicts")
    response = token_client(personas.viewer).get(f"/api/v1/claims/{claim.pk}/")
    body = response.json()["corroboration"]
    assert body["supports"]["independent_sources"] == 1
    assert body["contradicts"]["independent_lines"] == 1
    assert body["contradicts"]["lines"][0]["why"] == ["same_address"]
    assert body["warnings"] == [
        "All support comes from protected source Falcon.",
        "2 contradicting links point to the same address: they count once.",
        "1 contradicting line of evidence names no source.",
    ]
    assert b"Li Ming" not in response.content
    page = personas_client(personas.viewer).get(f"/claims/{claim.pk}/").content.decode()
    assert "All support comes from protected source Falcon." in page
    assert "Li Ming" not in page
    editor = token_client(personas.editor).get(f"/api/v1/claims/{claim.pk}/").json()
    assert (
        editor["corroboration"]["warnings"][0] == "All support comes from protected source Li Ming."
    )


def test_the_export_carries_corroboration_provenance_and_flags_in_words(
    personas, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    falcon, wire, _ = _sources(personas)
    a = _photo(personas, capture, seed=2, source=wire, title="Loaded train")
    b = _photo(personas, capture, seed=2, size=(480, 360), source=falcon, title="Loaded again")
    claim = claim_create(actor=personas.reporter, case=personas.case, statement="Never left")
    for item in (a, b):
        evidence_link(actor=personas.reporter, claim=claim, evidence=item, stance="supports")
    with capture(execute=True):
        export = export_request(
            actor=personas.editor, case=personas.case, originals=False, reveal_protected=False
        )
    export.refresh_from_db()
    assert export.status == "ready", export.error
    with default_storage.open(export.file.name, "rb") as handle:
        archive = zipfile.ZipFile(io.BytesIO(handle.read()))
    manifest = json.loads(archive.read("manifest.json"))
    (exported,) = manifest["claims"]
    assert exported["corroboration"]["supports"]["independent_sources"] == 1
    assert exported["corroboration"]["warnings"][0] == (
        "2 of 2 supporting photos are near-duplicates from different sources (Wire agency, "
        "Falcon): they are not independent of each other."
    )
    items = {e["id"]: e for e in manifest["evidence"]}
    assert [p["source_name"] for p in items[b.pk]["provenance"]] == ["Falcon"]
    report = archive.read("report.html").decode()
    assert "2 of 2 supporting photos are near-duplicates" in report
    assert "Near-duplicate from another source." in report  # the flag in words
    assert "duplicate_other_source" not in report
    assert b"Li Ming" not in archive.read("manifest.json")
