"""The activity record: what a row holds, how rows chain, and the one check of a chain.

Every change in a case appends a row chained to the row before it by SHA-256. A row never holds
an identity in the clear. What could identify a source (its name, its notes) or the exact place
of a piece of evidence (coordinates, the stated place) is committed instead: the row's chained
content carries `{"$c": sha256(salt:value)}` (its label `$c:<sha256>`), and the salt and the
value live apart, in `ActivitySecret`. A reader who may see the value is shown it, and can check
it against the commitment; a reader who may not is shown neither, yet every row of the chain
still verifies, because the chain is computed over the commitments (see `chain_problems`).

Commitments are made whatever the source's protection is when the row is written: a source
protected later keeps its earlier names out of every redacted copy of the record.

Lock order. Every transaction that writes in a case (both doors, the workers, the commands)
takes its row locks in this one order, so that on PostgreSQL two writers wait for each other
instead of deadlocking:

1. claims, by id (`cases.services.claims_lock`; `claim_review` and `claim_reopen` lock one);
2. the one item the change is about: an evidence item, its photo, an export, memberships —
   that row alone (`select_for_update(of=("self",))`, no default ordering that joins others);
3. last, the case's chain (`activity_record`, FOR NO KEY UPDATE of the case row).

A lock is never taken on a row of an earlier step after a later one, and never through a join:
`select_for_update().first()` orders by the model's default ordering, which may join (and so
lock) the case row ahead of its turn — use `.get()`, `.order_by()` or `of=("self",)`.
"""

import base64
import binascii
import hashlib
import json
import secrets
from collections.abc import Iterable, Iterator
from datetime import datetime
from enum import StrEnum

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import F, Model, OuterRef, Q, Subquery
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from cases import signing, timestamps
from cases.models import Activity, ActivityCheckpoint, ActivitySecret, Case, TrustedTimestamp


class Verb(StrEnum):
    """Every verb of the activity record: what happened to the row's target."""

    CASE_CREATED = "case.created"
    CASE_EXPORTED = "case.exported"
    # What the webhooks' deliveries write (evidence.webhooks).
    WEBHOOK_CREATED = "webhook.created"
    WEBHOOK_DELETED = "webhook.deleted"
    WEBHOOK_DISABLED = "webhook.disabled"
    CASE_BULK_IMPORTED = "case.bulk_imported"
    CASE_IMPORTED = "case.imported"
    CASE_UPDATED = "case.updated"
    CLAIM_ASSIGNED = "claim.assigned"
    CLAIM_CREATED = "claim.created"
    CLAIM_IMPORTED = "claim.imported"
    CLAIM_REOPENED = "claim.reopened"
    CLAIM_REVIEWED = "claim.reviewed"
    CLAIM_SUBMITTED = "claim.submitted"
    CLAIM_UPDATED = "claim.updated"
    COMMENT_CREATED = "comment.created"
    COMMENT_EDITED = "comment.edited"
    EVIDENCE_ADDED = "evidence.added"
    EVIDENCE_ASSIGNED = "evidence.assigned"
    EVIDENCE_DELETED = "evidence.deleted"
    EVIDENCE_IMPORTED = "evidence.imported"
    EVIDENCE_ORIGINAL_DOWNLOADED = "evidence.original_downloaded"
    EVIDENCE_ORIGINAL_VIEWED = "evidence.original_viewed"
    EVIDENCE_PURGED = "evidence.purged"
    EVIDENCE_RECEIVED = "evidence.received"
    EVIDENCE_UPDATED = "evidence.updated"
    EVIDENCE_UPLOADED_AGAIN = "evidence.uploaded_again"
    EXPORT_DOWNLOADED = "export.downloaded"
    EXPORT_EXPIRED = "export.expired"
    EXPORT_FAILED = "export.failed"
    EXPORT_REQUESTED = "export.requested"
    EVIDENCE_CAPTURED = "evidence.captured"
    EVIDENCE_CAPTURE_FAILED = "evidence.capture_failed"
    EVIDENCE_CAPTURE_REQUESTED = "evidence.capture_requested"
    LINK_CREATED = "link.created"
    LINK_REMOVED = "link.removed"
    LINK_UPDATED = "link.updated"
    MEMBER_ADDED = "member.added"
    MEMBER_REMOVED = "member.removed"
    MEMBER_ROLE_CHANGED = "member.role_changed"
    PHOTO_FAILED = "photo.failed"
    # Near-duplicate hashes computed afterwards for a photo processed before they existed.
    PHOTO_HASHED = "photo.hashed"
    PHOTO_PROCESSED = "photo.processed"
    PHOTO_REPROCESS_REQUESTED = "photo.reprocess_requested"
    SOURCE_CREATED = "source.created"
    TEXT_READ = "text.read"
    SOURCE_REVEALED = "source.revealed"
    SOURCE_UPDATED = "source.updated"
    VIDEO_FAILED = "video.failed"
    VIDEO_PROCESSED = "video.processed"
    VIDEO_REPROCESS_REQUESTED = "video.reprocess_requested"


