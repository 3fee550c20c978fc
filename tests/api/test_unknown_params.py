"""Unknown query parameters are a 400 naming them, on every list and detail endpoint."""

import pytest

from tests.factories import LinkEvidenceFactory


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/cases/?q=dandong",
        "/api/v1/cases/{case}/evidence/?evidnce=12",
        "/api/v1/cases/{case}/claims/?q=x",
        "/api/v1/cases/{case}/activity/?search=x",
        "/api/v1/cases/{case}/members/?role=owner",
        "/api/v1/cases/{case}/?expand=all",
        "/api/v1/auth/tokens/?q=x",
        "/api/v1/evidence/{evidence}/?q=x",
    ],
)
def test_unknown_parameter_is_a_400_naming_it(personas, as_role, path):
    evidence = LinkEvidenceFactory(case=personas.case)
    url = path.format(case=personas.case.pk, evidence=evidence.pk)
    response = as_role("editor").get(url)
    assert response.status_code == 400, response.content
    name = url.split("?")[1].split("=")[0]
    assert f"Unknown query parameter(s): {name}." in response.json()["detail"]


def test_known_parameters_still_work(personas, as_role):
    client = as_role("editor")
    base = f"/api/v1/cases/{personas.case.pk}"
    for url in (
        f"{base}/evidence/?kind=photo&ordering=-id&page=1&page_size=5&format=json",
        f"{base}/evidence/?observed_after=2024-01-01T00:00:00Z&flagged=true",
        f"{base}/claims/?status=draft&occurred_after=2024-01-01",
        f"{base}/?format=json",
        "/api/v1/cases/?status=open",
    ):
        assert client.get(url).status_code == 200, url


def test_detail_view_refuses_list_parameters(personas, as_role):
    response = as_role("editor").get(f"/api/v1/cases/{personas.case.pk}/?page=2")
    assert response.status_code == 400
    assert response.json() == {
        "detail": "Unknown query parameter(s): page. This endpoint reads: format."
    }


def test_several_unknown_parameters_are_all_named(personas, as_role):
    response = as_role("editor").get(f"/api/v1/cases/{personas.case.pk}/evidence/?zz=1&aa=2")
    assert response.status_code == 400
    assert response.json()["detail"].startswith("Unknown query parameter(s): aa, zz.")
