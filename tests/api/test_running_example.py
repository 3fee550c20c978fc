"""The running example (the Dandong freight train), end to end, through the API alone."""

from datetime import datetime

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from cases.models import Activity
from tests.factories import UserFactory
from tests.images import jpeg_bytes, scene

PASSWORD = "pass-word-123"  # noqa: S105 (the factories' test password)


def sign_in(username: str) -> APIClient:
    client = APIClient()
    response = client.post(
        "/api/v1/auth/token/", {"username": username, "password": PASSWORD}, format="json"
    )
    assert response.status_code == 201, response.content
    assert set(response.json()) == {"token", "prefix", "expires", "scope", "cases"}
    client.credentials(HTTP_AUTHORIZATION=f"Token {response.json()['token']}")
    return client


def ok(response, status=200):
    assert response.status_code == status, (response.status_code, response.content[:2000])
    return response.json() if response.content else None


@pytest.fixture
def people(db):
    return {
        name: UserFactory(username=name)
        for name in ("olivia", "edgar", "emma", "rita", "victor", "nora")
    }


def test_the_dandong_case_end_to_end(people, django_capture_on_commit_callbacks):
    olivia = sign_in("olivia")

    # The case, and its members in every role.
    case = ok(
        olivia.post(
            "/api/v1/cases/",
            {"title": "The Dandong freight train", "summary": "Did the train ever leave?"},
            format="json",
        ),
        201,
    )
    assert case["role"] == "owner" and case["status"] == "open"
    cid = case["id"]
    for username, role in (
        ("edgar", "editor"),
        ("emma", "editor"),
        ("rita", "reporter"),
        ("victor", "viewer"),
    ):
        member = ok(
            olivia.post(
                f"/api/v1/cases/{cid}/members/",
                {"username": username, "role": role},
                format="json",
            ),
            201,
        )
        assert (member["username"], member["role"]) == (username, role)
    members = ok(olivia.get(f"/api/v1/cases/{cid}/members/"))
    assert {m["username"]: m["role"] for m in members["results"]} == {
        "olivia": "owner",
        "edgar": "editor",
        "emma": "editor",
        "rita": "reporter",
        "victor": "viewer",
    }

    rita, edgar, victor, nora = (sign_in(n) for n in ("rita", "edgar", "victor", "nora"))

    # Sources, one of them protected.
    def add_source(**fields):
        return ok(rita.post(f"/api/v1/cases/{cid}/sources/", fields, format="json"), 201)

    china = add_source(
        kind="person",
        name="Li Wei",
        protected=True,
        pseudonym="Source in China",
        reliability="B",
        notes="Signal: +86 555 0100",
    )
    several = add_source(
        kind="person", name="Border traders", protected=True, pseudonym="Multiple sources"
    )
    media = add_source(kind="publication", name="April media reports", reliability="D")
    photographer = add_source(kind="own_reporting", name="Our photographer", reliability="A")
    assert china["name"] is None and china["notes"] is None  # rita is a reporter
    assert china["display_name"] == "Source in China"

    # The two photos, same place, same train: loaded on 14 May, empty on 25 May.
    def upload(data: bytes, name: str, **fields):
        with django_capture_on_commit_callbacks(execute=True):
            response = rita.post(
                f"/api/v1/cases/{cid}/evidence/",
                {"kind": "photo", "file": SimpleUploadedFile(name, data), **fields},
                format="multipart",
            )
        return ok(response, 201)

    loaded = upload(
        jpeg_bytes(
            scene(7),
            taken_at="2024:05:14 10:12:00",
            offset="+08:00",
            make="Canon",
            model="EOS R6",
            gps=(40.1186, 124.3940),
        ),
        "dandong-loaded.jpg",
        title="Loaded train, blue tarpaulins",
        source=china["id"],
        observed_at="2024-05-14T10:12:00+08:00",
        place_name="Dandong station",
        latitude=40.1186,
        longitude=124.3940,
    )
    empty = upload(
        jpeg_bytes(
            scene(8),
            taken_at="2024:05:25 16:40:00",
            offset="+08:00",
            make="Canon",
            model="EOS R6",
            gps=(40.1190, 124.3935),
        ),
        "dandong-empty.jpg",
        title="The same cars, empty",
        source=photographer["id"],
        observed_at="2024-05-25T16:40:00+08:00",
        place_name="Dandong station",
    )
    # Processing ran in-process: both photos are ready, with what the pipeline found.
    for photo in (loaded, empty):
        photo = ok(rita.get(f"/api/v1/evidence/{photo['id']}/"))
        assert photo["status"] == "ready", photo["failure_reason"]
        assert photo["kind"] == "photo" and len(photo["sha256"]) == 64
        assert photo["content_type"] == "image/jpeg" and photo["size"] > 0
        assert (photo["width"], photo["height"]) == (640, 480)
        assert photo["camera_make"] == "Canon" and photo["camera_model"] == "EOS R6"
        assert len(photo["phash"]) == 16 and int(photo["phash"], 16) >= 0
        assert len(photo["dhash"]) == 16
        assert photo["thumbnail_url"] and photo["preview_url"]
        assert photo["exif"] is None  # a reporter never sees the full EXIF
    assert ok(rita.get(f"/api/v1/evidence/{empty['id']}/"))["gps_latitude"] == pytest.approx(
        40.1190, abs=1e-4
    )
    # The loaded photo came from the protected source: its GPS is hidden below editor...
    as_rita = ok(rita.get(f"/api/v1/evidence/{loaded['id']}/"))
    assert as_rita["gps_latitude"] is None and as_rita["latitude"] is None
    assert as_rita["source_name"] == "Source in China"
    # ...and shown, with the EXIF, to an editor.
    as_edgar = ok(edgar.get(f"/api/v1/evidence/{loaded['id']}/"))
    assert as_edgar["gps_latitude"] == pytest.approx(40.1186, abs=1e-4)
    assert as_edgar["exif"] and as_edgar["source_name"] == "Li Wei"
    thumbnail = victor.get(as_rita["thumbnail_url"])
    assert thumbnail.status_code == 200 and thumbnail["Content-Type"].startswith("image/")
    assert victor.get(f"/api/v1/evidence/{loaded['id']}/original/").status_code == 403
    original = edgar.get(f"/api/v1/evidence/{loaded['id']}/original/")
    assert original.status_code == 200
    assert original["Content-Disposition"].startswith("attachment")
    assert Activity.objects.filter(verb="evidence.original_downloaded").count() == 1

    # The April media report and the source's testimony.
    april = ok(
        rita.post(
            f"/api/v1/cases/{cid}/evidence/",
            {
                "kind": "link",
                "url": "https://news.example.org/2024/04/train-arrives-in-north-korea",
                "title": "Train left China, arrived in North Korea",
                "source": media["id"],
                "observed_at": "2024-04-12T09:00:00Z",
            },
            format="json",
        ),
        201,
    )
    testimony = ok(
        rita.post(
            f"/api/v1/cases/{cid}/evidence/",
            {
                "kind": "testimony",
                "source": china["id"],
                "text": "The goods were trucked away on 17 May to Longkou, Shandong, and "
                "shipped with goods from warehouses across China to Nampo.",
                "stated_on": "2024-05-28",
            },
            format="json",
        ),
        201,
    )
    no_trains = ok(
        rita.post(
            f"/api/v1/cases/{cid}/evidence/",
            {
                "kind": "testimony",
                "source": several["id"],
                "text": "No freight train has crossed the border since January last year.",
                "stated_on": "2024-05-30",
            },
            format="json",
        ),
        201,
    )
    evidence = ok(rita.get(f"/api/v1/cases/{cid}/evidence/?ordering=created_at"))
    assert evidence["count"] == 5
    assert ok(rita.get(f"/api/v1/cases/{cid}/evidence/?kind=photo&status=ready"))["count"] == 2

    # The claims.
    def claim(statement: str):
        return ok(
            rita.post(f"/api/v1/cases/{cid}/claims/", {"statement": statement}, format="json"),
            201,
        )

    never_left = claim("The train never left Dandong since January of last year")
    arrived = claim("The train left China and arrived in North Korea in April")
    trucked = claim("The cargo was unloaded on 17 May and trucked to Longkou")
    shipped = claim("The goods were shipped from Longkou to Nampo")
    no_train = claim(
        "No international freight train has run between the two countries since January"
    )

    # Links, with both stances.
    def link(claim_id: int, evidence_id: int, stance: str):
        return ok(
            rita.post(
                f"/api/v1/claims/{claim_id}/links/",
                {"evidence": evidence_id, "stance": stance, "note": ""},
                format="json",
            ),
            201,
        )

    link(never_left["id"], empty["id"], "supports")
    link(never_left["id"], loaded["id"], "supports")
    link(arrived["id"], empty["id"], "contradicts")
    link(arrived["id"], april["id"], "supports")
    link(trucked["id"], testimony["id"], "supports")
    link(shipped["id"], testimony["id"], "supports")
    link(no_train["id"], no_trains["id"], "supports")
    duplicate = rita.post(
        f"/api/v1/claims/{arrived['id']}/links/",
        {"evidence": april["id"], "stance": "context"},
        format="json",
    )
    assert duplicate.status_code in (400, 409)

    grouped = ok(victor.get(f"/api/v1/claims/{arrived['id']}/"))["links"]
    assert [entry["evidence"]["id"] for entry in grouped["supports"]] == [april["id"]]
    assert [entry["evidence"]["id"] for entry in grouped["contradicts"]] == [empty["id"]]
    assert grouped["context"] == []

    # Submit, then an editor reviews.
    for c in (never_left, arrived):
        assert ok(rita.post(f"/api/v1/claims/{c['id']}/submit/", {}, format="json"))["status"] == (
            "in_review"
        )
    assert (
        rita.post(
            f"/api/v1/claims/{never_left['id']}/review/",
            {"decision": "supported", "note": "I wrote it"},
            format="json",
        ).status_code
        == 403
    )
    decided = ok(
        edgar.post(
            f"/api/v1/claims/{never_left['id']}/review/",
            {
                "decision": "supported",
                "note": "Both photos show it at Dandong.",
                "confidence": "high",
            },
            format="json",
        )
    )
    assert decided["status"] == "supported" and decided["reviewer"] == "edgar"
    assert decided["confidence"] == "high"
    decided = ok(
        edgar.post(
            f"/api/v1/claims/{arrived['id']}/review/",
            {"decision": "contradicted", "note": "The 25 May photo shows the train at Dandong."},
            format="json",
        )
    )
    assert decided["status"] == "contradicted"

    # The history and the activity.
    history = ok(victor.get(f"/api/v1/claims/{arrived['id']}/history/"))["results"]
    assert [(h["from_status"], h["to_status"], h["actor"]) for h in history] == [
        ("draft", "in_review", "rita"),
        ("in_review", "contradicted", "edgar"),
    ]
    activity = ok(victor.get(f"/api/v1/cases/{cid}/activity/?page_size=200"))
    verbs = [row["verb"] for row in activity["results"]]
    assert verbs[0] == "claim.reviewed"  # newest first
    for verb in (
        "case.created",
        "member.added",
        "source.created",
        "evidence.received",
        "evidence.added",
        "claim.created",
        "link.created",
        "claim.submitted",
        "claim.reviewed",
        "evidence.original_downloaded",
    ):
        assert verb in verbs, verb
    # Nothing a viewer reads names the protected source.
    for path in (
        f"/api/v1/cases/{cid}/sources/",
        f"/api/v1/cases/{cid}/evidence/",
        f"/api/v1/cases/{cid}/claims/",
        f"/api/v1/cases/{cid}/activity/?page_size=200",
    ):
        body = victor.get(path).content.decode()
        assert "Li Wei" not in body and "+86 555" not in body and "Border traders" not in body

    # Nora, not a member, learns nothing of the case.
    assert nora.get(f"/api/v1/cases/{cid}/").status_code == 404
    assert nora.get(f"/api/v1/claims/{arrived['id']}/").status_code == 404
    assert ok(nora.get("/api/v1/cases/"))["count"] == 0
    assert datetime.fromisoformat(case["created_at"])