# Keys of a row's data whose values are committed, by the kind of the row's target. Evidence:
# its exact place (stated, and read from the file). Sources: who they are.
LOCATION_KEYS = frozenset(
    {"latitude", "longitude", "gps_latitude", "gps_longitude", "gps_altitude", "gps"}
    # The place a photo's IPTC/XMP names (evidence.reader.PHOTO_PLACE_FIELDS).
    | {"city", "sublocation", "country"}
)
COMMITTED_KEYS = {
    "evidence": LOCATION_KEYS | {"place_name"},
    "source": frozenset({"name", "notes"}),
}
# Targets whose label (`str(target)`) is committed: a source's label is its name until it is
# protected.
COMMITTED_LABELS = frozenset({"source"})
LABEL_PATH = "label"
LABEL_PREFIX = "$c:"


def commitment(salt: str, value) -> str:
    """The SHA-256 that binds `value` to a row without showing it."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(f"{salt}:{text}".encode()).hexdigest()


def is_commitment(value) -> bool:
    return isinstance(value, dict) and set(value) == {"$c"}


def commit(*, target_type: str, target_label: str, data) -> tuple[str, object, dict]:
    """The row's label and data as they are chained, and the secrets `{path: (salt, value)}`
    they commit to (paths: `label`, or a JSON pointer into the data such as `/values/name`)."""
    keys = COMMITTED_KEYS.get(target_type, frozenset())
    found = {}

    def walk(value, path):
        if isinstance(value, dict):
            out = {}
            for key, item in value.items():
                here = f"{path}/{_escape(key)}"
                if key in keys and item not in (None, "") and not is_commitment(item):
                    salt = secrets.token_hex(16)
                    found[here] = (salt, item)
                    out[key] = {"$c": commitment(salt, item)}
                else:
                    out[key] = walk(item, here)
            return out
        if isinstance(value, list):
            return [walk(item, f"{path}/{i}") for i, item in enumerate(value)]
        return value

    chained = walk(data, "")
    if target_type in COMMITTED_LABELS and target_label and not is_label_commitment(target_label):
        salt = secrets.token_hex(16)
        found[LABEL_PATH] = (salt, target_label)
        target_label = LABEL_PREFIX + commitment(salt, target_label)
    return target_label, chained, found


def is_label_commitment(label: str) -> bool:
    return label.startswith(LABEL_PREFIX)


def disclose(
    *, target_type: str, target_label: str, data, secrets: dict, allowed: bool
) -> tuple[str | None, object]:
    """A row's label and data as a reader sees them: the committed values put back when
    `allowed`, left out when not (a withheld label is None: the caller names the target).
    Not allowed, a value at a committed key is left out even if a row holds it in the clear
    (a row carried over from elsewhere)."""
    keys = COMMITTED_KEYS.get(target_type, frozenset())

    def walk(value, path):
        if isinstance(value, dict):
            out = {}
            for key, item in value.items():
                here = f"{path}/{_escape(key)}"
                if is_commitment(item):
                    if allowed and here in secrets:
                        out[key] = secrets[here][1]
                elif allowed or key not in keys:
                    out[key] = walk(item, here)
            return out
        if isinstance(value, list):
            return [walk(item, f"{path}/{i}") for i, item in enumerate(value)]
        return value

    label = target_label
    if is_label_commitment(target_label):
        label = secrets[LABEL_PATH][1] if allowed and LABEL_PATH in secrets else None
    elif not allowed and target_type in COMMITTED_LABELS:
        label = None
    return label, walk(data, "")


def _escape(key: str) -> str:
    return str(key).replace("~", "~0").replace("/", "~1")


def _at(data, path: str):
    """The value at a JSON pointer, or None."""
    for part in path.split("/")[1:]:
        part = part.replace("~1", "/").replace("~0", "~")
        if isinstance(data, dict):
            data = data.get(part)
        elif isinstance(data, list) and part.isdigit() and int(part) < len(data):
            data = data[int(part)]
        else:
            return None
    return data


# --- Writing ----------------------------------------------------------------------------------


def activity_digest(
    *,
    case_id: int,
    actor_id: int | None,
    verb: str,
    target_type: str,
    target_id: int | None,
    target_label: str,
    data,
    created_at: datetime,
    prev_hash: str,
) -> str:
    """The SHA-256 of one row's chained content (commitments, not the values they hide) and
    the hash of the row before it."""
    payload = json.dumps(
        {
            "case": case_id,
            "actor": actor_id,
            "verb": verb,
            "target_type": target_type,
            "target_id": target_id,
            "target_label": target_label,
            "data": data,
            "created_at": created_at.isoformat(),
            "prev": prev_hash,
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def activity_record(
    *, case: Case, actor, verb: str, target: Model | None = None, data: dict | None = None
) -> Activity:
    """Append one row to the case's activity record, chained to the row before it."""
    return activity_record_many(case=case, actor=actor, verb=verb, targets=[target], data=data)[0]


