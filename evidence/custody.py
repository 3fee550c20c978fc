"""Chain of custody: what happened to each piece of evidence, deletion with a tombstone, the
owners' purge of a deleted original, reveals of protected identities, and the check that no
original and no row of the activity record was altered.

The custody record itself is not a table of its own: it is the case's activity record (append
only, each row chained to the previous one by its hash), read per item by
`evidence.selectors.custody_of`. So one check (`activity_chain_problems`) vouches for both.
"""

from __future__ import annotations

from cases.activity import (
    checkpoint_entries,
    disclose,
    secrets_of,
)
from cases.models import ActivityCheckpoint, TrustedTimestamp
from cases.timestamps import NO_TIMESTAMP
from evidence.models import Evidence
from evidence.reader import Reader
from evidence.selectors import REVEAL_VERB, custody_of

# --- Reading the record ---------------------------------------------------------------------------

# What each verb means in a custody record, for people.
EVENT_LABELS = {
    "evidence.received": "Received",
    "evidence.added": "Recorded",
    "evidence.uploaded_again": "Same file uploaded again",
    "evidence.updated": "Details edited",
    "photo.processed": "Processed",
    "photo.failed": "Processing failed",
    "photo.hashed": "Near-duplicate hashes added",
    "photo.reprocess_requested": "Processing requested again",
    "evidence.original_viewed": "Original viewed",
    "evidence.original_downloaded": "Original downloaded",
    REVEAL_VERB: "Protected identity of its source revealed",
    "evidence.capture_requested": "Capture of the page requested",
    "evidence.captured": "Page captured",
    "evidence.capture_failed": "Page capture fell short",
    "link.created": "Linked to a claim",
    "link.updated": "Link changed",
    "link.removed": "Link removed",
    "comment.created": "Comment added",
    "comment.edited": "Comment edited",
    "case.exported": "Exported in a case bundle",
    "evidence.deleted": "Deleted (tombstone kept)",
    "evidence.purged": "Original purged",
    "evidence.imported": "Imported from a case bundle",
}


def event_label(verb: str) -> str:
    return EVENT_LABELS.get(verb, verb.replace(".", " ").replace("_", " ").capitalize())


def carried_entry(earlier) -> dict:
    """An event of a custody record carried over from another newsroom's bundle, in the shape
    of every entry, whatever was stored: imports since issue 13 refuse an entry out of shape,
    but rows imported before may hold one, and a record must still be shown."""
    earlier = earlier if isinstance(earlier, dict) else {}

    def text(key: str) -> str:
        value = earlier.get(key)
        return value if isinstance(value, str) else ""

    verb = text("verb")
    actor = earlier.get("actor")
    data = earlier.get("data")
    return {
        "id": earlier.get("id") if type(earlier.get("id")) is int else None,
        "at": text("at"),
        "actor": actor if isinstance(actor, str) else None,
        "verb": verb,
        "event": text("event") or (event_label(verb) if verb else "(an unreadable entry)"),
        "target": text("target"),
        "data": data if isinstance(data, dict) else {},
        "prev_hash": text("prev_hash"),
        "hash": text("hash"),
        "carried_over": True,
    }


def custody_entries(*, evidence: Evidence, reader: Reader, exports=None) -> list[dict]:
    """The custody record of `evidence` as plain data, oldest first, for the API, the pages
    and the export, as `reader` may see it: the places of a protected source's evidence are
    left out of the events' data below editor.

    A record carried over from another newsroom's bundle (`evidence.imported`) is unfolded in
    place: its events come first, marked `carried_over`, then the import itself.
    """
    hide = not reader.shows_place(evidence)
    entries = []
    rows = list(custody_of(evidence=evidence, exports=exports))
    secrets = secrets_of(rows)
    for row in rows:
        # What the row commits to (the item's place, its source's name) is put back only for
        # a reader who may see it.
        _, data = disclose(
            target_type=row.target_type,
            target_label=row.target_label,
            data=row.data or {},
            secrets=secrets.get(row.pk, {}),
            allowed=not hide,
        )
        carried = data.pop("custody", None) if row.verb == "evidence.imported" else None
        if row.verb == "case.exported":
            # The bundle's list of every exported item says nothing about this one.
            data.pop("evidence", None)
        if not isinstance(carried, list):
            carried = []
        entries.extend(carried_entry(earlier) for earlier in carried)
        entries.append(
            {
                "id": row.pk,
                "at": row.created_at.isoformat(),
                "actor": row.actor.username if row.actor_id else None,
                "verb": row.verb,
                "event": event_label(row.verb),
                "target": f"{row.target_type}:{row.target_id}" if row.target_type else "",
                "data": data,
                "prev_hash": row.prev_hash,
                "hash": row.hash,
                "carried_over": False,
            }
        )
    return entries


# How many of the case's latest checkpoints a custody record shows.
CHECKPOINTS_SHOWN = 10


def custody_checkpoints(*, evidence: Evidence, entries: list[dict]) -> list[dict]:
    """The latest signed checkpoints of the item's case, newest first, as plain data
    (`checkpoint_entry`), each saying whether it vouches for the item's newest event (its head is
    that row or a later one). A checkpoint holds counts and hashes only: nothing in it needs
    hiding from any member."""
    own = [e["id"] for e in entries if not e["carried_over"] and e.get("id") is not None]
    newest = max(own, default=None)
    latest = list(
        ActivityCheckpoint.objects.filter(case_id=evidence.case_id).order_by("-id")[
            :CHECKPOINTS_SHOWN
        ]
    )
    stamps = {
        s.object_id: s
        for s in TrustedTimestamp.objects.filter(
            subject=TrustedTimestamp.Subject.CHECKPOINT, object_id__in=[c.pk for c in latest]
        )
    }
    shown = []
    for checkpoint, entry in zip(latest, checkpoint_entries(latest), strict=True):
        entry["covers_latest_event"] = (
            newest is not None and checkpoint.head_id is not None and checkpoint.head_id >= newest
        )
        entry["trusted_timestamp"] = timestamp_shown(stamps.get(checkpoint.pk))
        shown.append(entry)
    return shown


def timestamp_shown(stamp: TrustedTimestamp | None) -> dict | None:
    """A stored RFC 3161 token as a custody record shows it: the TSA that signed it, the time
    it vouches for and its serial number (None: no trusted timestamp). Nothing of a source: a
    token is over a SHA-256 only."""
    if stamp is None:
        return None
    return {"tsa": stamp.tsa, "at": stamp.generated_at.isoformat(), "serial": stamp.serial}


def custody_timestamp(*, evidence: Evidence) -> dict:
    """The trusted timestamp of an item's original at ingest, as the custody record shows it:
    `timestamp` (see `timestamp_shown`) and `text` ("no trusted timestamp" without one)."""
    stamp = TrustedTimestamp.objects.filter(
        subject=TrustedTimestamp.Subject.EVIDENCE, object_id=evidence.pk
    ).first()
    shown = timestamp_shown(stamp)
    if shown is None:
        text = NO_TIMESTAMP if evidence.sha256 else "no file to timestamp"
    else:
        text = f"timestamped by {shown['tsa']} at {shown['at']} (serial {shown['serial']})"
    return {"timestamp": shown, "text": text}
