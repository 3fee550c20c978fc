"""API tokens: created at sign-in, stored as a hash, expiring, revocable.

A token belongs to a user, not to a case, so its changes leave no row in a case's activity
record: each issue and revocation is a row of the user's `AccountActivity` (with the token's
prefix and name, never its key); what a token's holder does with it is recorded as that user's
activity in the case as usual.
"""

import hashlib
import json
import secrets
from collections.abc import Iterable
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from cases.models import AccountActivity, ApiToken, Membership

PREFIX_LENGTH = 8
# The shortest lifetime a token may be given (a minute: enough for one script's run).
MIN_LIFETIME = timedelta(seconds=60)
# How often `last_used` is written: a client making a request every second must not make a
# database write every second.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def token_hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def account_activity_record(*, user, actor, verb: str, data: dict | None = None) -> None:
    """Append one row to the user's account record (`actor` None: the system did it)."""
    account_activity_record_many(user=user, actor=actor, verb=verb, data_rows=[data or {}])


def account_activity_record_many(*, user, actor, verb: str, data_rows: list[dict]) -> None:
    """One row per entry of `data_rows`, in one insert."""
    now = timezone.now()
    AccountActivity.objects.bulk_create(
        AccountActivity(
            user=user,
            actor=actor,
            verb=verb,
            data=json.loads(json.dumps(data, cls=DjangoJSONEncoder)),
            created_at=now,
        )
        for data in data_rows
    )


def _described(token: ApiToken) -> dict:
    # What identifies a token to its owner and to an administrator; never its key or hash.
    return {"token": token.pk, "prefix": token.prefix, "name": token.name}


def token_lifetime_max() -> timedelta:
    return timedelta(days=settings.CASEFILE_TOKEN_TTL_DAYS)


@transaction.atomic
def token_create(
    *,
    user,
    name: str = "",
    scope: str = ApiToken.Scope.WRITE,
    cases: Iterable[int] | None = None,
    expires_in: timedelta | None = None,
) -> tuple[ApiToken, str]:
    """Issue a new token for `user`; return it and the key, which is shown once and never
    stored. Recorded in the user's account record.

    `cases`: the ids of the cases it may reach (each one the user is a member of), None for
    all of the user's cases (those they join later too); `scope`: `read` or `write`;
    `expires_in`: its lifetime, at most CASEFILE_TOKEN_TTL_DAYS (the default). The token
    narrows the user's role in each case (cases.policy), never widens it.
    """
    if scope not in ApiToken.Scope.values:
        raise ValidationError({"scope": f"Must be one of: {', '.join(ApiToken.Scope.values)}."})
    longest = token_lifetime_max()
    if expires_in is None:
        expires_in = longest
    if expires_in > longest or expires_in < MIN_LIFETIME:
        raise ValidationError(
            {
                "expires_in": (
                    f"A token lives between {int(MIN_LIFETIME.total_seconds())} seconds and "
                    f"{settings.CASEFILE_TOKEN_TTL_DAYS} days "
                    f"({int(longest.total_seconds())} seconds)."
                )
            }
        )
    case_ids: list[int] = []
    if cases is not None:
        case_ids = sorted(set(cases))
        if not case_ids:
            raise ValidationError({"cases": "Name at least one case, or leave it out for all."})
        mine = set(
            Membership.objects.filter(user=user, case_id__in=case_ids).values_list(
                "case_id", flat=True
            )
        )
        missing = [pk for pk in case_ids if pk not in mine]
        if missing:
            raise ValidationError(
                {"cases": f"You are not a member of a case with id {missing[0]}."}
            )
    key = secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user,
        key_hash=token_hash(key),
        prefix=key[:PREFIX_LENGTH],
        name=name[:100],
        expires=timezone.now() + expires_in,
        scope=scope,
        all_cases=cases is None,
    )
    if case_ids:
        token.cases.set(case_ids)
    account_activity_record(
        user=user,
        actor=user,
        verb="token.created",
        data={
            **_described(token),
            "expires": token.expires,
            "scope": scope,
            "cases": case_ids if cases is not None else "all",
        },
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
        tokens_revoke_all(user=token.user, actor=None, reason=REVOKED_ACCOUNT_DEACTIVATED)
        return None
    if token.last_used is None or now - token.last_used >= LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used=now)
        token.last_used = now
    return token


