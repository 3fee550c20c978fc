"""What a locked-out login attempt gets back (django-axes' AXES_LOCKOUT_CALLABLE).

The answer never depends on whether the account exists, never names it, and says when to try
again in words: an attacker learns nothing from it that they did not send.
"""

import math

from axes.backends import AxesStandaloneBackend
from django.conf import settings
from django.contrib.auth.signals import user_login_failed
from django.dispatch import receiver
from django.http import JsonResponse
from django.shortcuts import render
from rest_framework.throttling import SimpleRateThrottle


def _minutes() -> int:
    cool_off = settings.AXES_COOLOFF_TIME
    return max(1, math.ceil(cool_off.total_seconds() / 60))


def lockout_message() -> str:
    minutes = _minutes()
    unit = "minute" if minutes == 1 else "minutes"
    return f"Too many failed sign-in attempts. Try again in {minutes} {unit}."


def lockout_response(request, original_response=None, credentials=None):
    message = lockout_message()
    status = settings.AXES_HTTP_RESPONSE_CODE
    if request.path.startswith("/api/"):
        response = JsonResponse({"detail": message}, status=status)
    else:
        # A page with the site's look (Django's and axes' defaults style themselves inline,
        # which the Content-Security-Policy refuses).
        response = render(request, "registration/lockout.html", {"message": message}, status=status)
    response["Retry-After"] = str(_minutes() * 60)
    return response


class LockoutBackend(AxesStandaloneBackend):
    """django-axes' lockout check, for every sign-in that comes with a request.

    Both doors pass the request: the web login (django.contrib.auth's LoginView) and the API
    token view (`authenticate(request=…)`); tests cover both. A call without one comes from code
    on the server itself (a shell, the test client's `login()`), where there is no client to
    lock out, so it passes through to the next backend instead of failing.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        # DRF wraps Django's request; axes' flags must land on Django's own, where AxesMiddleware
        # looks for them to answer with the lockout response.
        request = getattr(request, "_request", request)
        return super().authenticate(request, username=username, password=password, **kwargs)


@receiver(user_login_failed)
def _carry_lockout_to_django_request(sender, credentials=None, request=None, **kwargs):
    """When the failure that reaches the limit came through DRF, axes flags DRF's request
    wrapper; copy the flag to Django's request so that AxesMiddleware answers this very
    attempt with the lockout, as it does on the web login. (Runs after axes' own receiver,
    which is connected at start-up; this module loads with the first sign-in.)"""
    inner = getattr(request, "_request", None)
    flags = vars(request) if inner is not None else {}
    if flags.get("axes_locked_out"):
        inner.axes_locked_out = True
        inner.axes_credentials = flags.get("axes_credentials")


class PasswordAttemptThrottle(SimpleRateThrottle):
    """Password attempts per connecting address (REMOTE_ADDR, never a client's X-Forwarded-For:
    config.proxy sets it behind trusted proxies), at `API_THROTTLE_LOGIN`, whichever account
    they are for: the API token view, the web login and the password-reset request count
    together, so that one address cannot try one password on many accounts through either
    door. (django-axes locks one account at one address after repeated failures.)"""

    scope = "login"

    def get_cache_key(self, request, view) -> str:
        ident = request.META.get("REMOTE_ADDR") or "unknown"
        return self.cache_format % {"scope": self.scope, "ident": ident}


def too_many_attempts_response(request, wait: float | None):
    """The web pages' answer once an address has used up its password attempts."""
    seconds = max(1, math.ceil(wait or 60))
    message = (
        f"Too many sign-in attempts from your address. Try again in {seconds} "
        f"second{'s' if seconds != 1 else ''}."
    )
    response = render(request, "registration/lockout.html", {"message": message}, status=429)
    response["Retry-After"] = str(seconds)
    return response
