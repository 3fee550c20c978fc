"""Pages in the reader's time zone: the browser's zone (a cookie set by casefile.js) is used to
show times and to read the date-times typed into forms; without it, UTC, said so."""

from datetime import UTC, datetime

import pytest
from django.urls import reverse

from web.middleware import COOKIE, zone_from_cookie


@pytest.fixture
def reporter(world, client):
    client.force_login(world.personas.reporter)
    return client


def test_forms_read_and_show_date_times_in_the_browsers_time_zone(world, reporter):
    reporter.cookies[COOKIE] = "Europe/Berlin"
    url = reverse("web:evidence_edit", args=[world.link.pk])
    html = reporter.get(url).content.decode()
    # Observed 9 April 12:00 in China (UTC+8) is 06:00 in Berlin (UTC+2 in summer).
    assert 'value="2026-04-09T06:00"' in html
    assert "In your time zone (Europe/Berlin)." in html
    response = reporter.post(url, {"title": world.link.title, "observed_at": "2026-04-10T09:30"})
    assert response.status_code == 302
    world.link.refresh_from_db()
    assert world.link.observed_at == datetime(2026, 4, 10, 7, 30, tzinfo=UTC)


def test_without_the_cookie_forms_and_pages_are_in_utc(world, reporter):
    html = reporter.get(reverse("web:evidence_new", args=[world.case.pk, "link"])).content.decode()
    assert "In UTC." in html
    page = reporter.get(reverse("web:evidence_detail", args=[world.link.pk]))
    assert dict(page.context["rows"])["Observed (stated)"] == "2026-04-09 04:00 UTC"


def test_stated_times_are_shown_in_the_readers_zone_unless_the_camera_recorded_one(world, reporter):
    reporter.cookies[COOKIE] = "America/New_York"
    link = reporter.get(reverse("web:evidence_detail", args=[world.link.pk]))
    assert dict(link.context["rows"])["Observed (stated)"] == "2026-04-09 00:00 (America/New_York)"
    # A photo's stated time stays in the camera's own offset, beside its EXIF date.
    photo = reporter.get(reverse("web:evidence_detail", args=[world.photo14.pk]))
    assert dict(photo.context["rows"])["Observed (stated)"] == "2026-05-14 10:40 (UTC+08:00)"


@pytest.mark.parametrize(
    "value",
    ["", "Etc/UTC", "Mars/Olympus_Mons", "../../etc/passwd", "/etc/localtime", "Europe/../UTC"],
)
def test_only_tz_database_names_are_taken_from_the_cookie(value):
    assert zone_from_cookie(value) is None


def test_a_bad_cookie_leaves_the_page_in_utc(world, reporter):
    reporter.cookies[COOKIE] = "../../etc/passwd"
    html = reporter.get(reverse("web:evidence_edit", args=[world.link.pk])).content.decode()
    assert "In UTC." in html and 'value="2026-04-09T04:00"' in html


def test_the_api_ignores_the_cookie(world, reporter):
    reporter.cookies[COOKIE] = "Asia/Tokyo"
    body = reporter.get(f"/api/v1/evidence/{world.link.pk}/").json()
    assert body["observed_at"] in ("2026-04-09T04:00:00Z", "2026-04-09T04:00:00+00:00")