def tokens_of(*, user) -> QuerySet[ApiToken]:
    """The user's live tokens (neither revoked nor expired), newest first."""
    return (
        ApiToken.objects.filter(user=user, revoked__isnull=True, expires__gt=timezone.now())
        .prefetch_related("cases")
        .order_by("-created", "-id")
    )


# Why a token was revoked, in its `token.revoked` row.
REVOKED_AT_LOGOUT = "logout"
REVOKED_AT_LOGOUT_ALL = "logout_all"
REVOKED_BY_OWNER = "revoked_by_owner"
REVOKED_IN_ADMIN = "revoked_in_admin"
REVOKED_NO_CASE_LEFT = "no_case_left"
REVOKED_ACCOUNT_DEACTIVATED = "account_deactivated"
REVOKED_PASSWORD_CHANGED = "password_changed"  # noqa: S105 - a reason, not a password


@transaction.atomic
def token_revoke(*, token: ApiToken, actor, reason: str) -> bool:
    """Revoke one token (sign out one client); return whether it was live until now. The
    revocation is recorded with who did it and why."""
    if token.revoked is not None:
        return False
    now = timezone.now()
    if not ApiToken.objects.filter(pk=token.pk, revoked__isnull=True).update(revoked=now):
        return False
    token.revoked = now
    account_activity_record(
        user=token.user,
        actor=actor,
        verb="token.revoked",
        data={**_described(token), "reason": reason},
    )
    return True


@transaction.atomic
def tokens_revoke_all(*, user, actor, reason: str) -> int:
    """Revoke every live token of `user`, one recorded row each; return how many."""
    live = list(
        ApiToken.objects.select_for_update()
        .filter(user=user, revoked__isnull=True, expires__gt=timezone.now())
        .order_by("id")
    )
    if not live:
        return 0
    ApiToken.objects.filter(pk__in=[t.pk for t in live]).update(revoked=timezone.now())
    account_activity_record_many(
        user=user,
        actor=actor,
        verb="token.revoked",
        data_rows=[{**_described(token), "reason": reason} for token in live],
    )
    return len(live)


def tokens_revoke_if_no_case(*, user, actor) -> int:
    """Revoke the user's tokens once they belong to no case any more (called when a member is
    removed, in the same transaction, by `actor`)."""
    if Membership.objects.filter(user=user).exists():
        return 0
    return tokens_revoke_all(user=user, actor=actor, reason=REVOKED_NO_CASE_LEFT)


@transaction.atomic
def user_deactivate(*, user, actor) -> None:
    """Deactivate an account and revoke its tokens at once (both recorded)."""
    user.is_active = False
    user.save(update_fields=["is_active"])
    account_activity_record(user=user, actor=actor, verb="account.deactivated")
    tokens_revoke_all(user=user, actor=actor, reason=REVOKED_ACCOUNT_DEACTIVATED)


class RevokeTokensOnPasswordChange:
    """In AUTH_PASSWORD_VALIDATORS for its `password_changed` hook, which Django calls whenever
    a user's new password is saved (`set_password` then `save`): the password change page, a
    reset by email, the admin, `manage.py changepassword`. Browser sessions end on a password
    change (Django checks the session's password hash); the API tokens end with them here, each
    revocation a `token.revoked` row of the account's activity (reason `password_changed`).
    Validates nothing."""

    def validate(self, password, user=None) -> None:
        return None

    def password_changed(self, password, user=None) -> None:
        if user is not None and user.pk is not None:
            tokens_revoke_all(user=user, actor=None, reason=REVOKED_PASSWORD_CHANGED)

    def get_help_text(self) -> str:
        return ""
