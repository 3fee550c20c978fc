"""How many independent lines of evidence and sources stand behind each side of a claim.

A read with rules (a selector), rendered for one reader: source names go through the
`evidence.reader.Reader`, so a protected source is its pseudonym below editor, in the summary
and in its warnings alike.

The rules:
- Only supporting and contradicting links count (context does not), of items not deleted.
- **Lines of evidence.** Items that are the same media count once: the same bytes are one item
  already (a second source sending them is a second provenance of it, `Provenance`); photos
  that are near-duplicates of each other (a `PhotoMatch`, evidence/similarity.py) and web links
  to the same address join one line, transitively. Each line names every source behind it:
  its items' sources and every provenance's.
- **Independent sources.** Sources that stand behind the same line (the same photo from two
  sources) are not independent of each other: they count once together. So the number of
  independent sources on a side is the number of groups of sources joined by sharing a line.
  A line with no source counts as a line, not as a source.
"""

from __future__ import annotations

from collections.abc import Iterable

from cases.models import Claim
from evidence.models import Evidence, EvidenceLink, PhotoFlag, PhotoMatch, Provenance
from evidence.reader import Reader

SIDES = (EvidenceLink.Stance.SUPPORTS, EvidenceLink.Stance.CONTRADICTS)
# How a side is named in a warning.
SIDE_WORDS = {
    EvidenceLink.Stance.SUPPORTS: ("supporting", "support"),
    EvidenceLink.Stance.CONTRADICTS: ("contradicting", "contradiction"),
}
# Why items share a line.
SAME_FILE = "same_file"
NEAR_DUPLICATE = "near_duplicate"
SAME_ADDRESS = "same_address"
FLAG_WORDS = dict(PhotoFlag.Code.choices)


class _Groups:
    """Union-find over hashable keys."""

    def __init__(self):
        self.parent: dict = {}

    def add(self, key) -> None:
        self.parent.setdefault(key, key)

    def find(self, key):
        self.add(key)
        while self.parent[key] != key:
            self.parent[key] = self.parent[self.parent[key]]
            key = self.parent[key]
        return key

    def join(self, a, b) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)

    def groups(self, keys: Iterable) -> list[list]:
        out: dict = {}
        for key in keys:
            out.setdefault(self.find(key), []).append(key)
        return list(out.values())


