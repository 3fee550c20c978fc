"""The client's address behind reverse proxies.

Each proxy appends the address it received the request from to X-Forwarded-For, so with
`TRUSTED_PROXY_COUNT` proxies in front of the app the client is the entry that many places from
the right; anything further left was written by the client and is not believed. Without a count
REMOTE_ADDR is left alone: a forged header then changes nothing.
"""

from django.conf import settings


class ForwardedForMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        self.count = settings.TRUSTED_PROXY_COUNT

    def __call__(self, request):
        if self.count > 0:
            forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
            hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
            if len(hops) >= self.count:
                request.META["REMOTE_ADDR"] = hops[-self.count]
        return self.get_response(request)