def activity_record_many(
    *, case: Case, actor, verb: str, targets: list[Model | None], data: dict | None = None
) -> list[Activity]:
    """Append one chained row per target, in a constant number of queries (a page that shows
    fifty protected identities records fifty reveals without fifty round trips). `verb` is one
    of `Verb` (a ValueError otherwise)."""
    verb = Verb(verb)
    # Serialise appends per case, so that two writers cannot chain to the same previous row.
    # This is the last lock of the lock order (module docstring). FOR NO KEY UPDATE, not FOR
    # UPDATE: a row inserted just before that points at the case (a comment, a link) holds FOR
    # KEY SHARE on it, which FOR UPDATE would wait for — two such writers deadlocked upgrading.
    Case.objects.select_for_update(no_key=True).filter(pk=case.pk).order_by().values_list(
        "pk"
    ).first()
    prev_hash = (
        Activity.objects.filter(case=case).order_by("-id").values_list("hash", flat=True).first()
        or ""
    )
    clean_data = json.loads(json.dumps(data or {}, cls=DjangoJSONEncoder))
    created_at = timezone.now()
    rows, hidden = [], []
    for target in targets:
        target_type = target._meta.model_name if target is not None else ""
        label, chained, found = commit(
            target_type=target_type,
            target_label=str(target)[:300] if target is not None else "",
            data=clean_data,
        )
        fields = {
            "case_id": case.pk,
            "actor_id": actor.pk if actor is not None else None,
            "verb": verb.value,
            "target_type": target_type,
            "target_id": target.pk if target is not None else None,
            "target_label": label,
            "data": chained,
            "created_at": created_at,
            "prev_hash": prev_hash,
        }
        prev_hash = activity_digest(**fields)
        rows.append(Activity(hash=prev_hash, **fields))
        hidden.append(found)
    # One insert keeps the rows' ids in the order of their chain.
    rows = Activity.objects.bulk_create(rows)
    ActivitySecret.objects.bulk_create(
        ActivitySecret(activity=row, path=path, salt=salt, value=value)
        for row, found in zip(rows, hidden, strict=True)
        for path, (salt, value) in found.items()
    )
    for listener in RECORDED:
        listener(case=case, rows=rows)
    return rows


# What else happens, in the same transaction, when rows are appended: the one place every
# change of every door passes through. `cases` imports no other app, so the apps that need to
# hear of rows (evidence.webhooks: an event for each case's webhooks) register a function
# `listener(*, case, rows)` here from their AppConfig.ready(). Explicit and synchronous: a
# listener writes rows in the caller's transaction (and queues work on its commit).
RECORDED: list = []


def activity_listen(listener) -> None:
    """Call `listener(case=…, rows=[…])` after every append (once per listener)."""
    if listener not in RECORDED:
        RECORDED.append(listener)


# --- Reading ----------------------------------------------------------------------------------


def secrets_of(rows: Iterable[Activity]) -> dict[int, dict]:
    """`{activity id: {path: (salt, value)}}` for the rows, in one query."""
    found = {}
    ids = [row.pk for row in rows]
    for secret in ActivitySecret.objects.filter(activity_id__in=ids).order_by("id"):
        found.setdefault(secret.activity_id, {})[secret.path] = (secret.salt, secret.value)
    return found


