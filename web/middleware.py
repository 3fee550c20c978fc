"""What every request of the pages and the API goes through: the reveals of protected
identities recorded once the response is ready, and times in the reader's own time zone.

Reveals: the doors render through `evidence.reader` readers, which note each protected identity
they show; `RevealRecordMiddleware` writes those notes to the custody record, once per request
(and per REVEAL_WINDOW), after the view has answered. A request that ends in a server error
shows nothing and records nothing; a reveal that cannot be recorded fails the response.

Time zones:
`static/js/casefile.js` stores the browser's IANA time zone (e.g. "Europe/Berlin") in the
`casefile_tz` cookie; this middleware activates it for the request, so that dates on the pages
are shown, and naive date-times typed into forms are read, in that zone. Without the cookie (no
JavaScript, or the very first page) everything stays in UTC, and the forms say so.

The API is left out: scripts exchange ISO 8601 date-times with offsets, whatever a browser's
cookie says. Custody records stay in UTC everywhere (they are compared across newsrooms).
"""

import zoneinfo
from functools import cache

from django.utils import timezone

from evidence.reader import readers_record

COOKIE = "casefile_tz"


# Other names of UTC (a browser on a server often says "Etc/UTC"): the pages then say "UTC".
UTC_NAMES = frozenset({"UTC", "Etc/UTC", "Etc/UCT", "Etc/Universal", "Etc/Zulu", "UCT", "Zulu"})


@cache
def _known_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones()) - UTC_NAMES


def zone_from_cookie(value: str | None) -> zoneinfo.ZoneInfo | None:
    """The time zone the cookie names, or None for UTC: only names from the tz database are
    looked up (never a path a client made up)."""
    if not value or value not in _known_zones():
        return None
    return zoneinfo.ZoneInfo(value)


class RevealRecordMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if response.status_code < 500:  # an error page shows nothing a reader noted
            readers_record(request)
        return response


class TimezoneMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        zone = (
            None
            if request.path.startswith("/api/")
            else zone_from_cookie(request.COOKIES.get(COOKIE))
        )
        if zone is None:
            timezone.deactivate()
            return self.get_response(request)
        timezone.activate(zone)
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
