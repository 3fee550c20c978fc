"""What a locked-out login attempt gets back (django-axes' AXES_LOCKOUT_CALLABLE).

The answer never depends on whether the account exists, never names it, and says when to try
again in words: an attacker learns nothing from it that they did not send.
"""

import math

from axes.backends import AxesStandaloneBackend
from django.conf import settings
from django.http import HttpResponse, JsonResponse


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
        response = HttpResponse(message, status=status, content_type="text/plain; charset=utf-8")
    response["Retry-After"] = str(_minutes() * 60)
    return response


def client_ip(request) -> str:
    """The client's address for lockouts (AXES_CLIENT_IP_CALLABLE).

    Behind `TRUSTED_PROXY_COUNT` proxies, the address the outermost one saw is that many entries
    from the right of X-Forwarded-For; whatever a client wrote further left is not trusted.
    """
    count = settings.TRUSTED_PROXY_COUNT
    remote = request.META.get("REMOTE_ADDR", "")
    if count > 0:
        forwarded = [a.strip() for a in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        forwarded = [a for a in forwarded if a]
        if len(forwarded) >= count:
            return forwarded[-count]
    return remote


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
        return super().authenticate(request, username=username, password=password, **kwargs)
