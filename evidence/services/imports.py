"""Importing a bundle made by another Casefile: it is verified first, then its case, sources,
evidence (originals re-ingested), claims and links are created under the importing owner.

The bundle is untrusted input: it is read through `evidence.bundle.reading` (limits before
reading, files streamed, the manifest held to its schema), every row is cleaned by its model
before it is saved, previews must be images Casefile could have made, and a refused import
leaves nothing behind: no row, and no file in storage."""

from __future__ import annotations

from contextlib import contextmanager

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import DataError, IntegrityError, transaction
from django.utils.dateparse import parse_date, parse_datetime

from cases.activity import Verb, activity_record
from cases.models import Case, Claim, ClaimTransition, Membership, Role
from evidence import enqueue
from evidence.bundle.manifest import BundleError, file_sha256
from evidence.bundle.reading import DERIVATIVE_MAX_BYTES, bundle_open, image_check
from evidence.bundle.verify import bundle_verify
from evidence.imaging.decode import PREVIEW_EDGE, THUMBNAIL_EDGE
from evidence.models import Evidence, EvidenceLink, Photo, PhotoFlag, Provenance, Source
from evidence.search import search_reindex
from evidence.services.evidence import original_storage_name, original_store

DERIVATIVE_EDGES = {"preview": PREVIEW_EDGE, "thumbnail": THUMBNAIL_EDGE}


def _placeholder_user(username: str, tag: str, cache: dict):
    """The people of another newsroom, as inactive accounts that keep their names on what they
    did: they cannot sign in and are members of nothing."""
    if not username:
        return None
    if username not in cache:
        User = get_user_model()
        name = f"{username}.imported-{tag}"[:150]
        user, created = User.objects.get_or_create(username=name, defaults={"is_active": False})
        if created:
            user.set_unusable_password()
            user.save(update_fields=["password"])
        cache[username] = user
    return cache[username]


def case_import(
    *,
    path,
    owner,
    accept_unsigned: bool = False,
    key: Ed25519PublicKey | None = None,
    fingerprint: str | None = None,
) -> Case:
    """Restore an exported case from a bundle as an open case: new ids, the same hashes, each
    item's custody record carried over in its `evidence.imported` row, and the import itself
    recorded (with the status the case had in the bundle). The
    bundle is verified first (`bundle_verify`, by `key` or `fingerprint` when given); a bundle
    that does not verify, or whose manifest does not hold what an export writes, is refused and
    nothing is imported, and so is an unsigned one unless `accept_unsigned`. The import's row
    says which it was: signed by which key, or unsigned.

    All or nothing: the rows are one transaction, and the files stored on the way are deleted
    again when it fails (an original, stored under its hash, only if no item refers to it).

    The photos with an original are processed again after the commit; the case's
    `processing` (not stored) holds their dispatches, which say whether each reached the
    broker (a photo that did not waits in the outbox, committed with the case, and is sent
    by the workers' recovery once the broker is back)."""
    check = bundle_verify(path, key=key, fingerprint=fingerprint)
    if check.manifest is None:
        raise BundleError(check.problems[0])
    if not check.intact:
        raise BundleError("the bundle does not verify: " + "; ".join(check.problems[:5]))
    signature = _signature_record(check, accept_unsigned=accept_unsigned)
    try:
        with _discarded_on_failure() as stored, transaction.atomic():
            return _case_import(path, check.manifest, owner, stored, signature)
    except (KeyError, TypeError, ValueError, AttributeError, IntegrityError, DataError) as exc:
        raise BundleError(f"the bundle's manifest cannot be imported: {exc!r}") from exc
    except ValidationError as exc:
        raise BundleError(f"the bundle's manifest cannot be imported: {exc}") from exc


@contextmanager
def _discarded_on_failure():
    """The names of the files an import stores, deleted again if it fails (after its
    transaction is rolled back). An original is stored under its hash, perhaps shared with
    another case's item by then: it is deleted only if no item refers to it."""
    stored: list[str] = []
    try:
        yield stored
    except BaseException:
        for name in stored:
            if not Evidence.objects.filter(original=name).exists():
                default_storage.delete(name)
        raise


