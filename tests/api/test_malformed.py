"""Bad input gets a 4xx in the one error shape, never a 500."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError
from django.utils import timezone
from rest_framework.test import APIClient

from api.exceptions import exception_handler
from cases.models import Claim
from evidence.models import Evidence
from tests.factories import ClaimFactory, LinkEvidenceFactory, SourceFactory
from tests.images import jpeg_bytes, pdf_bytes

HUGE = 10**30


@pytest.fixture
def reporter(as_role):
    return as_role("reporter")


@pytest.fixture
def things(personas):
    case = personas.case
    return {
        "case": case,
        "claim": ClaimFactory(case=case, author=personas.reporter),
        "source": SourceFactory(case=case, created_by=personas.reporter),
        "link_evidence": LinkEvidenceFactory(case=case, collected_by=personas.reporter),
    }


def assert_error(response, status):
    assert response.status_code == status, response.content[:500]
    body = response.json()
    assert isinstance(body, dict) and body
    if "detail" in body:
        assert isinstance(body["detail"], str)
    return body


def test_malformed_json_is_400(reporter, things):
    response = reporter.generic(
        "POST",
        f"/api/v1/cases/{things['case'].pk}/claims/",
        '{"statement": "unterminated',
        content_type="application/json",
    )
    assert "JSON" in assert_error(response, 400)["detail"]


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("claims", {"statement": ["a", "list"]}, "statement"),
        ("claims", {"statement": "ok", "occurred_on": "14 May"}, "occurred_on"),
        ("claims", {"statement": "ok", "confidence": "certain"}, "confidence"),
        ("claims", {"statement": "nul \x00 byte"}, "statement"),
        ("claims", {"statement": "x" * 501}, "statement"),
        ("sources", {"kind": "alien", "name": "Zorg"}, "kind"),
        ("sources", {"kind": "person", "name": "A", "reliability": "Z"}, "reliability"),
        ("sources", {"kind": "person", "name": "A", "protected": "maybe"}, "protected"),
        ("sources", {"kind": "person", "name": "A", "protected": True}, "pseudonym"),
        ("evidence", {"kind": "hologram"}, "kind"),
        ("evidence", {"kind": "link", "url": "not a url"}, "url"),
        ("evidence", {"kind": "link", "url": "https://e.org", "latitude": 91}, "latitude"),
        ("evidence", {"kind": "link", "url": "https://e.org", "latitude": HUGE}, "latitude"),
        ("evidence", {"kind": "link", "url": "https://e.org", "longitude": "NaN"}, "longitude"),
        ("evidence", {"kind": "link", "url": "https://e.org", "source": HUGE}, "source"),
        ("evidence", {"kind": "link", "url": "https://e.org", "source": "abc"}, "source"),
        ("evidence", {"kind": "link", "url": "https://e.org", "source": 1.5}, "source"),
        ("evidence", {"kind": "link", "url": "https://e.org", "source": True}, "source"),
        (
            "evidence",
            {"kind": "link", "url": "https://e.org", "observed_at": "soon"},
            "observed_at",
        ),
        ("evidence", {"kind": "photo", "file": "not-a-file.jpg"}, "file"),
        ("evidence", {"kind": "photo"}, "file"),
        ("evidence", {"kind": "testimony", "text": "Said so."}, "source"),
        ("evidence", {"kind": "link", "url": "https://e.org", "text": "x"}, "text"),
        ("members", {"username": "nobody-here", "role": "viewer"}, "username"),
        ("members", {"username": "erin", "role": "emperor"}, "role"),
        ("members", {"username": "erin", "role": "viewer"}, "user"),
    ],
)
def test_invalid_fields_are_400_with_the_field_named(personas, things, path, body, field):
    client = APIClient()
    client.force_authenticate(personas.owner)
    response = client.post(f"/api/v1/cases/{things['case'].pk}/{path}/", body, format="json")
    assert field in assert_error(response, 400), response.json()


def test_invalid_review_and_link_input_is_400(personas, things, as_role):
    claim = things["claim"]
    claim.status = Claim.Status.IN_REVIEW
    claim.save()
    editor = as_role("editor")
    url = f"/api/v1/claims/{claim.pk}/review/"
    assert "decision" in assert_error(editor.post(url, {"decision": "maybe", "note": "x"}), 400)
    assert "note" in assert_error(editor.post(url, {"decision": "supported"}), 400)
    assert "note" in assert_error(
        editor.post(url, {"decision": "supported", "note": "   "}, format="json"), 400
    )
    reporter = as_role("reporter")
    links = f"/api/v1/claims/{claim.pk}/links/"
    for body in (
        {"evidence": things["link_evidence"].pk, "stance": "agrees"},
        {"evidence": HUGE, "stance": "supports"},
        {"evidence": -1, "stance": "supports"},
        {"evidence": None, "stance": "supports"},
        {"evidence": {"id": 1}, "stance": "supports"},
    ):
        assert_error(reporter.post(links, body, format="json"), 400)


def test_evidence_of_another_case_cannot_be_linked(personas, things, as_role):
    other = LinkEvidenceFactory()  # in a case of its own
    response = as_role("reporter").post(
        f"/api/v1/claims/{things['claim'].pk}/links/",
        {"evidence": other.pk, "stance": "supports"},
        format="json",
    )
    assert "evidence" in assert_error(response, 400)


def test_linking_the_same_evidence_twice_is_refused(personas, things, as_role):
    url = f"/api/v1/claims/{things['claim'].pk}/links/"
    body = {"evidence": things["link_evidence"].pk, "stance": "supports"}
    reporter = as_role("reporter")
    assert reporter.post(url, body, format="json").status_code == 201
    response = reporter.post(url, {**body, "stance": "context"}, format="json")
    assert response.status_code in (400, 409)
    assert "evidence" in response.json() or "detail" in response.json()


def test_a_unique_constraint_race_is_409():
    response = exception_handler(
        IntegrityError("UNIQUE constraint failed: evidence_evidencelink.evidence_id"), {}
    )
    assert response.status_code == 409 and "detail" in response.data


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/cases/99999999999999999999999999/",
        "/api/v1/claims/99999999999999999999999999/",
        "/api/v1/evidence/9223372036854775808/",
        "/api/v1/sources/0/",
        "/api/v1/cases/abc/",
        "/api/v1/claims/1e3/",
        "/api/v1/links/-1/",
        "/api/v1/no-such-thing/",
        "/api/v1/cases",
    ],
)
def test_invalid_or_unknown_ids_are_json_404(reporter, path):
    assert_error(reporter.get(path), 404)


@pytest.mark.parametrize(
    "query",
    [
        "status=bogus",
        "kind=hologram",
        "source=abc",
        "source=99999999999999999999999",
        "observed_after=yesterday",
        "flag=made_up",
    ],
)
def test_invalid_filters_are_400(reporter, things, query):
    response = reporter.get(f"/api/v1/cases/{things['case'].pk}/evidence/?{query}")
    assert_error(response, 400)


# Every boolean and choice filter of every list, with a value it does not take.
BAD_FILTERS = [
    ("cases", "status", "shut"),
    ("sources", "kind", "rumour"),
    ("sources", "reliability", "Z"),
    ("sources", "protected", "perhaps"),
    ("evidence", "kind", "hologram"),
    ("evidence", "status", "half-done"),
    ("evidence", "flag", "made_up"),
    ("evidence", "flagged", "sometimes"),
    ("evidence", "sensitive", "perhaps"),
    ("evidence", "sensitive", "yes"),
    ("claims", "status", "maybe"),
    ("claims", "confidence", "certain"),
    ("links", "stance", "neutral"),
]


def _list_url(things, name: str) -> str:
    if name == "cases":
        return "/api/v1/cases/"
    if name == "links":
        return f"/api/v1/claims/{things['claim'].pk}/links/"
    return f"/api/v1/cases/{things['case'].pk}/{name}/"


@pytest.mark.parametrize(("listing", "field", "value"), BAD_FILTERS)
def test_a_boolean_or_choice_filter_with_a_value_it_does_not_take_is_400(
    reporter, things, listing, field, value
):
    response = reporter.get(_list_url(things, listing), {field: value})
    body = assert_error(response, 400)
    assert list(body) == [field] and isinstance(body[field][0], str), body


def test_boolean_filters_take_true_false_one_zero_in_any_case_and_empty_means_no_filter(
    personas, reporter, things
):
    secret = LinkEvidenceFactory(case=things["case"], collected_by=personas.reporter)
    Evidence.objects.filter(pk=secret.pk).update(sensitive=True)
    url = _list_url(things, "evidence")

    def listed(value) -> set[int]:
        response = reporter.get(url, {"sensitive": value})
        assert response.status_code == 200, response.content[:300]
        return {item["id"] for item in response.json()["results"]}

    assert listed("true") == listed("TRUE") == listed("1") == {secret.pk}
    assert listed("false") == listed("False") == listed("0") == {things["link_evidence"].pk}
    assert listed("") == {secret.pk, things["link_evidence"].pk}


def test_pages_out_of_range_are_404_and_page_size_is_capped(reporter, things):
    url = f"/api/v1/cases/{things['case'].pk}/evidence/"
    assert_error(reporter.get(url + "?page=999"), 404)
    assert_error(reporter.get(url + "?page=abc"), 404)
    assert reporter.get(url + "?page_size=100000").status_code == 200
    assert reporter.get(url + "?ordering=not_a_field").status_code == 200


def test_unsupported_content_type_is_415_and_unknown_method_405(reporter, things):
    url = f"/api/v1/cases/{things['case'].pk}/claims/"
    response = reporter.generic("POST", url, "statement=x", content_type="text/plain")
    assert_error(response, 415)
    assert_error(reporter.put(f"/api/v1/claims/{things['claim'].pk}/", {}), 405)
    assert_error(reporter.delete(f"/api/v1/claims/{things['claim'].pk}/"), 405)


def test_upload_too_large_is_413(reporter, things, settings):
    settings.CASEFILE_MAX_UPLOAD_BYTES = 1000
    response = reporter.post(
        f"/api/v1/cases/{things['case'].pk}/evidence/",
        {"kind": "photo", "file": SimpleUploadedFile("big.jpg", jpeg_bytes(seed=1))},
        format="multipart",
    )
    assert "file" in assert_error(response, 413)
    assert not Evidence.objects.filter(kind="photo").exists()


def test_upload_of_the_wrong_type_is_415(reporter, things):
    response = reporter.post(
        f"/api/v1/cases/{things['case'].pk}/evidence/",
        {"kind": "photo", "file": SimpleUploadedFile("train.jpg", pdf_bytes())},
        format="multipart",
    )
    assert "file" in assert_error(response, 415)


def test_empty_upload_is_400(reporter, things):
    response = reporter.post(
        f"/api/v1/cases/{things['case'].pk}/evidence/",
        {"kind": "photo", "file": SimpleUploadedFile("empty.jpg", b"")},
        format="multipart",
    )
    assert "file" in assert_error(response, 400)


def test_a_file_where_a_link_was_expected_is_400(reporter, things):
    response = reporter.post(
        f"/api/v1/cases/{things['case'].pk}/evidence/",
        {
            "kind": "link",
            "url": SimpleUploadedFile("url.txt", b"https://e.org"),
            "file": SimpleUploadedFile("x.jpg", jpeg_bytes(seed=1)),
        },
        format="multipart",
    )
    assert_error(response, 400)


def test_a_document_upload_is_stored_as_a_document(reporter, things):
    response = reporter.post(
        f"/api/v1/cases/{things['case'].pk}/evidence/",
        {"kind": "document", "file": SimpleUploadedFile("report.pdf", pdf_bytes())},
        format="multipart",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["kind"] == "document" and body["content_type"] == "application/pdf"
    assert body["status"] is None


def test_the_same_photo_twice_returns_the_existing_evidence(
    reporter, things, django_capture_on_commit_callbacks
):
    data = jpeg_bytes(seed=5)
    url = f"/api/v1/cases/{things['case'].pk}/evidence/"
    with django_capture_on_commit_callbacks(execute=True):
        first = reporter.post(
            url, {"kind": "photo", "file": SimpleUploadedFile("a.jpg", data)}, format="multipart"
        )
    second = reporter.post(
        url, {"kind": "photo", "file": SimpleUploadedFile("b.jpg", data)}, format="multipart"
    )
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["id"] == second.json()["id"]


def test_read_only_fields_cannot_be_written(
    personas, things, as_role, django_capture_on_commit_callbacks
):
    reporter = as_role("reporter")
    with django_capture_on_commit_callbacks(execute=True):
        photo = reporter.post(
            f"/api/v1/cases/{things['case'].pk}/evidence/",
            {"kind": "photo", "file": SimpleUploadedFile("a.jpg", jpeg_bytes(seed=9))},
            format="multipart",
        ).json()
    photo = reporter.get(f"/api/v1/evidence/{photo['id']}/").json()
    response = reporter.patch(
        f"/api/v1/evidence/{photo['id']}/",
        {
            "sha256": "0" * 64,
            "status": "failed",
            "case": 999,
            "collected_by": "mallory",
            "phash": "0000000000000000",
            "size": 1,
            "title": "Renamed",
        },
        format="json",
    )
    assert response.status_code == 200
    after = response.json()
    assert after["title"] == "Renamed"
    for field in ("sha256", "status", "case", "collected_by", "phash", "size"):
        assert after[field] == photo[field], field
    claim = things["claim"]
    response = reporter.patch(
        f"/api/v1/claims/{claim.pk}/",
        {"status": "supported", "reviewer": "erin", "author": "erin", "case": 999},
        format="json",
    )
    assert response.status_code == 200
    claim.refresh_from_db()
    assert claim.status == "draft" and claim.reviewer is None
    assert claim.author == personas.reporter and claim.case == things["case"]


def test_empty_fields_of_another_kind_are_ignored_in_a_form_upload(reporter, things):
    response = reporter.post(
        f"/api/v1/cases/{things['case'].pk}/evidence/",
        {
            "kind": "photo",
            "file": SimpleUploadedFile("a.jpg", jpeg_bytes(seed=11)),
            "stated_on": "",
            "source": "",
            "observed_at": "",
            "latitude": "",
            "longitude": "",
        },
        format="multipart",
    )
    assert response.status_code == 201, response.content
    link = reporter.post(
        f"/api/v1/cases/{things['case'].pk}/evidence/",
        {"kind": "link", "url": "https://e.org/x", "file": "", "stated_on": ""},
        format="multipart",
    )
    assert link.status_code == 201, link.content


def test_deleted_evidence_cannot_be_linked(personas, things, as_role):
    evidence = things["link_evidence"]
    Evidence.objects.filter(pk=evidence.pk).update(
        deleted_at=timezone.now(), deleted_by=personas.owner, deletion_reason="Duplicate"
    )
    response = as_role("reporter").post(
        f"/api/v1/claims/{things['claim'].pk}/links/",
        {"evidence": evidence.pk, "stance": "supports"},
        format="json",
    )
    assert "evidence" in assert_error(response, 400)


# --- Inputs that used to answer 500 (and HTML): now 400s in the error shape ---------------


@pytest.mark.parametrize("listing", ["evidence", "claims", "activity"])
@pytest.mark.parametrize("offset", ["+18:30", "-16:00"])
def test_a_date_time_filter_with_an_offset_no_database_keeps_is_400_naming_it(
    reporter, things, listing, offset
):
    url = f"/api/v1/cases/{things['case'].pk}/{listing}/"
    response = reporter.get(url, {"created_after": f"2024-01-01T00:00:00{offset}"})
    assert assert_error(response, 400) == {
        "created_after": [
            "The time zone offset must be between -15:59 and +15:59, "
            "e.g. 2024-05-25T16:40:00+08:00."
        ]
    }
    # The widest offsets a place has are fine.
    for fine in ("+14:00", "-12:00", "+15:59"):
        assert reporter.get(url, {"created_after": f"2024-01-01T00:00:00{fine}"}).status_code == 200


def test_a_nul_byte_in_a_query_parameter_is_400_naming_it(reporter, things):
    response = reporter.get(f"/api/v1/cases/{things['case'].pk}/evidence/", {"ordering": "a\x00"})
    assert assert_error(response, 400) == {
        "ordering": ["The parameter 'ordering' contains a NUL byte."]
    }


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize("depth", [33, 100_000])
def test_deeply_nested_json_is_400(reporter, things, depth):
    response = reporter.generic(
        "POST",
        f"/api/v1/cases/{things['case'].pk}/claims/",
        '{"statement": ' + nested(depth) + "}",
        content_type="application/json",
    )
    assert assert_error(response, 400) == {
        "detail": "JSON parse error - nested deeper than 32 levels."
    }


def test_deeply_nested_json_to_the_anonymous_token_endpoint_is_400(db):
    response = APIClient().generic(
        "POST", "/api/v1/auth/token/", nested(100_000), content_type="application/json"
    )
    assert assert_error(response, 400) == {
        "detail": "JSON parse error - nested deeper than 32 levels."
    }


@pytest.mark.parametrize("path", ["/api/nothing-here/", "/api/schema/nothing/", "/api/v2/cases/"])
def test_unknown_paths_under_api_are_json_404(reporter, path):
    assert assert_error(reporter.get(path), 404) == {"detail": "Not found."}


def test_an_unexpected_failure_in_the_api_is_a_json_500(personas, monkeypatch):
    def broken(user):
        raise RuntimeError("the database went away")

    monkeypatch.setattr("api.views.cases.cases_visible_to", broken)
    client = APIClient(raise_request_exception=False)
    client.force_authenticate(personas.owner)
    response = client.get("/api/v1/cases/")
    assert response["Content-Type"] == "application/json"
    assert assert_error(response, 500) == {
        "detail": "Something went wrong on our side; nothing you sent was at fault."
    }
    assert "database" not in response.content.decode()
