"""Pages for requests that cannot go on: a form whose CSRF check failed (settings'
CSRF_FAILURE_VIEW). Django's own page styles itself inline, which the Content-Security-Policy
refuses; this one uses the site's stylesheet and says what to do next."""

from django.middleware.csrf import REASON_NO_CSRF_COOKIE, REASON_NO_REFERER
from django.shortcuts import render


def csrf_failure(request, reason=""):
    # Rendered with the request, so the page has the usual header and sets a fresh CSRF
    # cookie: going back and sending the form again works.
    return render(
        request,
        "403_csrf.html",
        {"no_cookie": reason == REASON_NO_CSRF_COOKIE, "no_referer": reason == REASON_NO_REFERER},
        status=403,
    )
