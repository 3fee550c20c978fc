"""`GET /api/v1/search/` and `POST /api/v1/search/image/`: their whole answers, paging and
counts, refusals, protected identities and outsiders (the web tests' world)."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings
from rest_framework.fields import DateTimeField

from cases.models import SearchEntry
from evidence.models import Evidence
from evidence.services import evidence as evidence_services
from evidence.services.photos import photo_process
from tests.api.conftest import token_client
from tests.images import jpeg_bytes, pdf_bytes, png_declaring, upload
from tests.snapshot import session_snapshot
from tests.web.conftest import build_world, demo_photo

_world_snapshot = session_snapshot(build_world)

SEARCH = "/api/v1/search/"
IMAGE = "/api/v1/search/image/"
EMPTY = {"claim": 0, "evidence": 0, "comment": 0, "link": 0, "source": 0}


@pytest.fixture
def world(_world_snapshot, db):
    return _world_snapshot.restore()


def date_of(type: str, pk: int) -> str:
    return DateTimeField().to_representation(
        SearchEntry.objects.get(type=type, object_id=pk).occurred
    )


def without_scores(body: dict) -> dict:
    return {
        **body,
        "results": [{k: v for k, v in r.items() if k != "score"} for r in body["results"]],
    }


def test_search_answers_ranked_hits_in_one_shape(world):
    response = token_client(world.personas.reporter).get(SEARCH, {"q": "trucked"})
    assert response.status_code == 200
    body = response.json()
    case = {"id": world.case.pk, "title": world.case.title}
    assert without_scores(body) == {
        "count": 2,
        "counts": {**EMPTY, "claim": 1, "evidence": 1},
        "page": 1,
        "pages": 1,
        "results": [
            {
                "type": "claim",
                "id": world.in_review.pk,
                "case": case,
                "title": "The cargo was trucked to Longkou",
                "title_html": "The cargo was <mark>trucked</mark> to Longkou",
                "snippet_html": "",
                "web_url": f"http://testserver/claims/{world.in_review.pk}/",
                "kind": "",
                "status": "in_review",
                "date": date_of("claim", world.in_review.pk),
            },
            {
                "type": "evidence",
                "id": world.testimony.pk,
                "case": case,
                "title": "Source in China on the cargo",
                "title_html": "Source in China on the cargo",
                "snippet_html": "The goods were <mark>trucked</mark> to Longkou on 17 May.",
                "web_url": f"http://testserver/evidence/{world.testimony.pk}/",
                "kind": "testimony",
                "status": "",
                "date": date_of("evidence", world.testimony.pk),
            },
        ],
    }
    scores = [r["score"] for r in body["results"]]
    assert scores == sorted(scores, reverse=True) and scores[0] > scores[1]


def test_search_pages_with_honest_counts_and_filters(world):
    client = token_client(world.personas.viewer)
    first = client.get(SEARCH, {"q": "train", "page_size": 2}).json()
    total = first["count"]
    assert total == sum(first["counts"].values()) and total >= 4
    assert first["pages"] == -(-total // 2) and len(first["results"]) == 2
    last = client.get(SEARCH, {"q": "train", "page_size": 2, "page": first["pages"]}).json()
    assert len(last["results"]) == total - 2 * (first["pages"] - 1)
    claims = client.get(SEARCH, {"q": "train", "type": "claim,evidence", "kind": "photo"}).json()
    assert {(r["type"], r["kind"]) for r in claims["results"]} == {("evidence", "photo")}
    repeated = client.get(f"{SEARCH}?q=train&type=claim&type=source").json()
    assert {r["type"] for r in repeated["results"]} == {"claim"}
    assert repeated["count"] == first["counts"]["claim"] + first["counts"]["source"]


def test_search_refuses_bad_parameters_with_400_naming_them(world):
    client = token_client(world.personas.viewer)
    for params, field in (
        ({}, "q"),
        ({"q": "train", "type": "bogus"}, "type"),
        ({"q": "train", "date_from": "soon"}, "date_from"),
        ({"q": "train", "page_size": 1000}, "page_size"),
        ({"q": "train", "flag": "nope"}, "flag"),
    ):
        response = client.get(SEARCH, params)
        assert response.status_code == 400, params
        assert field in response.json(), (params, response.json())


@pytest.mark.parametrize("role", ["viewer", "reporter"])
def test_a_protected_name_gets_the_answer_of_a_name_nobody_has(world, role):
    client = token_client(world.personas.by_role(role))
    nobody = {"count": 0, "counts": EMPTY, "page": 1, "pages": 1, "results": []}
    for q in ("Zhang", "Zhang Min", "Shenyang", "forwarder", "Qzxw"):
        response = client.get(SEARCH, {"q": q})
        assert response.status_code == 200 and response.json() == nobody, q
    found = client.get(SEARCH, {"q": "Source in China", "type": "source"}).json()
    assert [r["title"] for r in found["results"]] == ["Source in China"]


def test_an_editor_finds_the_protected_source_and_its_hidden_place(world):
    client = token_client(world.personas.editor)
    body = client.get(SEARCH, {"q": "Zhang", "type": "source"}).json()
    assert [(r["title"], r["title_html"]) for r in body["results"]] == [
        ("Zhang Min", "<mark>Zhang</mark> Min")
    ]
    port = client.get(SEARCH, {"q": "Longkou port"}).json()
    assert [r["id"] for r in port["results"]] == [world.testimony.pk]
    assert "<mark>Longkou</mark> <mark>port</mark>" in port["results"][0]["snippet_html"]


def test_a_non_member_finds_nothing_and_a_case_is_404(world):
    client = token_client(world.personas.outsider)
    assert client.get(SEARCH, {"q": "train"}).json()["count"] == 0
    response = client.get(SEARCH, {"q": "train", "case": world.case.pk})
    assert response.status_code == 404 and "detail" in response.json()
    assert token_client(None).get(SEARCH, {"q": "train"}).status_code == 401


# --- Reverse image search ----------------------------------------------------------------------


def test_image_search_finds_the_photo_with_its_distance_case_and_item(world):
    before = Evidence.objects.count()
    response = token_client(world.personas.viewer).post(
        IMAGE, {"file": upload(demo_photo(14))}, format="multipart"
    )
    assert response.status_code == 200, response.content
    body = response.json()
    photo, photo14 = world.photo14.photo, world.photo14
    first = body["results"][0]
    assert first == {
        "distance": 0,
        "case": {"id": world.case.pk, "title": world.case.title},
        "evidence": {
            "id": photo14.pk,
            "title": "Train at Dandong station, 14 May",
            "kind": "photo",
            "source_name": "Newsroom photographer",
            "sensitive": False,
            "status": "ready",
            "place_name": photo14.place_name,
            "latitude": photo14.latitude,
            "longitude": photo14.longitude,
            "gps_latitude": photo.gps_latitude,
            "gps_longitude": photo.gps_longitude,
            "url": f"http://testserver/api/v1/evidence/{photo14.pk}/",
            "thumbnail_url": f"http://testserver/api/v1/evidence/{photo14.pk}/thumbnail/",
        },
    }
    assert body["count"] == len(body["results"])
    assert [r["distance"] for r in body["results"]] == sorted(
        r["distance"] for r in body["results"]
    )
    assert Evidence.objects.count() == before  # the query image is not stored


def test_image_search_hides_a_protected_sources_place_and_gps_below_editor(world):
    data = jpeg_bytes(seed=7, gps=(39.91, 124.39), make="Canon", model="EOS R6")
    secret, _ = evidence_services.photo_ingest(
        actor=world.personas.reporter,
        case=world.case,
        file=upload(data),
        source=world.china,
        place_name="Sinuiju customs yard",
        latitude=40.1,
        longitude=124.4,
    )
    photo_process(photo_id=secret.pk)

    def match(role):
        client = token_client(world.personas.by_role(role))
        body = client.post(IMAGE, {"file": upload(data)}, format="multipart").json()
        (item,) = [r["evidence"] for r in body["results"] if r["evidence"]["id"] == secret.pk]
        return item

    hidden = match("viewer")
    assert hidden["source_name"] == "Source in China"
    assert [hidden[k] for k in ("place_name", "latitude", "longitude")] == [None] * 3
    assert [hidden[k] for k in ("gps_latitude", "gps_longitude")] == [None, None]
    shown = match("editor")
    assert shown["source_name"] == "Zhang Min" and shown["place_name"] == "Sinuiju customs yard"
    assert shown["gps_latitude"] == pytest.approx(39.91, abs=1e-4)


def test_image_search_by_one_of_the_users_photos(world):
    client = token_client(world.personas.reporter)
    body = client.post(IMAGE, {"evidence": world.photo25.pk}, format="json").json()
    ids = [r["evidence"]["id"] for r in body["results"]]
    assert world.photo25.pk not in ids
    outsider = token_client(world.personas.outsider)
    assert outsider.post(IMAGE, {"evidence": world.photo25.pk}, format="json").status_code == 404
    testimony = client.post(IMAGE, {"evidence": world.testimony.pk}, format="json")
    assert testimony.status_code == 400 and "evidence" in testimony.json()


def test_image_search_shows_an_outsider_nothing(world):
    client = token_client(world.personas.outsider)
    body = client.post(IMAGE, {"file": upload(demo_photo(14))}, format="multipart").json()
    assert body == {"count": 0, "results": []}


def test_image_search_refuses_what_an_upload_refuses(world, tmp_path):
    client = token_client(world.personas.reporter)
    for file, status in (
        (upload(pdf_bytes(), "doc.jpg"), 415),
        (SimpleUploadedFile("empty.jpg", b"", "image/jpeg"), 400),
        (upload(png_declaring(100_000, 100_000), "bomb.png", "image/png"), 413),
        (upload(jpeg_bytes(seed=1)[:300], "cut.jpg"), 400),
    ):
        response = client.post(IMAGE, {"file": file}, format="multipart")
        assert response.status_code == status, (file.name, response.content)
        assert "file" in response.json() or "detail" in response.json()
    with override_settings(CASEFILE_MAX_UPLOAD_BYTES=1000):
        response = client.post(IMAGE, {"file": upload(demo_photo(14))}, format="multipart")
        assert response.status_code == 413
    neither = client.post(IMAGE, {}, format="multipart")
    both = client.post(
        IMAGE, {"file": upload(demo_photo(14)), "evidence": world.photo14.pk}, format="multipart"
    )
    assert neither.status_code == both.status_code == 400
    assert (
        Evidence.objects.filter(original_name__in=["doc.jpg", "bomb.png", "cut.jpg"]).count() == 0
    )


def test_search_endpoints_are_in_the_schema(world):
    schema = token_client(world.personas.viewer).get("/api/schema/", {"format": "json"}).json()
    search = schema["paths"]["/api/v1/search/"]["get"]
    names = {p["name"] for p in search["parameters"]}
    assert {
        "q",
        "case",
        "type",
        "kind",
        "status",
        "date_from",
        "date_to",
        "source",
        "flag",
    } <= names
    assert "post" in schema["paths"]["/api/v1/search/image/"]