def _saved(instance):
    """A row from the bundle, cleaned by its model (choices, lengths, constraints) and saved."""
    instance.full_clean()
    instance.save()
    return instance


def _signature_record(check, *, accept_unsigned: bool) -> dict:
    """What the import's activity row says of the bundle's signature; BundleError for an
    unsigned bundle not accepted as such."""
    if check.signed:
        return {"state": "signed", "key_fingerprint": check.signature.fingerprint}
    reason = check.signature.reason if check.signature is not None else "no signature"
    if not accept_unsigned:
        raise BundleError(
            f"the bundle is not signed ({reason}): nothing shows who wrote it. "
            "Import it anyway with --accept-unsigned."
        )
    return {"state": "unsigned", "reason": reason, "accepted_unsigned": True}


def _case_import(path, manifest: dict, owner, stored: list[str], signature: dict) -> Case:
    bundle_sha256, _ = file_sha256(str(path))
    tag = bundle_sha256[:8]
    users: dict = {}
    data = manifest["case"]
    # A fresh working case, whatever the exported case's status was (an export is often the
    # last thing done to a case before it is closed or archived); the bundle's status is kept
    # in the import's activity row.
    case = Case.objects.create(
        title=data["title"][:200],
        summary=data.get("summary", ""),
        status=Case.Status.OPEN,
        created_by=owner,
    )
    Membership.objects.create(case=case, user=owner, role=Role.OWNER, added_by=owner)
    activity_record(
        case=case,
        actor=owner,
        verb=Verb.CASE_IMPORTED,
        target=case,
        data={
            "bundle_sha256": bundle_sha256,
            "from_case": data["id"],
            "status_in_bundle": data.get("status", ""),
            "exported_at": manifest["exported_at"],
            "exported_by": manifest["exported_by"],
            "options": manifest["options"],
            "members": manifest["members"],
            "activity_head": manifest.get("activity", {}).get("head", ""),
            "signature": signature,
            # Deleted evidence travels as its tombstone: the hash and why it went, no file.
            "tombstones": [
                {k: v for k, v in row.items() if k != "custody"}
                for row in manifest.get("deleted_evidence", [])
            ],
        },
    )
    sources = {}
    for row in manifest["sources"]:
        sources[row["id"]] = _saved(
            Source(
                case=case,
                kind=row["kind"],
                name=(row["name"] if row["identity_included"] else "(identity not in the bundle)"),
                protected=row["protected"],
                pseudonym=row["pseudonym"],
                reliability=row["reliability"],
                notes=row["notes"] or "",
                created_by=owner,
            )
        )
    evidence_map = {}
    queue = []
    with bundle_open(path) as bundle:
        for row in manifest["evidence"]:
            evidence, process = _import_evidence(
                bundle, row, case, sources, owner, tag, users, stored
            )
            evidence_map[row["id"]] = evidence
            if process:
                queue.append(evidence.pk)
            activity_record(
                case=case,
                actor=owner,
                verb=Verb.EVIDENCE_IMPORTED,
                target=evidence,
                data={
                    "bundle_sha256": bundle_sha256,
                    "from_id": row["id"],
                    "sha256": row["sha256"],
                    "original_included": bool(row.get("file")),
                    "custody": row.get("custody", []),
                },
            )
    for row in manifest["claims"]:
        claim = _saved(
            Claim(
                case=case,
                statement=row["statement"][:500],
                details=row.get("details", ""),
                status=row["status"],
                confidence=row.get("confidence", ""),
                author=_placeholder_user(row["author"], tag, users) or owner,
                reviewer=_placeholder_user(row.get("reviewer"), tag, users)
                or (owner if row["status"] not in ("draft", "in_review") else None),
                reviewed_at=parse_datetime(row["reviewed_at"]) if row.get("reviewed_at") else None,
                review_note=row.get("review_note", ""),
                occurred_on=parse_date(row["occurred_on"]) if row.get("occurred_on") else None,
            )
        )
        for step in row.get("history", []):
            transition = _saved(
                ClaimTransition(
                    claim=claim,
                    from_status=step["from"],
                    to_status=step["to"],
                    actor=_placeholder_user(step.get("by"), tag, users) or owner,
                    note=step.get("note", ""),
                )
            )
            if step.get("at"):
                ClaimTransition.objects.filter(pk=transition.pk).update(
                    created_at=parse_datetime(step["at"])
                )
        for link in row.get("links", []):
            if link["evidence"] in evidence_map:
                _saved(
                    EvidenceLink(
                        claim=claim,
                        evidence=evidence_map[link["evidence"]],
                        stance=link["stance"],
                        note=link.get("note", ""),
                        created_by=_placeholder_user(link.get("by"), tag, users) or owner,
                    )
                )
        activity_record(
            case=case,
            actor=owner,
            verb=Verb.CLAIM_IMPORTED,
            target=claim,
            data={"from_id": row["id"]},
        )
    search_reindex(case=case)
    case.processing = [enqueue.task_on_commit(enqueue.PHOTO_PROCESS, pk) for pk in queue]
    return case


