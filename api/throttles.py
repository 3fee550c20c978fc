"""Throttles keyed on the authenticated user or on the connecting address.

DRF's own `get_ident` trusts `X-Forwarded-For` unless NUM_PROXIES is set, so that a client
could pick a fresh identity for every request. We key on REMOTE_ADDR only: behind a reverse
proxy, the proxy (or a middleware that trusts only it) must set REMOTE_ADDR to the client's
address.
"""

from rest_framework.throttling import AnonRateThrottle, UserRateThrottle

from config.lockout import PasswordAttemptThrottle


class _RemoteAddrIdent:
    def get_ident(self, request) -> str:
        return request.META.get("REMOTE_ADDR") or "unknown"


class AnonThrottle(_RemoteAddrIdent, AnonRateThrottle):
    pass


class UserThrottle(_RemoteAddrIdent, UserRateThrottle):
    pass


# Password attempts per address, counted with the web login's (config.lockout).
LoginThrottle = PasswordAttemptThrottle
