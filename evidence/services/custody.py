"""Custody writes: the record of an original viewed or downloaded, deletion with a tombstone,
the owners' purge of a deleted original, and the check that no original and no row of the
activity record was altered (the record itself is read by `evidence.custody`)."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.http import Http404
from django.utils import timezone

from cases.activity import (
    Verb,
    activity_chain_problems,
    activity_record,
)
from cases.models import ActivityCheckpoint, Case, TrustedTimestamp
from cases.policy import require
from cases.services import claim_reopen, claims_lock
from evidence.imaging.sniff import download_name
from evidence.models import CaptureFile, Evidence, Photo, TextReading
from evidence.search import search_index_evidence
from evidence.selectors import custody_of, exports_carrying
from evidence.services.evidence import original_open
from evidence.services.timestamps import evidence_timestamp_problems, evidence_timestamps


def original_view_record(*, actor, evidence: Evidence, via: str, download: bool = True) -> None:
    """Record that `actor` opened or downloaded the original of `evidence` (editors and
    owners only may). Call it in the request that serves the bytes."""
    require(actor, evidence.case, "original.download")
    with transaction.atomic():
        activity_record(
            case=evidence.case,
            actor=actor,
            verb=Verb.EVIDENCE_ORIGINAL_DOWNLOADED if download else "evidence.original_viewed",
            target=evidence,
            data={"sha256": evidence.sha256, "via": via},
        )


@dataclass(frozen=True)
class OriginalFile:
    """An original opened for a download: the handle, and the facts a door turns into headers."""

    file: File
    filename: str
    content_type: str
    size: int | None
    sha256: str


def original_download(*, actor, evidence: Evidence, via: str) -> OriginalFile:
    """Open the original of `evidence` for `actor` to download (editors and owners) and record
    the download (`via`: "page" or "api"). Both doors serve what this returns, as an
    attachment. Http404 for evidence without a file."""
    require(actor, evidence.case, "original.download")
    if not evidence.has_file or not evidence.original:
        raise Http404("This evidence has no file.")
    handle = original_open(evidence)
    try:
        original_view_record(actor=actor, evidence=evidence, via=via)
    except BaseException:
        handle.close()
        raise
    return OriginalFile(
        file=handle,
        filename=download_name(
            evidence.original_name, evidence.content_type, fallback=evidence.sha256[:16]
        ),
        content_type=evidence.content_type or "application/octet-stream",
        size=evidence.size,
        sha256=evidence.sha256,
    )


# --- Deletion and purge ---------------------------------------------------------------------------

MAX_REASON = 2000


@transaction.atomic
def evidence_delete(*, actor, evidence: Evidence, reason: str) -> Evidence:
    """Delete a piece of evidence (editors and owners), leaving a tombstone: the row keeps its
    hash, who deleted it, when and why, and disappears from every list. Its links to claims are
    removed (each removal recorded) so no claim rests on it any more, and a decided claim that
    did goes back to review (`claim_reopen`); the original file is retained until an owner
    purges it. (Purging changes no claim: the links went with the deletion.)"""
    case = evidence.case
    require(actor, case, "evidence.delete")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Say why this evidence is deleted: a reason is required."})
    if len(reason) > MAX_REASON:
        raise ValidationError({"reason": f"Keep the reason under {MAX_REASON} characters."})
    if "\x00" in reason:  # no database keeps it, and PostgreSQL errors on it
        raise ValidationError({"reason": "The reason contains a NUL byte: type it again."})
    # Lock the row so that two deletions cannot both pass the check below.
    current = Evidence.objects.select_for_update().get(pk=evidence.pk)
    if current.deleted_at is not None:
        raise ValidationError({"evidence": "This evidence is already deleted."})
    links = list(current.links.select_related("claim").order_by("id"))
    claims_lock(claim_ids=[link.claim_id for link in links])
    removed = []
    for link in links:
        activity_record(
            case=case,
            actor=actor,
            verb=Verb.LINK_REMOVED,
            target=link,
            data={
                "claim": link.claim_id,
                "evidence": evidence.pk,
                "stance": link.stance,
                "because": "evidence deleted",
            },
        )
        removed.append({"claim": link.claim_id, "stance": link.stance})
        link.delete()
        claim_reopen(
            actor=actor,
            claim=link.claim,
            change=f"{actor.get_username()} deleted {evidence} ({link.stance}). Reason: {reason}",
        )
    evidence.deleted_at = timezone.now()
    evidence.deleted_by = actor
    evidence.deletion_reason = reason
    evidence.save(update_fields=["deleted_at", "deleted_by", "deletion_reason", "updated_at"])
    activity_record(
        case=case,
        actor=actor,
        verb=Verb.EVIDENCE_DELETED,
        target=evidence,
        data={
            "reason": reason,
            "kind": evidence.kind,
            "sha256": evidence.sha256,
            "size": evidence.size,
            "original_name": evidence.original_name,
            "original_retained": bool(evidence.original),
            "links_removed": removed,
        },
    )
    search_index_evidence(evidence)
    return evidence


@transaction.atomic
def evidence_purge(*, actor, evidence: Evidence) -> Evidence:
    """Delete the retained original (and derivatives) of deleted evidence, for good (owners
    only). The tombstone keeps the hash; the purge itself is recorded. An original stored once
    for several items (the same bytes in another case) stays while any of them still needs it."""
    case = evidence.case
    require(actor, case, "evidence.purge")
    current = Evidence.objects.select_for_update().get(pk=evidence.pk)
    if current.deleted_at is None:
        raise ValidationError({"evidence": "Only deleted evidence can be purged: delete it first."})
    if current.purged_at is not None:
        raise ValidationError({"evidence": "This evidence was already purged."})
    name = current.original.name if current.original else ""
    shared = (
        Evidence.objects.filter(original=name, purged_at__isnull=True)
        .exclude(pk=evidence.pk)
        .count()
        if name
        else 0
    )
    removed = []
    if name and not shared and default_storage.exists(name):
        default_storage.delete(name)
        removed.append("original")
    photo = Photo.objects.filter(pk=evidence.pk).first()
    if photo is not None:
        for kind in ("thumbnail", "preview"):
            derivative = getattr(photo, kind)
            if derivative and default_storage.exists(derivative.name):
                default_storage.delete(derivative.name)
                removed.append(kind)
            setattr(photo, kind, "")
        photo.save(update_fields=["thumbnail", "preview"])
    # The text read from it is derived from the original too: it goes with it.
    if TextReading.objects.filter(pk=evidence.pk).delete()[0]:
        removed.append("text")
    evidence.purged_at = timezone.now()
    evidence.purged_by = actor
    evidence.original = ""
    evidence.save(update_fields=["purged_at", "purged_by", "original", "updated_at"])
    activity_record(
        case=case,
        actor=actor,
        verb=Verb.EVIDENCE_PURGED,
        target=evidence,
        data={"sha256": evidence.sha256, "removed": removed, "still_used_elsewhere": shared},
    )
    return evidence


# --- Verification ---------------------------------------------------------------------------------

_ROW = re.compile(r"^activity (\d+)")


def stored_sha256(name: str) -> str:
    """The SHA-256 of a stored file, read in chunks."""
    digest = hashlib.sha256()
    with default_storage.open(name, "rb") as handle:
        for chunk in iter(lambda: handle.read(1024 * 1024), b""):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass
class ItemCheck:
    evidence_id: int
    case_id: int
    label: str
    sha256: str
    # intact | broken | purged (the original was deleted on purpose, recorded) | no file |
    # not held (imported without its original)
    state: str
    problems: list[str] = field(default_factory=list)
    # The original's trusted timestamp at ingest, when it has one that holds.
    timestamp: TrustedTimestamp | None = None


@dataclass
class CaseCheck:
    case_id: int
    title: str
    rows: int
    problems: list[str]
    items: list[ItemCheck] = field(default_factory=list)
    # The case's signed checkpoints the chain was compared with, and the latest of them.
    checkpoints: int = 0
    latest_checkpoint: ActivityCheckpoint | None = None
    # The latest checkpoint's trusted timestamp (checked with the chain), when it has one.
    latest_timestamp: TrustedTimestamp | None = None

    @property
    def intact(self) -> bool:
        return not self.problems and all(i.state != "broken" for i in self.items)


def custody_verify(*, case: Case) -> CaseCheck:
    """Recompute the SHA-256 of every original of the case (deleted evidence included, until
    it is purged), of every file of its links' captures, and the case's activity chain; compare
    the chain with the case's signed checkpoints and every trusted timestamp (RFC 3161: a token
    over the digest it claims, signed by a TSA chaining to CASEFILE_TSA_CA_FILE); say, per
    item, whether it is intact."""
    chain = activity_chain_problems(case=case)
    bad_rows = {int(m.group(1)) for p in chain if (m := _ROW.match(p))}
    check = CaseCheck(
        case_id=case.pk,
        title=case.title,
        rows=case.activity.count(),
        problems=chain,
        checkpoints=case.checkpoints.count(),
        latest_checkpoint=case.checkpoints.order_by("-id").first(),
    )
    if check.latest_checkpoint is not None:
        check.latest_timestamp = TrustedTimestamp.objects.filter(
            subject=TrustedTimestamp.Subject.CHECKPOINT, object_id=check.latest_checkpoint.pk
        ).first()
    exports = exports_carrying(case_id=case.pk)
    stamps = evidence_timestamps(case.evidence.values_list("pk", flat=True))
    for evidence in Evidence.objects.filter(case=case).select_related("source").order_by("id"):
        item = ItemCheck(
            evidence_id=evidence.pk,
            case_id=case.pk,
            label=evidence.label,
            sha256=evidence.sha256,
            state="intact",
        )
        if not evidence.has_file:
            item.state = "no file"
        elif evidence.purged_at is not None:
            item.state = "purged"
        elif not evidence.original:
            item.state = "not held"
        else:
            try:
                actual = stored_sha256(evidence.original.name)
            except FileNotFoundError:
                item.problems.append(
                    f"the original is missing from storage ({evidence.original.name})"
                )
            except OSError as exc:
                item.problems.append(f"the original could not be read: {exc}")
            else:
                if actual != evidence.sha256:
                    item.problems.append(
                        f"the original was altered: SHA-256 recorded {evidence.sha256}, "
                        f"stored file {actual}"
                    )
        for stored in CaptureFile.objects.filter(capture__evidence=evidence).order_by("id"):
            # A link's captures: each file against the SHA-256 its capture recorded.
            try:
                actual = stored_sha256(stored.file.name)
            except FileNotFoundError:
                item.problems.append(
                    f"capture {stored.capture_id}'s {stored.name} is missing from storage"
                )
            except OSError as exc:
                item.problems.append(f"capture {stored.capture_id}'s {stored.name}: {exc}")
            else:
                if actual != stored.sha256:
                    item.problems.append(
                        f"capture {stored.capture_id}'s {stored.name} was altered: SHA-256 "
                        f"recorded {stored.sha256}, stored file {actual}"
                    )
        altered = sorted(
            bad_rows
            & set(custody_of(evidence=evidence, exports=exports).values_list("pk", flat=True))
        )
        for pk in altered:
            item.problems.append(f"its custody record was altered (activity {pk})")
        stamp = stamps.get(evidence.pk)
        if stamp is not None:
            found = evidence_timestamp_problems(evidence, stamp)
            item.problems.extend(found)
            item.timestamp = None if found else stamp
        if item.problems:
            item.state = "broken"
        check.items.append(item)
    return check
