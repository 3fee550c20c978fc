"""A protected source's evidence keeps its place (coordinates and stated place) from everyone
below editor, on every page that shows or edits it (issue #12)."""

import pytest
from django.urls import reverse

from demo.story import LONGKOU as PLACE
from evidence.models import Evidence

pytestmark = pytest.mark.django_db

# The stated place and the coordinates as a page would print them.
LONGKOU = (PLACE[0], str(PLACE[1]), str(PLACE[2]))


def _hidden_from(body: str) -> list[str]:
    return [text for text in LONGKOU if text in body]


@pytest.mark.parametrize("role", ("viewer", "reporter"))
def test_detail_page_hides_the_stated_place_below_editor(world, client_for, role):
    url = reverse("web:evidence_detail", args=[world.testimony.pk])
    body = client_for(world.personas.by_role(role)).get(url).content.decode()
    assert _hidden_from(body) == []
    assert "Recorded (hidden: the source is protected)" in body


def test_detail_page_shows_the_stated_place_to_an_editor(world, client_for):
    url = reverse("web:evidence_detail", args=[world.testimony.pk])
    body = client_for(world.personas.editor).get(url).content.decode()
    assert _hidden_from(body) == list(LONGKOU)


def test_edit_form_does_not_prefill_a_protected_sources_place_for_a_reporter(world, client_for):
    url = reverse("web:evidence_edit", args=[world.testimony.pk])
    response = client_for(world.personas.reporter).get(url)
    assert response.status_code == 200
    assert _hidden_from(response.content.decode()) == []
    assert {"place_name", "latitude", "longitude"}.isdisjoint(response.context["form"].fields)


def test_reporter_saving_the_edit_form_keeps_the_hidden_place(world, client_for):
    url = reverse("web:evidence_edit", args=[world.testimony.pk])
    response = client_for(world.personas.reporter).post(
        url, {"title": "Source in China, 28 May", "source": world.china.pk}
    )
    assert response.status_code == 302
    item = Evidence.objects.get(pk=world.testimony.pk)
    assert (item.title, item.place_name, item.latitude, item.longitude) == (
        "Source in China, 28 May",
        *PLACE,
    )


def test_editor_edit_form_prefills_the_place(world, client_for):
    url = reverse("web:evidence_edit", args=[world.testimony.pk])
    form = client_for(world.personas.editor).get(url).context["form"]
    initial = form.initial
    assert (initial["place_name"], initial["latitude"], initial["longitude"]) == PLACE


@pytest.mark.parametrize("role", ("viewer", "reporter"))
def test_timeline_hides_the_stated_place_below_editor(world, client_for, role):
    url = reverse("web:timeline", args=[world.personas.case.pk])
    response = client_for(world.personas.by_role(role)).get(url)
    assert response.status_code == 200
    assert "Source in China on the cargo" in response.content.decode()
    assert _hidden_from(response.content.decode()) == []
    editor = client_for(world.personas.editor).get(url).content.decode()
    assert LONGKOU[0] in editor


@pytest.mark.parametrize("role", ("viewer", "reporter"))
def test_searching_a_protected_sources_stated_place_finds_nothing_below_editor(
    world, client_for, role
):
    case = world.personas.case
    urls = (
        reverse("web:search") + "?q=Longkou+port",
        reverse("web:evidence_gallery", args=[case.pk]) + "?q=Longkou+port",
    )
    for url in urls:
        body = client_for(world.personas.by_role(role)).get(url).content.decode()
        assert "Source in China on the cargo" not in body, url
    for url in urls:
        body = client_for(world.personas.editor).get(url).content.decode()
        assert "Source in China on the cargo" in body, url
