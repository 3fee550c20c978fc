"""Throttles keyed on the authenticated user or on the connecting address.

DRF's own `get_ident` trusts `X-Forwarded-For` unless NUM_PROXIES is set, so that a client
could pick a fresh identity for every request. We key on REMOTE_ADDR only: behind a reverse
proxy, the proxy (or a middleware that trusts only it) must set REMOTE_ADDR to the client's
address.
"""

from rest_framework.throttling import AnonRateThrottle, SimpleRateThrottle, UserRateThrottle


class _RemoteAddrIdent:
    def get_ident(self, request) -> str:
        return request.META.get("REMOTE_ADDR") or "unknown"


class AnonThrottle(_RemoteAddrIdent, AnonRateThrottle):
    pass


class UserThrottle(_RemoteAddrIdent, UserRateThrottle):
    pass


class LoginThrottle(_RemoteAddrIdent, SimpleRateThrottle):
    """Password attempts per address, whoever is signed in (django-axes, where installed,
    also locks out an account after repeated failures)."""

    scope = "login"

    def get_cache_key(self, request, view) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
