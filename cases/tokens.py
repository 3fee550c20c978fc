"""API tokens: created at sign-in, stored as a hash, expiring, revocable.

A token belongs to a user, not to a case, so its changes leave no row in a case's activity
record; what a token's holder does with it is recorded as that user's activity as usual.
"""

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from cases.models import ApiToken, Membership

PREFIX_LENGTH = 8
# How often `last_used` is written: a client making a request every second must not make a
# database write every second.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def token_hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def token_create(*, user, name: str = "") -> tuple[ApiToken, str]:
    """Issue a new token for `user`; return it and the key, which is shown once and never
    stored."""
    key = secrets.token_urlsafe(32)
    ttl = timedelta(days=settings.CASEFILE_TOKEN_TTL_DAYS)
    token = ApiToken.objects.create(
        user=user,
        key_hash=token_hash(key),
        prefix=key[:PREFIX_LENGTH],
        name=name[:100],
        expires=timezone.now() + ttl,
    )
    return token, key


def token_authenticate(*, key: str) -> ApiToken | None:
    """The live token with this key (not revoked, not expired, its user active), else None.

    A deactivated user's tokens are revoked when one of them is next presented, so that
    deactivating an account in the admin is enough to shut its API clients out for good.
    """
    if not key or len(key) > 200:
        return None
    token = (
        ApiToken.objects.select_related("user")
        .filter(key_hash=token_hash(key), revoked__isnull=True)
        .first()
    )
    if token is None:
        return None
    now = timezone.now()
    if token.expires <= now:
        return None
    if not token.user.is_active:
        tokens_revoke_all(user=token.user)
        return None
    if token.last_used is None or now - token.last_used >= LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used=now)
        token.last_used = now
    return token


def tokens_of(*, user) -> QuerySet[ApiToken]:
    """The user's live tokens (neither revoked nor expired), newest first."""
    return ApiToken.objects.filter(
        user=user, revoked__isnull=True, expires__gt=timezone.now()
    ).order_by("-created", "-id")


def token_revoke(*, token: ApiToken) -> None:
    """Revoke one token (sign out one client)."""
    if token.revoked is None:
        token.revoked = timezone.now()
        ApiToken.objects.filter(pk=token.pk, revoked__isnull=True).update(revoked=token.revoked)


def tokens_revoke_all(*, user) -> int:
    """Revoke every live token of `user`; return how many were revoked."""
    return ApiToken.objects.filter(user=user, revoked__isnull=True).update(revoked=timezone.now())


def tokens_revoke_if_no_case(*, user) -> int:
    """Revoke the user's tokens once they belong to no case any more (called when a member is
    removed, in the same transaction)."""
    if Membership.objects.filter(user=user).exists():
        return 0
    return tokens_revoke_all(user=user)


@transaction.atomic
def user_deactivate(*, user) -> None:
    """Deactivate an account and revoke its tokens at once."""
    user.is_active = False
    user.save(update_fields=["is_active"])
    tokens_revoke_all(user=user)
