"""Writes to cases, members and claims. Each one checks the rule, changes the rows and leaves
an activity row, in one transaction."""

from datetime import date

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Model
from django.utils import timezone

from cases import timestamps
from cases.activity import Verb, activity_record, checkpoint_digest, checkpoint_entry
from cases.models import (
    ActivityCheckpoint,
    Case,
    Claim,
    ClaimTransition,
    Membership,
    Role,
    TrustedTimestamp,
)
from cases.policy import require, require_any_case
from cases.search import claim_index
from cases.tokens import tokens_revoke_if_no_case

User = get_user_model()


# --- Cases and members ----------------------------------------------------------------------


def _validated(instance: Model) -> Model:
    instance.full_clean()
    return instance


@transaction.atomic
def case_create(*, actor, title: str, summary: str = "", ocr_languages: str = "") -> Case:
    """Open a new case; its creator becomes its owner."""
    if not actor.is_authenticated or not actor.is_active:
        raise PermissionDenied("Sign in to create a case.")
    require_any_case(actor)
    case = _validated(
        Case(
            title=title.strip(),
            summary=summary,
            ocr_languages=ocr_languages.strip(),
            created_by=actor,
        )
    )
    case.save()
    Membership.objects.create(case=case, user=actor, role=Role.OWNER, added_by=actor)
    activity_record(case=case, actor=actor, verb=Verb.CASE_CREATED, target=case)
    return case


@transaction.atomic
def case_update(
    *,
    actor,
    case: Case,
    title: str | None = None,
    summary: str | None = None,
    status: str | None = None,
    ocr_languages: str | None = None,
) -> Case:
    """Edit the case's title, summary and the languages its text is read in (editors,
    owners) or its status (owners). New languages apply to what is read from then on."""
    changes = {}
    if status is not None and status != case.status:
        require(actor, case, "case.status")
        changes["status"] = status
    if ocr_languages is not None:
        ocr_languages = ocr_languages.strip()
    if (
        (title is not None and title != case.title)
        or (summary is not None and summary != case.summary)
        or (ocr_languages is not None and ocr_languages != case.ocr_languages)
    ):
        # A closed case can still be renamed by an owner who reopens it in the same request.
        require(
            actor,
            case,
            "case.update",
            changes_case=changes.get("status", case.status) != Case.Status.OPEN,
        )
        if title is not None and title != case.title:
            changes["title"] = title.strip()
        if summary is not None and summary != case.summary:
            changes["summary"] = summary
        if ocr_languages is not None and ocr_languages != case.ocr_languages:
            changes["ocr_languages"] = ocr_languages
    if not changes:
        require(actor, case, "case.see")
        return case
    for field, value in changes.items():
        setattr(case, field, value)
    _validated(case).save()
    activity_record(case=case, actor=actor, verb=Verb.CASE_UPDATED, target=case, data=changes)
    return case


@transaction.atomic
def membership_add(*, actor, case: Case, user, role: str) -> Membership:
    """Add a member to the case (owners only)."""
    require(actor, case, "member.manage")
    role = _valid_role(role)
    if not user.is_active:
        raise ValidationError({"user": "This account is deactivated."})
    if Membership.objects.filter(case=case, user=user).exists():
        raise ValidationError({"user": f"{user.username} is already a member of this case."})
    membership = Membership.objects.create(case=case, user=user, role=role, added_by=actor)
    activity_record(
        case=case,
        actor=actor,
        verb=Verb.MEMBER_ADDED,
        target=membership,
        data={"user": user.username, "role": role},
    )
    return membership


@transaction.atomic
def membership_change(*, actor, membership: Membership, role: str) -> Membership:
    """Change a member's role (owners only); the case always keeps an owner."""
    case = membership.case
    require(actor, case, "member.manage")
    role = _valid_role(role)
    if role == membership.role:
        return membership
    if membership.is_owner:  # and the new role is not owner: it differs from the old one
        _keep_an_owner(case, leaving=membership)
    old = membership.role
    membership.role = role
    membership.save(update_fields=["role"])
    case.__dict__.pop("_roles", None)
    activity_record(
        case=case,
        actor=actor,
        verb=Verb.MEMBER_ROLE_CHANGED,
        target=membership,
        data={"user": membership.user.username, "from": old, "to": role},
    )
    return membership