def _import_evidence(
    bundle, row, case, sources, owner, tag, users, stored
) -> tuple[Evidence, bool]:
    evidence = Evidence(
        case=case,
        kind=row["kind"],
        title=row.get("title", ""),
        description=row.get("description", ""),
        source=sources.get(row.get("source")),
        collected_by=_placeholder_user(row.get("collected_by"), tag, users) or owner,
        observed_at=parse_datetime(row["observed_at"]) if row.get("observed_at") else None,
        stated_on=parse_date(row["stated_on"]) if row.get("stated_on") else None,
        place_name=row.get("place_name", ""),
        latitude=row.get("latitude"),
        longitude=row.get("longitude"),
        url=row.get("url", ""),
        text=row.get("text", ""),
        sensitive=row.get("sensitive", False),
        original_name=row.get("original_name", ""),
        sha256=row.get("sha256", ""),
        size=row.get("size"),
        content_type=row.get("content_type", ""),
    )
    if evidence.latitude is None or evidence.longitude is None:
        evidence.latitude = evidence.longitude = None
    what = f"evidence {row['id']}"
    if row.get("file"):
        limit = bundle.limits.member_bytes
        with bundle.spool(row["file"], limit=limit, what=f"{what}'s original") as (spool, sha):
            # Hashed again on the way: stored under its hash, it must be what was verified.
            if sha != row["sha256"]:
                raise BundleError(f"{what}: its original changed since it was verified")
            name = original_storage_name(sha)
            fresh = not default_storage.exists(name)
            evidence.original.name = original_store(File(spool), sha256=sha)
            if fresh:
                stored.append(name)
    _saved(evidence)
    # Its provenance here: imported by the owner, from its source, under its file name.
    Provenance.objects.create(
        evidence=evidence,
        source=evidence.source,
        received_by=owner,
        received_at=evidence.created_at,
        original_name=evidence.original_name,
    )
    process = False
    photo_row = row.get("photo")
    if evidence.kind == Evidence.Kind.PHOTO:
        photo = Photo(evidence=evidence)
        if evidence.original:
            process = True  # the pipeline derives everything again from the original
        elif photo_row is not None:
            photo.status = Photo.Status.READY if row.get("preview") else Photo.Status.FAILED
            photo.failure_reason = "" if row.get("preview") else "Imported without its original."
            for name in ("width", "height", "phash", "dhash"):
                setattr(photo, name, photo_row.get(name))
            for kind, edge in DERIVATIVE_EDGES.items():
                member = row.get(kind)
                if member:
                    with bundle.spool(
                        member, limit=DERIVATIVE_MAX_BYTES, what=f"{what}'s {kind}"
                    ) as (spool, _):
                        image_check(spool, edge=edge, what=f"{what}'s {kind} {member}")
                        target = f"derivatives/imported/{evidence.pk}/{kind}.jpg"
                        name = default_storage.save(target, File(spool))
                    stored.append(name)
                    setattr(photo, kind, name)
        _saved(photo)
        if photo_row and not process:
            for flag in photo_row.get("flags", []):
                if flag["code"] in PhotoFlag.Code.values:
                    PhotoFlag.objects.get_or_create(
                        photo=photo,
                        code=flag["code"],
                        defaults={"message": flag["message"][:500]},
                    )
    return evidence, process
