"""Bulk import (API and service): preview with row errors, all-or-nothing apply through the
single-item services, and refusals of bad files."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from openpyxl import Workbook

from cases.activity import Verb
from cases.models import Activity
from evidence.models import Evidence, Source
from tests.factories import ProtectedSourceFactory, SourceFactory


def _csv(text: str, name="rows.csv", encoding="utf-8") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, text.encode(encoding), content_type="text/csv")


def _post(client, case, file, kind="link", **extra):
    return client.post(
        f"/api/v1/cases/{case.pk}/imports/",
        {"file": file, "kind": kind, **extra},
        format="multipart",
    )


LINKS = (
    "Address,Headline,When\n"
    "https://example.org/a,First page,2024-05-25\n"
    "https://example.org/b,Second page,\n"
)
MAPPING = '{"url": "Address", "title": "Headline", "stated_on": "When"}'


def test_preview_shows_rows_and_keeps_nothing(personas, as_role):
    response = _post(as_role("reporter"), personas.case, _csv(LINKS), mapping=MAPPING)
    assert response.status_code == 200, response.content
    assert response.json() == {
        "kind": "link",
        "columns": ["Address", "Headline", "When"],
        "mapping": {"url": "Address", "title": "Headline", "stated_on": "When"},
        "rows": 2,
        "applied": False,
        "errors": [],
        "preview": [
            {
                "row": 2,
                "url": "https://example.org/a",
                "title": "First page",
                "stated_on": "2024-05-25",
            },
            {"row": 3, "url": "https://example.org/b", "title": "Second page"},
        ],
        "created": [],
        "sha256": response.json()["sha256"],
    }
    assert not Evidence.objects.exists()
    assert not Activity.objects.filter(verb=Verb.EVIDENCE_ADDED).exists()


def test_apply_makes_each_row_through_the_service_with_its_activity(personas, as_role):
    response = _post(as_role("reporter"), personas.case, _csv(LINKS), mapping=MAPPING, apply="true")
    assert response.status_code == 201, response.content
    made = list(Evidence.objects.order_by("id"))
    assert [(e.kind, e.url, e.title) for e in made] == [
        ("link", "https://example.org/a", "First page"),
        ("link", "https://example.org/b", "Second page"),
    ]
    assert response.json()["created"] == [e.pk for e in made]
    assert made[0].stated_on.isoformat() == "2024-05-25"
    assert made[0].collected_by == personas.reporter
    added = Activity.objects.filter(verb=Verb.EVIDENCE_ADDED).order_by("id")
    assert [row.target_id for row in added] == [e.pk for e in made]
    summary = Activity.objects.get(verb=Verb.CASE_BULK_IMPORTED)
    assert summary.data["rows"] == 2 and summary.data["sha256"] == response.json()["sha256"]


def test_one_bad_row_and_nothing_is_imported(personas, as_role):
    text = LINKS + "not a url,Third,2024-13-40\n"
    response = _post(as_role("reporter"), personas.case, _csv(text), mapping=MAPPING, apply="1")
    assert response.status_code == 400
    body = response.json()
    assert body["applied"] is False and body["created"] == []
    assert body["errors"] == [
        {"row": 4, "field": "stated_on", "message": "must be a date such as 2024-05-25"}
    ]
    assert not Evidence.objects.exists()
    assert not Activity.objects.filter(
        verb__in=[Verb.EVIDENCE_ADDED, Verb.CASE_BULK_IMPORTED]
    ).exists()


def test_service_refusals_are_row_errors(personas, as_role):
    text = "url,latitude,longitude\nhttps://example.org/a,95,10\n,1,2\n"
    body = _post(as_role("reporter"), personas.case, _csv(text)).json()
    fields = [(error["row"], error["field"]) for error in body["errors"]]
    assert (2, "latitude") in fields or (2, "") in fields
    assert any(row == 3 for row, _ in fields)


def test_testimony_names_sources_as_the_importer_sees_them(personas, as_role):
    falcon = ProtectedSourceFactory(case=personas.case, name="Kim Jae-won", pseudonym="Falcon")
    open_source = SourceFactory(case=personas.case, name="Station master")
    text = (
        "source,text\n"
        "Falcon,I saw it\n"
        "Station master,It left at 14:00\n"
        "Kim Jae-won,A reporter cannot match a protected name\n"
        f"{open_source.pk},By id\n"
    )
    body = _post(as_role("reporter"), personas.case, _csv(text), kind="testimony").json()
    assert body["errors"] == [
        {"row": 4, "field": "source", "message": "no source 'Kim Jae-won' in this case"}
    ]
    assert [row.get("source") for row in body["preview"]] == [
        falcon.pk,
        open_source.pk,
        open_source.pk,
    ]
    # An editor sees the name, so may match it.
    body = _post(as_role("editor"), personas.case, _csv(text), kind="testimony").json()
    assert body["errors"] == []


def test_sources_import_and_protected_names_are_not_echoed(personas, as_role):
    text = "name,kind,protected,pseudonym\nAnna Li,person,yes,Heron\nThe Times,publication,no,\n"
    response = _post(as_role("editor"), personas.case, _csv(text), kind="source", apply="true")
    assert response.status_code == 201, response.content
    assert set(Source.objects.values_list("name", "protected", "pseudonym")) >= {
        ("Anna Li", True, "Heron"),
        ("The Times", False, ""),
    }


def test_xlsx_is_read(personas, as_role):
    book = Workbook()
    sheet = book.active
    sheet.append(["url", "title"])
    sheet.append(["https://example.org/x", "From Excel"])
    data = io.BytesIO()
    book.save(data)
    upload = SimpleUploadedFile("rows.xlsx", data.getvalue())
    response = _post(as_role("reporter"), personas.case, upload, apply="true")
    assert response.status_code == 201, response.content
    assert Evidence.objects.get().title == "From Excel"


@pytest.mark.parametrize(
    ("upload", "code", "message"),
    [
        (SimpleUploadedFile("a.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00"), 415, "not a CSV"),
        (_csv("url,title\nhttps://example.org/é,Café\n", encoding="latin-1"), 400, "not UTF-8"),
        (SimpleUploadedFile("a.xls", b"\xd0\xcf\x11\xe0 old excel"), 415, "Only CSV and XLSX"),
        (SimpleUploadedFile("a.xlsx", b"PK\x03\x04 broken"), 400, "cannot be read"),
        (_csv(""), 400, "empty"),
        (_csv("url,title\n"), 400, "no rows"),
        (_csv("title\nA\n"), 400, "Map a column to url"),
    ],
)
def test_bad_files_are_clear_errors(personas, as_role, upload, code, message):
    response = _post(as_role("reporter"), personas.case, upload)
    assert response.status_code == code, response.content
    assert message in str(response.json())


def test_row_and_cell_limits(personas, as_role, settings):
    client = as_role("reporter")
    rows = "".join(f"https://example.org/{n}\n" for n in range(10_001))
    response = _post(client, personas.case, _csv("url\n" + rows))
    assert response.status_code == 400
    assert "more than 10,000 rows" in response.json()["detail"]
    settings.CASEFILE_IMPORT_MAX_CELL = 100
    response = _post(client, personas.case, _csv("url,title\nhttps://example.org/," + "x" * 101))
    assert response.status_code == 400
    assert "Line 2, column 2: a cell holds more than 100 characters" in response.json()["detail"]
    settings.CASEFILE_IMPORT_MAX_BYTES = 1000
    response = _post(client, personas.case, _csv("url\n" + rows[:2000]))
    assert response.status_code == 413


def test_formula_cells_are_refused(personas, as_role):
    text = (
        "url,title,latitude,longitude\n"
        'https://example.org/a,"=HYPERLINK(""http://evil"")",,\n'
        "https://example.org/b,@SUM(A1),,\n"
        "https://example.org/c,-2+3,-33.9,-18.4\n"
        "https://example.org/d,Fine title,-33.9,18.4\n"
    )
    body = _post(as_role("reporter"), personas.case, _csv(text)).json()
    assert [(error["row"], error["field"]) for error in body["errors"]] == [
        (2, "title"),
        (3, "title"),
        (4, "title"),
    ]
    assert "spreadsheet formula" in body["errors"][0]["message"]


def test_unknown_mapping_fields_and_columns(personas, as_role):
    client = as_role("reporter")
    response = _post(client, personas.case, _csv(LINKS), mapping='{"colour": "Address"}')
    assert response.status_code == 400 and "No field colour" in response.json()["detail"]
    response = _post(client, personas.case, _csv(LINKS), mapping='{"url": "Nope"}')
    assert response.status_code == 400 and "no such column" in response.json()["detail"]
    response = _post(client, personas.case, _csv(LINKS), mapping="{not json")
    assert response.status_code == 400


def test_viewers_are_refused_and_outsiders_get_404(personas, as_role, client_for):
    assert _post(as_role("viewer"), personas.case, _csv(LINKS)).status_code == 403
    assert _post(client_for(personas.outsider), personas.case, _csv(LINKS)).status_code == 404
    # A reporter may import evidence but the sources import needs source.add, which they have.
    assert _post(as_role("reporter"), personas.case, _csv(LINKS)).status_code == 400
