"""The pages for requests that cannot go on (a failed CSRF check, a sign-in lockout, 403, 404,
500) use the site's stylesheet and carry no inline script or style, which the
Content-Security-Policy would refuse."""

import re

import pytest
from django.conf import settings
from django.test import Client, RequestFactory
from django.urls import reverse

STYLESHEET = '<link rel="stylesheet" href="/static/css/casefile.css">'


def assert_csp_clean(html: str) -> None:
    assert STYLESHEET in html
    assert "<style" not in html
    assert not re.search(r"\sstyle=", html)
    assert not re.search(r"\son[a-z]+=", html)  # no event handler attributes
    for tag in re.findall(r"<script[^>]*>", html):
        assert "src=" in tag, tag


@pytest.fixture
def strict_client():
    return Client(enforce_csrf_checks=True)


def test_a_form_sent_with_a_stale_token_gets_a_styled_page_that_says_what_to_do(
    personas, strict_client
):
    strict_client.force_login(personas.reporter)
    strict_client.get(reverse("web:case_list"))  # the CSRF cookie
    response = strict_client.post(
        reverse("web:claim_new", args=[personas.case.pk]),
        {"statement": "x", "csrfmiddlewaretoken": "stale" * 8},
    )
    html = response.content.decode()
    assert response.status_code == 403
    assert "The form was not sent" in html and "reload the page" in html
    assert "Nothing was changed" in html and "Your cases" in html
    assert_csp_clean(html)
    assert "Content-Security-Policy" in response.headers
    # A fresh token comes with the page, so sending the form again after a reload works.
    assert settings.CSRF_COOKIE_NAME in response.cookies


def test_a_form_sent_without_the_csrf_cookie_asks_for_cookies(personas, strict_client):
    response = strict_client.post(reverse("web:login"), {"username": "bob", "password": "x"})
    html = response.content.decode()
    assert response.status_code == 403
    assert "Allow cookies for this site" in html and "Sign in" in html
    assert_csp_clean(html)


def test_a_locked_out_sign_in_gets_a_styled_page_naming_no_account(personas, client):
    for _ in range(settings.AXES_FAILURE_LIMIT + 1):
        response = client.post("/login/", {"username": "bob", "password": "wrong"})
    html = response.content.decode()
    assert response.status_code == 429 and response["Retry-After"]
    assert "Sign-in paused" in html and "Too many failed sign-in attempts" in html
    assert "Back to sign in" in html and "bob" not in html
    assert_csp_clean(html)


def test_not_found_and_not_allowed_pages_are_styled(world, client_for):
    viewer = client_for(world.personas.viewer)
    missing = viewer.get(reverse("web:case_dashboard", args=[999_999]))
    assert missing.status_code == 404 and "Not found" in missing.content.decode()
    assert_csp_clean(missing.content.decode())
    refused = viewer.get(reverse("web:claim_new", args=[world.case.pk]))
    assert refused.status_code == 403 and "Not allowed" in refused.content.decode()
    assert_csp_clean(refused.content.decode())


def test_the_server_error_page_is_styled_and_needs_no_context(db):
    from django.views.defaults import server_error

    response = server_error(RequestFactory().get("/"))
    html = response.content.decode()
    assert response.status_code == 500 and "Something went wrong" in html
    assert_csp_clean(html)


def test_a_nul_byte_in_the_link_search_is_400_naming_the_parameter(world, client_for):
    client = client_for(world.personas.reporter)
    response = client.get(
        reverse("web:claim_link_options", args=[world.draft.pk]), {"q": "Dandong\x00"}
    )
    assert response.status_code == 400
    assert "The parameter &#x27;q&#x27; contains a NUL byte." in response.content.decode()
    assert_csp_clean(response.content.decode())


def test_a_nul_byte_in_a_deletion_reason_is_refused_and_nothing_is_deleted(world, client_for):
    client = client_for(world.personas.editor)
    response = client.post(
        reverse("web:evidence_delete", args=[world.link.pk]), {"reason": "Wrong\x00case"}
    )
    assert response.status_code == 400
    assert "The reason contains a NUL byte: type it again." in response.content.decode()
    world.link.refresh_from_db()
    assert world.link.deleted_at is None