def _plural(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"


# What is read of each link (the names of `api.serializers.LINK_COLUMNS`, so that a caller
# holding those rows already passes them in).
LINK_COLUMNS = (
    "claim",
    "stance",
    "evidence",
    "evidence__kind",
    "evidence__title",
    "evidence__original_name",
    "evidence__url",
    "evidence__text",
    "evidence__source",
    "evidence__source__name",
    "evidence__source__pseudonym",
    "evidence__source__protected",
)


def claims_corroboration(
    *, claims: Iterable[Claim], reader: Reader, links: Iterable[dict] | None = None
) -> dict[int, dict]:
    """The corroboration summary of each claim (all of one case: `reader`'s), by claim id, in
    a constant number of queries whatever the number of claims (`claim_corroboration`).
    `links`: the claims' link rows (with LINK_COLUMNS, deleted evidence left out), when the
    caller has read them already."""
    claims = list(claims)
    out = {claim.pk: _empty() for claim in claims}
    if not claims:
        return out
    if links is None:
        links = (
            EvidenceLink.objects.filter(
                claim__in=[c.pk for c in claims],
                stance__in=SIDES,
                evidence__deleted_at__isnull=True,
            )
            .order_by("id")
            .values(*LINK_COLUMNS)
        )
    links = [row for row in links if row["stance"] in SIDES]
    ids = {row["evidence"] for row in links}
    # The sources behind each item: its own, then every provenance's, in the order they came.
    # Named by id (`Reader.name_of`), as the claim's links are: one way of noting what a
    # reader was shown, so that recording it costs the same whatever the page.
    behind: dict[int, list[int]] = {pk: [] for pk in ids}
    arrivals: dict[int, set[int]] = {pk: set() for pk in ids}
    sources: dict[int, dict] = {}
    for row in links:
        if row["evidence__source"] is not None:
            behind[row["evidence"]].append(row["evidence__source"])
            sources[row["evidence__source"]] = {
                "pk": row["evidence__source"],
                "name": row["evidence__source__name"],
                "pseudonym": row["evidence__source__pseudonym"],
                "protected": row["evidence__source__protected"],
            }
    provenances = (
        Provenance.objects.filter(evidence__in=ids)
        .order_by("received_at", "id")
        .values(
            "pk", "evidence", "source", "source__name", "source__pseudonym", "source__protected"
        )
    )
    for row in provenances if ids else ():
        evidence_id, source_id = row["evidence"], row["source"]
        arrivals[evidence_id].add(row["pk"])
        if source_id is not None:
            sources[source_id] = {
                "pk": source_id,
                "name": row["source__name"],
                "pseudonym": row["source__pseudonym"],
                "protected": row["source__protected"],
            }
            if source_id not in behind[evidence_id]:
                behind[evidence_id].append(source_id)
    matches = (
        list(
            PhotoMatch.objects.filter(photo_a__in=ids, photo_b__in=ids).values_list(
                "photo_a", "photo_b"
            )
        )
        if ids
        else []
    )
    flags: dict[int, list[str]] = {}
    flagged = PhotoFlag.objects.filter(photo__in=ids).order_by("code")
    for photo_id, code in flagged.values_list("photo", "code") if ids else ():
        flags.setdefault(photo_id, []).append(code)
    by_claim: dict[int, dict[str, list[dict]]] = {}
    for row in links:
        by_claim.setdefault(row["claim"], {side: [] for side in SIDES})[row["stance"]].append(row)
    for claim_id, sides in by_claim.items():
        summary = out[claim_id]
        for side in SIDES:
            summary[side] = _side(
                sides[side],
                behind=behind,
                arrivals=arrivals,
                matches=matches,
                sources=sources,
                flags=flags,
                reader=reader,
            )
        summary["warnings"] = [
            warning
            for side in SIDES
            for warning in _warnings(summary[side], stance=side, sources=sources, reader=reader)
        ]
    for summary in out.values():
        for side in SIDES:
            summary[side].pop("_source_groups", None)
    return out


def claim_corroboration(*, claim: Claim, reader: Reader) -> dict:
    """The corroboration summary of one claim, as `reader` may see it:

    {"supports": side, "contradicts": side, "warnings": [sentences]}, each side
    {"items", "photos", "independent_lines", "independent_sources", "unsourced_lines",
    "lines": [{"items": [{"id", "kind", "label", "flags": [words]}], "sources": [{"id",
    "name", "protected"}], "why": [same_file | near_duplicate | same_address]}]}."""
    return claims_corroboration(claims=[claim], reader=reader)[claim.pk]


def _empty_side() -> dict:
    return {
        "items": 0,
        "photos": 0,
        "independent_lines": 0,
        "independent_sources": 0,
        "unsourced_lines": 0,
        "lines": [],
    }


def _empty() -> dict:
    return {side: _empty_side() for side in SIDES} | {"warnings": []}


def _side(rows, *, behind, arrivals, matches, sources, flags, reader) -> dict:
    side = _empty_side()
    if not rows:
        side["_source_groups"] = []
        return side
    items = {row["evidence"]: row for row in rows}
    lines = _Groups()
    why: dict[tuple[int, int], str] = {}
    for pk in items:
        lines.add(pk)
    for a, b in matches:
        if a in items and b in items:
            lines.join(a, b)
            why[(a, b)] = NEAR_DUPLICATE
    by_address: dict[str, int] = {}
    for pk, row in items.items():
        url = (row["evidence__url"] or "").strip().rstrip("/").lower()
        if row["evidence__kind"] == Evidence.Kind.LINK and url:
            if url in by_address:
                lines.join(by_address[url], pk)
                why[(by_address[url], pk)] = SAME_ADDRESS
            else:
                by_address[url] = pk
    source_groups = _Groups()
    rendered = []
    for members in lines.groups(items):
        members.sort()
        line_sources: list[int] = []
        for pk in members:
            for source_id in behind[pk]:
                if source_id not in line_sources:
                    line_sources.append(source_id)
        for source_id in line_sources:
            source_groups.join(line_sources[0], source_id)
        reasons = sorted(
            {reason for (a, b), reason in why.items() if a in members and b in members}
            | (
                {SAME_FILE}
                if any(len(arrivals[pk]) > 1 and len(behind[pk]) > 1 for pk in members)
                else set()
            )
        )
        rendered.append(
            {
                "items": [
                    {
                        "id": pk,
                        "kind": items[pk]["evidence__kind"],
                        "label": Evidence.label_of(
                            pk=pk,
                            kind=items[pk]["evidence__kind"],
                            title=items[pk]["evidence__title"],
                            original_name=items[pk]["evidence__original_name"],
                            url=items[pk]["evidence__url"],
                            text=items[pk]["evidence__text"],
                        ),
                        "flags": [FLAG_WORDS.get(code, code) for code in flags.get(pk, [])],
                    }
                    for pk in members
                ],
                "sources": [
                    {
                        "id": source_id,
                        "name": _name(reader, sources[source_id]),
                        "protected": sources[source_id]["protected"],
                    }
                    for source_id in line_sources
                ],
                "why": reasons,
                "_source_ids": line_sources,
            }
        )
    source_ids = {s for line in rendered for s in line["_source_ids"]}
    side.update(
        items=len(items),
        photos=sum(1 for row in items.values() if row["evidence__kind"] == Evidence.Kind.PHOTO),
        independent_lines=len(rendered),
        independent_sources=len(source_groups.groups(source_ids)),
        unsourced_lines=sum(1 for line in rendered if not line["_source_ids"]),
        lines=rendered,
    )
    side["_source_groups"] = source_groups.groups(sorted(source_ids))
    for line in rendered:
        del line["_source_ids"]
    return side


def _name(reader: Reader, row: dict) -> str:
    return reader.name_of(
        source_id=row["pk"],
        name=row["name"],
        pseudonym=row["pseudonym"],
        protected=row["protected"],
    )


def _names(line_sources: list[dict]) -> str:
    return ", ".join(s["name"] for s in line_sources)


def _warnings(side: dict, *, stance: str, sources, reader: Reader) -> list[str]:
    """What an editor needs to know of one side, in sentences (source names as `reader` may
    see them: a protected source is its pseudonym below editor)."""
    adjective, noun = SIDE_WORDS[stance]
    out: list[str] = []
    lines = side["lines"]
    crossed = [ln for ln in lines if NEAR_DUPLICATE in ln["why"] and len(ln["sources"]) > 1]
    if crossed:
        n = sum(1 for ln in crossed for i in ln["items"] if i["kind"] == Evidence.Kind.PHOTO)
        names = ", ".join(dict.fromkeys(s["name"] for ln in crossed for s in ln["sources"]))
        out.append(
            f"{n} of {_plural(side['photos'], adjective + ' photo')} are near-duplicates from "
            f"different sources ({names}): they are not independent of each other."
        )
    for line in lines:
        if NEAR_DUPLICATE in line["why"] and len(line["sources"]) <= 1:
            origin = f" from {_names(line['sources'])}" if line["sources"] else ""
            out.append(
                f"{len(line['items'])} {adjective} photos{origin} are near-duplicates of each "
                "other: they count once."
            )
        if SAME_FILE in line["why"]:
            label = next(i["label"] for i in line["items"])
            out.append(
                f"“{label}” came in as the same file from "
                f"{_plural(len(line['sources']), 'source')} ({_names(line['sources'])}): "
                "it counts once."
            )
        if SAME_ADDRESS in line["why"]:
            out.append(
                f"{sum(1 for i in line['items'] if i['kind'] == Evidence.Kind.LINK)} {adjective} "
                "links point to the same address: they count once."
            )
    groups = side["_source_groups"]
    if side["items"] and len(groups) == 1 and not side["unsourced_lines"]:
        group = groups[0]
        if len(group) == 1:
            source = sources[group[0]]
            kind = "protected source" if source["protected"] else "one source,"
            out.append(f"All {noun} comes from {kind} {_name(reader, source)}.")
        else:
            names = ", ".join(_name(reader, sources[pk]) for pk in group)
            out.append(
                f"All {noun} comes from sources that share material ({names}): they count as "
                "one independent source."
            )
    if side["unsourced_lines"]:
        out.append(
            f"{_plural(side['unsourced_lines'], adjective + ' line')} of evidence "
            f"{'names' if side['unsourced_lines'] == 1 else 'name'} no source."
        )
    for line in lines:
        for item in line["items"]:
            if item["flags"]:
                out.append(
                    f"The {adjective} {item['kind']} “{item['label']}” is flagged: "
                    f"{'; '.join(item['flags'])}."
                )
    return out
