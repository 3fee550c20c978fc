"""The bundle's `report.html`, rendered from the manifest alone, and the custody record as
people read it (the report and the custody pages show the same rows). No ORM here."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime

from django.template.loader import get_template
from django.utils.dateparse import parse_date, parse_datetime

from evidence.imaging.flags import LABELS as FLAG_LABELS

# Activity data keys as a reader says them.
DETAIL_LABELS = {
    "original_name": "file name",
    "content_type": "type",
    "near_duplicates": "near-duplicates",
    "derived_from": "derived from",
    "reveal_protected": "identities included",
    "originals_included": "originals included",
    "links_removed": "links removed",
    "original_retained": "original retained",
    "bundle_sha256": "bundle SHA-256",
    "from_id": "id in the bundle",
}
HIDDEN_DETAILS = {"custody", "evidence_list"}


def when_text(value: str | None, *, seconds: bool = False) -> str:
    moment = parse_datetime(value or "")
    if moment is None:
        return value or ""
    return f"{moment.day} " + moment.strftime("%b %Y, %H:%M:%S" if seconds else "%b %Y, %H:%M")


def _detail_text(key: str, value, sources: dict) -> tuple[str, bool]:
    """A value of activity data as a reader wants it, and whether it is a hash (monospace)."""
    if key == "source" and isinstance(value, int):
        return sources.get(value, f"source {value}"), False
    if key == "claim" and isinstance(value, int):
        return f"C{value}", False
    if key in ("evidence", "from_id") and isinstance(value, int):
        return f"E{value}", False
    if key == "size" and isinstance(value, int):
        return f"{value:,} bytes", False
    if isinstance(value, bool):
        return ("yes" if value else "no"), False
    if value in (None, "", [], {}):
        return "none", False
    if isinstance(value, list):
        return ", ".join(str(v) for v in value), False
    if isinstance(value, dict):
        return ", ".join(f"{k} {v}" for k, v in value.items()), False
    text = str(value)
    return text, bool(re.fullmatch(r"[0-9a-f]{64}", text))


def custody_rows(entries: list[dict], *, source_names: dict) -> list[dict]:
    """Custody entries as rows for people: dates in words, ids as names (sources by the name
    the reader may see), hashes marked for monospace."""
    rows = []
    for entry in entries:
        data = entry.get("data") or {}
        details = [
            {"label": DETAIL_LABELS.get(k, k.replace("_", " ")), "text": text, "mono": mono}
            for k, v in data.items()
            if k not in HIDDEN_DETAILS and k != "software"
            for text, mono in [_detail_text(k, v, source_names)]
        ]
        software = data.get("software") or {}
        rows.append(
            {
                "when": when_text(entry.get("at"), seconds=True),
                "event": entry.get("event") or entry.get("verb"),
                "actor": entry.get("actor") or "system",
                "details": details,
                "software": ", ".join(f"{k} {v}" for k, v in software.items() if v),
                "hash": (entry.get("hash") or "")[:10],
                "carried_over": entry.get("carried_over", False),
            }
        )
    return rows


STANCE_HEADINGS = {
    "supports": "Evidence for",
    "contradicts": "Evidence against",
    "context": "Context",
}


def evidence_order(item: dict):
    when = item.get("observed_at") or item.get("stated_on") or "9999"
    return (when[:10], item["id"])


def report_write(
    out,
    manifest: dict,
    *,
    thumbnail: Callable[[int], str | None],
    status_labels: dict[str, str],
) -> None:
    """Write `templates/exports/report.html` into `out` (a binary file) from the manifest alone,
    so that the report says exactly what the bundle holds (the manifest is left untouched).

    The page is rendered one part at a time — its start, each claim, each item of the register and
    of the chain of custody — and `thumbnail(evidence_id)` (base64) is asked for only while the
    part that shows it is rendered: the report of thousands of photos is never in memory whole
    (the largest part is a claim with the thumbnails of the evidence linked to it).
    `status_labels` names each claim status (`Claim.Status`'s labels).
    """
    template = get_template("exports/report.html")
    for context in _report_parts(manifest, thumbnail, status_labels):
        out.write(template.render(context).encode())


def _report_parts(
    manifest: dict, thumbnail: Callable[[int], str | None], status_labels: dict[str, str]
):
    sources = {s["id"]: s["name"] for s in manifest["sources"]}
    evidence = {}
    for item in sorted(manifest["evidence"], key=evidence_order):
        evidence[item["id"]] = {
            **item,
            "observed_text": when_text(item["observed_at"]) if item["observed_at"] else "",
            # A photo's flags in words: what each means, then what it found.
            "flag_words": [
                {"label": FLAG_LABELS.get(f["code"], f["code"].replace("_", " ")), **f}
                for f in ((item.get("photo") or {}).get("flags") or [])
            ],
            "provenance": item.get("provenance") or [],
        }
    claims = [
        {
            **claim,
            "status_label": status_labels.get(claim["status"], claim["status"]),
            "reviewed_text": when_text(claim["reviewed_at"]) if claim["reviewed_at"] else "",
        }
        for claim in manifest["claims"]
    ]
    timeline = []
    for item in evidence.values():
        when = item["observed_at"] or item["stated_on"]
        if when:
            timeline.append(
                {
                    "when": _parse_when(when),
                    "has_time": bool(item["observed_at"]),
                    "kind": item["kind"],
                    "what": item["label"],
                    "place": item["place_name"],
                    "source": item["source_name"],
                    "ref": f"E{item['id']}",
                }
            )
    for claim in claims:
        if claim["occurred_on"]:
            timeline.append(
                {
                    "when": _parse_when(claim["occurred_on"]),
                    "has_time": False,
                    "kind": "claim",
                    "what": claim["statement"],
                    "place": "",
                    "source": "",
                    "ref": f"C{claim['id']}",
                    "status": claim["status"],
                    "status_label": claim["status_label"],
                }
            )
    timeline.sort(key=_timeline_key)
    status_counts = defaultdict(int)
    for claim in manifest["claims"]:
        status_counts[claim["status"]] += 1
    deleted = [
        {
            **row,
            "deleted_text": when_text(row["deleted_at"]),
            "purged_text": when_text(row["purged_at"]) if row["purged_at"] else "",
        }
        for row in manifest["deleted_evidence"]
    ]
    page = {
        "m": manifest,
        "case": manifest["case"],
        "created_text": when_text(manifest["case"]["created_at"]),
        "claims": claims,
        "evidence": list(evidence.values()),
        "source_list": manifest["sources"],
        "timeline": timeline,
        "exported_at": _parse_when(manifest["exported_at"]),
        "status_counts": dict(status_counts),
        "deleted": deleted,
        "activity": manifest["activity"],
    }

    def with_thumbnail(item: dict) -> dict:
        return {**item, "thumbnail_data": thumbnail(item["id"])}

    yield {**page, "part": "start"}
    for claim in claims:
        groups = []
        for stance, heading in STANCE_HEADINGS.items():
            rows = [
                {"link": link, "evidence": with_thumbnail(evidence[link["evidence"]])}
                for link in claim["links"]
                if link["stance"] == stance and link["evidence"] in evidence
            ]
            groups.append({"stance": stance, "heading": heading, "rows": rows})
        history = [
            {
                **step,
                "when": when_text(step["at"]),
                "from_label": status_labels.get(step["from"], step["from"]),
                "to_label": status_labels.get(step["to"], step["to"]),
            }
            for step in claim["history"]
        ]
        yield {"part": "claim", "claim": {**claim, "groups": groups, "history": history}}
    yield {**page, "part": "middle"}
    for item in page["evidence"]:
        yield {"part": "register_row", "e": with_thumbnail(item)}
    yield {"part": "custody_start"}
    for item in page["evidence"]:
        rows = custody_rows(item["custody"], source_names=sources)
        yield {"part": "custody_item", "e": {**with_thumbnail(item), "custody_rows": rows}}
    yield {**page, "part": "end"}


def _timeline_key(entry: dict):
    when = entry["when"]
    if isinstance(when, datetime):
        return (when.date(), when.time().isoformat(), entry["ref"])
    return (when, "", entry["ref"])


def _parse_when(value: str):
    return parse_datetime(value) or parse_date(value) or value
