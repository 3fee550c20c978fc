"""The newsroom's public signing key, published for anyone who checks a bundle or a checkpoint."""

from django.http import HttpResponse
from django.views.decorators.http import require_GET

from cases import signing


@require_GET
def signing_key(request):
    """`/.well-known/casefile-signing-key`: the public key (PEM) that signs every checkpoint
    and export, for anyone (no sign-in); its fingerprint in a header."""
    key = signing.public_key()
    response = HttpResponse(signing.public_pem(key), content_type="text/plain; charset=utf-8")
    response["X-Casefile-Key-Fingerprint"] = signing.fingerprint(key)
    return response