def chain_entry(row: Activity, *, disclosed: dict | None = None) -> dict:
    """One row as plain data, as chained (what an export carries): `disclosed` adds the
    values (with their salts) the reader may see, so that they can be checked."""
    entry = {
        "id": row.pk,
        "case": row.case_id,
        "actor_id": row.actor_id,
        "verb": row.verb,
        "target_type": row.target_type,
        "target_id": row.target_id,
        "target_label": row.target_label,
        "data": row.data,
        "created_at": row.created_at.isoformat(),
        "prev_hash": row.prev_hash,
        "hash": row.hash,
    }
    if disclosed:
        entry["disclosed"] = {
            path: {"salt": salt, "value": value} for path, (salt, value) in disclosed.items()
        }
    return entry


# --- The check --------------------------------------------------------------------------------


def chain_problems(chain: Iterable[dict]) -> list[str]:
    """Recompute a chain given as plain data (`chain_entry`'s form, from the database or from
    an export's manifest): a sentence for every row that does not hold. Every row is checked,
    whatever it withholds, and every disclosed value against its commitment."""
    problems = []
    prev = ""
    # The last row whose link did not hold: (row, the hash it should have chained to, its
    # problem's index), so that a swapped pair is named as one.
    unlinked = None
    for row in chain:
        if not isinstance(row, dict):
            problems.append("activity: a row of the chain is not an object")
            continue
        name = f"activity {row.get('id')}"
        if row.get("prev_hash") != prev:
            first = unlinked[0] if unlinked else None
            if (
                first is not None
                and first.get("hash") == prev
                and row.get("prev_hash") == unlinked[1]
                and first.get("prev_hash") == row.get("hash")
            ):
                problems[unlinked[2]] = (
                    f"activity {first.get('id')} and activity {row.get('id')}: reordered, "
                    "each stands where the other was written"
                )
                unlinked = None
                # What the row after the pair chains to, in the order they were written.
                prev = first.get("hash", "")
                continue
            unlinked = (row, prev, len(problems))
            problems.append(f"{name}: the row before it was changed or removed")
        else:
            unlinked = None
        created = row.get("created_at")
        created = parse_datetime(created) if isinstance(created, str) else None
        try:
            expected = activity_digest(
                case_id=row.get("case"),
                actor_id=row.get("actor_id"),
                verb=row.get("verb", ""),
                target_type=row.get("target_type", ""),
                target_id=row.get("target_id"),
                target_label=row.get("target_label", ""),
                data=row.get("data"),
                created_at=created,
                prev_hash=row.get("prev_hash", ""),
            )
        except (AttributeError, TypeError, ValueError):
            expected = None
        if created is None or expected != row.get("hash"):
            problems.append(f"{name} ({row.get('verb')}): its content was changed")
        disclosed = row.get("disclosed") or {}
        if not isinstance(disclosed, dict):
            disclosed = {"?": disclosed}
        for path, secret in disclosed.items():
            if path == LABEL_PATH:
                label = row.get("target_label") or ""
                committed = label[len(LABEL_PREFIX) :] if is_label_commitment(label) else None
            else:
                committed = _at(row.get("data"), path)
                committed = committed.get("$c") if is_commitment(committed) else None
            ok = (
                isinstance(secret, dict)
                and isinstance(secret.get("salt"), str)
                and committed is not None
                and commitment(secret["salt"], secret.get("value")) == committed
            )
            if not ok:
                problems.append(f"{name} ({row.get('verb')}): its {path} is not what it committed")
        prev = row.get("hash", "")
    return problems


def activity_chain_problems(*, case: Case) -> list[str]:
    """Check the case's chain in the database, every secret against its commitment, and the
    chain against every signed checkpoint of the case (`checkpoint_problems`)."""
    checkpoints = checkpoint_entries(case.checkpoints.order_by("id"))
    heads = ChainHeads(
        _entries(Activity.objects.filter(case=case).order_by("id")),
        positions={c["rows"] for c in checkpoints},
    )
    problems = chain_problems(heads)
    return problems + checkpoint_problems(checkpoints, heads=heads, key=signing.public_key())


def redacted_rows(chain: Iterable[dict]) -> int:
    """How many rows of a chain (as an export carries it) commit to a value they do not
    disclose: rows that verify by their commitments alone."""
    count = 0
    for row in chain:
        if not isinstance(row, dict):
            continue
        disclosed = row.get("disclosed") if isinstance(row.get("disclosed"), dict) else {}
        label = row.get("target_label") or ""
        hidden = (
            isinstance(label, str) and is_label_commitment(label) and LABEL_PATH not in disclosed
        )
        if hidden or any(path not in disclosed for path in _commitment_paths(row.get("data"))):
            count += 1
    return count