@transaction.atomic
def membership_remove(*, actor, membership: Membership) -> None:
    """Remove a member (owners only); the case always keeps an owner."""
    case = membership.case
    require(actor, case, "member.manage")
    if membership.is_owner:
        _keep_an_owner(case, leaving=membership)
    activity_record(
        case=case,
        actor=actor,
        verb=Verb.MEMBER_REMOVED,
        target=membership,
        data={"user": membership.user.username, "role": membership.role},
    )
    membership.delete()
    case.__dict__.pop("_roles", None)
    # Someone who belongs to no case any more keeps no API access.
    tokens_revoke_if_no_case(user=membership.user, actor=actor)


def _valid_role(role: str) -> Role:
    try:
        return Role(role)
    except ValueError:
        raise ValidationError(
            {"role": f"Unknown role {role!r}: choose one of {', '.join(Role.values)}."}
        ) from None


def _keep_an_owner(case: Case, *, leaving: Membership) -> None:
    # Lock the owners' rows so that two owners cannot demote each other at the same time.
    owners = list(
        Membership.objects.select_for_update(of=("self",))
        .filter(case=case, role=Role.OWNER)
        .order_by("pk")  # not the default ordering: it joins (and would lock) case and users
        .values_list("pk", flat=True)
    )
    if owners == [leaving.pk]:
        raise ValidationError({"role": "A case must keep at least one owner."})


# --- Claims ---------------------------------------------------------------------------------


CLAIM_FIELDS = ("statement", "details", "confidence", "occurred_on")


@transaction.atomic
def claim_create(
    *,
    actor,
    case: Case,
    statement: str,
    details: str = "",
    confidence: str = "",
    occurred_on: date | None = None,
) -> Claim:
    """Write a new claim, as a draft (reporters and above)."""
    require(actor, case, "claim.add")
    claim = _validated(
        Claim(
            case=case,
            statement=statement.strip(),
            details=details,
            confidence=confidence,
            occurred_on=occurred_on,
            author=actor,
        )
    )
    claim.save()
    activity_record(case=case, actor=actor, verb=Verb.CLAIM_CREATED, target=claim)
    claim_index(claim)
    return claim


# What a decision covers besides the evidence: changing one of these on a decided claim sends
# it back to review (`claim_reopen`), as a change of its evidence does.
DECIDED_FIELDS = {"confidence": "the confidence", "occurred_on": "the event date"}


@transaction.atomic
def claim_update(*, actor, claim: Claim, **changes) -> Claim:
    """Edit a claim. Only a draft's statement and details can change: a claim under review or
    decided must be sent back to draft first, so no decision covers other words. Confidence and
    event date are part of a decision too: changing them on a decided claim reopens it."""
    require(actor, claim.case, "claim.edit")
    unknown = set(changes) - set(CLAIM_FIELDS)
    if unknown:
        raise ValidationError({field: "This field cannot be changed here." for field in unknown})
    claims_lock(claim_ids=[claim.pk])  # first, in the lock order: claim_reopen may follow
    claim.refresh_from_db()
    changed = {k: v for k, v in changes.items() if getattr(claim, k) != v}
    if not changed:
        return claim
    before = {field: getattr(claim, field) for field in changed}
    wording = {"statement", "details"} & set(changed)
    if wording and claim.status != Claim.Status.DRAFT:
        raise ValidationError(
            {
                field: "Only a draft's wording can change: send the claim back to draft first."
                for field in wording
            }
        )
    for field, value in changed.items():
        setattr(claim, field, value.strip() if field == "statement" else value)
    _validated(claim).save()
    activity_record(
        case=claim.case, actor=actor, verb=Verb.CLAIM_UPDATED, target=claim, data=changed
    )
    claim_index(claim)
    decided = [field for field in DECIDED_FIELDS if field in changed]
    if decided:
        what = "; ".join(
            f"{DECIDED_FIELDS[f]} from {before[f] or 'none'} to {changed[f] or 'none'}"
            for f in decided
        )
        claim_reopen(
            actor=actor,
            claim=claim,
            change=f"{actor.get_username()} changed {what}",
            what="The claim",
        )
    return claim


