"""Reads of the verification desk that encode a rule: an editor's review inbox, and the case's
activity feed grouped and filtered. Rendered through the reader of each case."""

from __future__ import annotations

from itertools import groupby

from django.db.models import OuterRef, Subquery

from cases.models import Activity, Claim, ClaimTransition
from cases.policy import cases_where
from evidence.corroboration import claims_corroboration
from evidence.models import Assignment
from evidence.reader import reader_for

INBOX_LIMIT = 500


def review_inbox(*, request, via: str) -> list[dict]:
    """The claims in review in every case where the user may review them, oldest submission
    first, less the ones they wrote (another editor decides those), each with its
    corroboration as the user may read it, the number of its linked items that carry flags,
    and whom it is assigned to."""
    user = request.user
    submitted = (
        ClaimTransition.objects.filter(claim=OuterRef("pk"), to_status=Claim.Status.IN_REVIEW)
        .order_by("-created_at", "-id")
        .values("created_at")[:1]
    )
    assigned = (
        Assignment.objects.filter(claim=OuterRef("pk"))
        .order_by("-created_at", "-id")
        .values("assignee__username")[:1]
    )
    claims = list(
        Claim.objects.filter(
            case__in=cases_where(user, "claim.review"), status=Claim.Status.IN_REVIEW
        )
        .exclude(author=user)
        .select_related("case", "author")
        .annotate(submitted_at=Subquery(submitted), assignee_name=Subquery(assigned))
        .order_by("submitted_at", "id")[:INBOX_LIMIT]
    )
    summaries: dict[int, dict] = {}
    by_case = sorted(claims, key=lambda c: c.case_id)
    for _, group in groupby(by_case, key=lambda c: c.case_id):
        group = list(group)
        reader = reader_for(request, group[0].case, via=via)
        summaries.update(claims_corroboration(claims=group, reader=reader))
    return [
        {
            "claim": c.pk,
            "case": c.case_id,
            "case_title": c.case.title,
            "statement": c.statement,
            "author": c.author.username,
            "submitted_at": c.submitted_at or c.updated_at,
            "assignee": c.assignee_name,
            "flagged_items": len(
                {
                    item["id"]
                    for side in ("supports", "contradicts")
                    for line in summaries[c.pk][side]["lines"]
                    for item in line["items"]
                    if item["flags"]
                }
            ),
            "corroboration": summaries[c.pk],
        }
        for c in claims
    ]


# --- The activity feed -----------------------------------------------------------------------

# The kinds a feed can be filtered by: the verbs' first word.
FEED_KINDS = {
    "evidence": "Evidence",
    "photo": "Photo processing",
    "claim": "Claims",
    "link": "Links",
    "comment": "Comments",
    "source": "Sources",
    "member": "Members",
    "case": "The case",
    "export": "Exports",
}
# Rows of one person doing the same thing within this long of each other are one line.
GROUP_GAP_SECONDS = 15 * 60


def activity_filtered(rows, *, kind: str = "", actor_id: int | None = None):
    """The case's activity rows of one kind (FEED_KINDS) and/or one person."""
    if kind in FEED_KINDS:
        rows = rows.filter(verb__startswith=f"{kind}.")
    if actor_id is not None:
        rows = rows.filter(actor_id=actor_id)
    return rows


def activity_grouped(rows: list[Activity]) -> list[dict]:
    """Rows (newest first, as a reader sees them) grouped into feed lines: consecutive rows of
    the same person and verb within GROUP_GAP_SECONDS of each other (or of one bulk edit, a
    batch) are one line with a count, its rows kept to expand it."""
    lines: list[dict] = []
    for row in rows:
        batch = (row.data or {}).get("batch") if isinstance(row.data, dict) else None
        last = lines[-1] if lines else None
        if (
            last is not None
            and last["actor_id"] == row.actor_id
            and last["verb"] == row.verb
            and (
                (batch and last["batch"] == batch)
                or (last["rows"][-1].created_at - row.created_at).total_seconds()
                <= GROUP_GAP_SECONDS
            )
        ):
            last["rows"].append(row)
            continue
        lines.append(
            {
                "actor_id": row.actor_id,
                "verb": row.verb,
                "batch": batch,
                "first": row,
                "rows": [row],
            }
        )
    for line in lines:
        line["count"] = len(line["rows"])
        line["since"] = line["rows"][-1].created_at
    return lines