def _commitment_paths(value, path: str = "") -> Iterator[str]:
    if is_commitment(value):
        yield path
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _commitment_paths(item, f"{path}/{_escape(key)}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _commitment_paths(item, f"{path}/{i}")


# --- Checkpoints ------------------------------------------------------------------------------

CHECKPOINT_FORMAT = "casefile-checkpoint"


def checkpoint_statement(entry: dict) -> bytes:
    """The exact bytes a checkpoint's signature covers, from its plain form (`checkpoint_entry`):
    compact JSON with sorted keys, UTF-8."""
    statement = {
        "format": CHECKPOINT_FORMAT,
        "version": 1,
        "case": entry.get("case"),
        "rows": entry.get("rows"),
        "head": entry.get("head"),
        "head_id": entry.get("head_id"),
        "at": entry.get("at"),
        "key": entry.get("key"),
    }
    return json.dumps(statement, sort_keys=True, separators=(",", ":")).encode()


def checkpoint_entries(checkpoints) -> list[dict]:
    """`checkpoint_entry` of each checkpoint, with its trusted timestamp (one query for all)."""
    checkpoints = list(checkpoints)
    tokens = dict(
        TrustedTimestamp.objects.filter(
            subject=TrustedTimestamp.Subject.CHECKPOINT,
            object_id__in=[c.pk for c in checkpoints],
        ).values_list("object_id", "token")
    )
    return [checkpoint_entry(c, token=tokens.get(c.pk)) for c in checkpoints]


def checkpoint_entry(checkpoint: ActivityCheckpoint, *, token: bytes | None = None) -> dict:
    """A checkpoint as plain data (what an export carries and the custody record shows).
    `timestamp` is its RFC 3161 token (base64 of the TSA's DER reply, over the SHA-256 of the
    raw signature) when it has one (`token`: see `checkpoint_entries`)."""
    return {
        "id": checkpoint.pk,
        "case": checkpoint.case_id,
        "rows": checkpoint.rows,
        "head": checkpoint.head,
        "head_id": checkpoint.head_id,
        "at": checkpoint.created_at.isoformat(),
        "reason": checkpoint.reason,
        "key": checkpoint.key_fingerprint,
        "signature": checkpoint.signature,
        "timestamp": base64.b64encode(bytes(token)).decode() if token else None,
    }


def checkpoint_write(*, case: Case, reason: str) -> ActivityCheckpoint:
    """Sign and store the case's chain head as it stands (`ActivityCheckpoint`)."""
    key = signing.signing_key()
    with transaction.atomic():
        # The same lock as appending a row: the head cannot move while it is signed.
        Case.objects.select_for_update().filter(pk=case.pk).values_list("pk").first()
        rows = Activity.objects.filter(case=case)
        last = rows.order_by("-id").values("id", "hash").first() or {"id": None, "hash": ""}
        checkpoint = ActivityCheckpoint(
            case=case,
            rows=rows.count(),
            head=last["hash"],
            head_id=last["id"],
            created_at=timezone.now(),
            reason=ActivityCheckpoint.Reason(reason),
            key_fingerprint=signing.fingerprint(key.public_key()),
        )
        statement = checkpoint_statement(checkpoint_entry(checkpoint))
        checkpoint.signature = base64.b64encode(key.sign(statement)).decode()
        checkpoint.save()
    return checkpoint


def checkpoint_digest(entry: dict) -> bytes | None:
    """What a checkpoint's trusted timestamp is over: the SHA-256 of its raw signature (None if
    the signature is not base64)."""
    try:
        return timestamps.sha256(base64.b64decode(str(entry.get("signature")), validate=True))
    except (binascii.Error, ValueError):
        return None


def checkpoints_write_due() -> list[int]:
    """Checkpoint every case whose chain grew since its latest checkpoint (or that has none);
    return the new checkpoints' ids. Run by Celery beat (`checkpoints_write_task`); safe to run
    twice (the second run finds nothing new)."""
    latest = ActivityCheckpoint.objects.filter(case=OuterRef("pk")).order_by("-id")
    newest_row = Activity.objects.filter(case=OuterRef("pk")).order_by("-id")
    due = (
        Case.objects.annotate(
            checkpointed=Subquery(latest.values("head")[:1]),
            head=Subquery(newest_row.values("hash")[:1]),
        )
        .filter(head__isnull=False)
        .filter(Q(checkpointed__isnull=True) | ~Q(checkpointed=F("head")))
        .order_by("pk")
    )
    return [checkpoint_write(case=case, reason="schedule").pk for case in due]


class ChainHeads:
    """A chain passed through as it is read, noting its length and the id and hash of the
    rows at `positions` (1-based; what checkpoints are compared with), without holding it."""

    def __init__(self, chain: Iterable[dict], *, positions: set[int]):
        self.chain = chain
        self.positions = positions
        self.rows = 0
        self.at: dict[int, tuple] = {}

    def __iter__(self):
        for row in self.chain:
            self.rows += 1
            if isinstance(row, dict) and self.rows in self.positions:
                self.at[self.rows] = (row.get("id"), row.get("hash"))
            yield row


def checkpoint_timestamp_problems(entry: dict, *, roots=None) -> list[str]:
    """Why a checkpoint's trusted timestamp (if it has one) does not hold: a token that is not
    over its signature, not signed by a TSA chaining to `roots` (`timestamps.token_problems`),
    or dated before the checkpoint itself."""
    token = entry.get("timestamp")
    if token is None:
        return []
    name = f"checkpoint of {entry.get('at')}"
    digest = checkpoint_digest(entry)
    try:
        data = base64.b64decode(str(token), validate=True)
    except (binascii.Error, ValueError):
        return [f"{name}: its trusted timestamp is not base64"]
    if digest is None:
        return [f"{name}: its trusted timestamp covers no readable signature"]
    found = timestamps.token_problems(data, digest=digest, roots=roots)
    if found:
        return [f"{name}: its trusted timestamp does not hold: {found[0]}"]
    at = parse_datetime(str(entry.get("at")))
    stamped = timestamps.token_read(data).at
    # The TSA's clock and ours: a token cannot predate what it stamps by more than a minute.
    if at is not None and (at - stamped).total_seconds() > 60:
        return [f"{name}: its trusted timestamp ({stamped.isoformat()}) predates it"]
    return []


def checkpoint_problems(
    checkpoints: Iterable[dict], *, heads: ChainHeads, key: Ed25519PublicKey, tsa_roots=None
) -> list[str]:
    """Compare a chain (already read through `heads`) with signed checkpoints: a sentence for
    every checkpoint that is not signed by `key`, and for every one the chain no longer
    matches (its tail deleted, or a row at or before the checkpoint's head rewritten, removed
    or reordered — even with every later hash recomputed); and for every trusted timestamp of
    a checkpoint that does not hold (`checkpoint_timestamp_problems`, against `tsa_roots`)."""
    problems = []
    ours = signing.fingerprint(key)
    for entry in checkpoints:
        if not isinstance(entry, dict):
            problems.append("checkpoint: a checkpoint is not an object")
            continue
        name = f"checkpoint of {entry.get('at')}"
        if entry.get("key") != ours:
            problems.append(f"{name}: signed by key {entry.get('key')}, not by key {ours}")
            continue
        try:
            signature = base64.b64decode(str(entry.get("signature")), validate=True)
        except (binascii.Error, ValueError):
            signature = b""
        if not signing.signature_valid(key, signature, checkpoint_statement(entry)):
            problems.append(f"{name}: its signature does not verify (the checkpoint was altered)")
            continue
        problems.extend(checkpoint_timestamp_problems(entry, roots=tsa_roots))
        rows = entry.get("rows")
        if not isinstance(rows, int) or rows < 0:
            problems.append(f"{name}: its row count is not a count")
            continue
        if rows == 0:
            continue
        if heads.rows < rows:
            problems.append(
                f"{name}: the chain's tail was deleted: the checkpoint signed {rows} rows "
                f"ending with activity {entry.get('head_id')}, the chain has {heads.rows}"
            )
        elif heads.at.get(rows, (None, None))[1] != entry.get("head"):
            found = heads.at.get(rows, (None, None))[0]
            problems.append(
                f"{name}: row {rows} of the chain (activity {found}) is not the row it signed "
                f"(activity {entry.get('head_id')}): a row at or before it was rewritten, "
                "removed or reordered"
            )
    return problems


def _entries(rows, size: int = 2000):
    batch = []
    for row in rows.iterator(chunk_size=size):
        batch.append(row)
        if len(batch) == size:
            yield from _with_secrets(batch)
            batch = []
    yield from _with_secrets(batch)


def _with_secrets(batch: list[Activity]):
    found = secrets_of(batch)
    for row in batch:
        yield chain_entry(row, disclosed=found.get(row.pk))