def _claim_move(*, actor, claim: Claim, to: str, note: str) -> Claim:
    # Lock the claim so that two reviewers cannot decide it at the same time.
    current = Claim.objects.select_for_update().get(pk=claim.pk)
    if not current.can_move_to(to):
        raise ValidationError(
            {
                "status": f"A claim that is {current.get_status_display().lower()} "
                f"cannot move to {Claim.Status(to).label.lower()}."
            }
        )
    ClaimTransition.objects.create(
        claim=claim, from_status=current.status, to_status=to, actor=actor, note=note
    )
    claim.status = to
    return claim


@transaction.atomic
def claim_submit(*, actor, claim: Claim, note: str = "") -> Claim:
    """Send a draft claim for review (reporters and above)."""
    require(actor, claim.case, "claim.submit")
    _claim_move(actor=actor, claim=claim, to=Claim.Status.IN_REVIEW, note=note)
    claim.save(update_fields=["status", "updated_at"])
    activity_record(case=claim.case, actor=actor, verb=Verb.CLAIM_SUBMITTED, target=claim)
    claim_index(claim)
    return claim


@transaction.atomic
def claim_review(
    *, actor, claim: Claim, decision: str, note: str, confidence: str | None = None
) -> Claim:
    """Decide a claim in review (supported, contradicted, unverified) or send it back to draft.

    Only an editor or owner who did not write the claim may; the note is required.
    """
    require(actor, claim.case, "claim.review")
    if claim.author_id == actor.pk:
        raise PermissionDenied("You wrote this claim: another editor must review it.")
    if decision not in Claim.DECISIONS:
        raise ValidationError({"decision": f"Choose one of: {', '.join(Claim.DECISIONS)}."})
    note = (note or "").strip()
    if not note:
        raise ValidationError({"note": "Say why: a review needs a note."})
    if confidence is not None and confidence not in Claim.Confidence.values + [""]:
        raise ValidationError({"confidence": "Choose low, medium or high."})
    old = claim.status
    # The claim's lock first (the lock order), so that no link changes between the check and
    # the decision; the check before the move, which changes `claim` in place.
    claims_lock(claim_ids=[claim.pk])
    if Claim.objects.get(pk=claim.pk).can_move_to(decision):
        _check_links_for(claim, decision)
    _claim_move(actor=actor, claim=claim, to=decision, note=note)
    if decision == Claim.Status.DRAFT:
        claim.reviewer, claim.reviewed_at, claim.review_note = None, None, ""
    else:
        claim.reviewer, claim.reviewed_at, claim.review_note = actor, timezone.now(), note
    if confidence is not None:
        claim.confidence = confidence
    claim.save()
    activity_record(
        case=claim.case,
        actor=actor,
        verb=Verb.CLAIM_REVIEWED,
        target=claim,
        data={"from": old, "to": decision, "note": note},
    )
    claim_index(claim)
    return claim


# A decision rests on evidence: the stance a claim's links must include for each decision.
DECISION_NEEDS = {
    Claim.Status.SUPPORTED: ("supports", "supporting"),
    Claim.Status.CONTRADICTED: ("contradicts", "contradicting"),
}


def _check_links_for(claim: Claim, decision: str) -> None:
    # Under the claim's lock, which every link change takes first (claims_lock).
    if decision not in DECISION_NEEDS:
        return
    stance, adjective = DECISION_NEEDS[decision]
    # The reverse relation of evidence.EvidenceLink: `cases` imports no other app.
    if not claim.links.filter(stance=stance).exists():
        raise ValidationError(
            {
                "decision": f"A claim can be {Claim.Status(decision).label.lower()} only on "
                f"evidence: link at least one piece of {adjective} evidence to it first."
            },
            code="no_evidence",
        )


def claims_lock(*, claim_ids) -> None:
    """Lock the claims' rows, in id order. A service that changes a claim's evidence takes this
    lock before it writes its activity row (which locks the case), the order `claim_review`
    takes them in: on PostgreSQL the two then wait for each other instead of deadlocking, and
    a decision made meanwhile is seen, and reopened, by `claim_reopen`."""
    list(
        Claim.objects.select_for_update()
        .filter(pk__in=list(claim_ids))
        .order_by("pk")
        .values_list("pk", flat=True)
    )


REOPEN_NOTE = "{what} changed after the decision: {change}"


@transaction.atomic
def claim_reopen(*, actor, claim: Claim, change: str, what: str = "Evidence") -> str | None:
    """Send a decided claim back to review because the evidence its decision rests on changed.

    Called by the service that made the change (a link added, removed or its stance changed;
    linked evidence deleted; the claim's confidence or event date changed, with `what` "The
    claim"), in its transaction, with `change` saying what happened ("rita unlinked
    IMG_0412.jpg (supports)"). A draft or a claim in review is left as it is. The move
    is not in `Claim.TRANSITIONS`: no one makes it by hand, and the claim then needs a fresh
    decision from an editor or owner who did not write it. Returns the decision it undid, or
    None; `claim` is updated in place.
    """
    current = Claim.objects.select_for_update().get(pk=claim.pk)
    if current.status not in Claim.DECIDED:
        return None
    decision = current.status
    note = REOPEN_NOTE.format(what=what, change=change)
    ClaimTransition.objects.create(
        claim=claim,
        from_status=decision,
        to_status=Claim.Status.IN_REVIEW,
        actor=actor,
        note=note,
    )
    # The decision no longer stands: who made it and why stay in the history, not on the claim.
    claim.status = Claim.Status.IN_REVIEW
    claim.reviewer, claim.reviewed_at, claim.review_note = None, None, ""
    claim.save(update_fields=["status", "reviewer", "reviewed_at", "review_note", "updated_at"])
    activity_record(
        case=claim.case,
        actor=actor,
        verb=Verb.CLAIM_REOPENED,
        target=claim,
        data={"from": decision, "to": Claim.Status.IN_REVIEW, "note": note},
    )
    claim_index(claim)
    return decision


# --- Trusted timestamps (RFC 3161, issue #13) --------------------------------------------------


def timestamp_take(
    *, case_id: int, subject: str, object_id: int, digest: bytes
) -> TrustedTimestamp | None:
    """Ask the configured TSA for a token over `digest` (a SHA-256) and store it as the trusted
    timestamp of `subject` `object_id`; return it (the one stored already, if any: safe to run
    twice). None when no TSA is configured. Raises `timestamps.TimestampUnavailable` when the
    TSA cannot give one (the caller leaves it for `timestamps_fill_due`).

    Called by workers only, outside any transaction: the TSA is asked while no lock is held."""
    existing = TrustedTimestamp.objects.filter(subject=subject, object_id=object_id).first()
    if existing is not None or not timestamps.tsa_configured():
        return existing
    token = timestamps.token_fetch(digest)
    info = timestamps.token_read(token)
    stamp, _ = TrustedTimestamp.objects.get_or_create(
        subject=subject,
        object_id=object_id,
        defaults={
            "case_id": case_id,
            "digest": digest.hex(),
            "token": token,
            "tsa": info.tsa[:255],
            "generated_at": info.at,
            "serial": info.serial[:64],
        },
    )
    return stamp


def checkpoint_timestamp(*, checkpoint: ActivityCheckpoint) -> TrustedTimestamp | None:
    """The trusted timestamp of a checkpoint (over the SHA-256 of its raw signature), taken
    now if it has none (`timestamp_take`)."""
    digest = checkpoint_digest(checkpoint_entry(checkpoint))
    if digest is None:
        return None
    return timestamp_take(
        case_id=checkpoint.case_id,
        subject=TrustedTimestamp.Subject.CHECKPOINT,
        object_id=checkpoint.pk,
        digest=digest,
    )
