"""What one reader may see of a case's record.

Rows of the activity record commit to what could identify a source or place a piece of
evidence (`cases.activity`). Here they are turned into what this reader may see: the committed
values put back for an editor or owner (`reveal`), or where the source is not protected; left
out otherwise, with the target named as the reader would see it (a protected source by its
pseudonym). A protected identity put back for an editor is a reveal, and is recorded here.
"""

from copy import copy

from cases.activity import chain_entry, disclose, secrets_of
from cases.models import Activity
from evidence.custody import identity_reveal_record
from evidence.models import Evidence, Source


def activity_rows(rows, *, reveal: bool, actor=None, via: str = "") -> list[Activity]:
    """Copies of `rows` (never saved) whose `target_label` and `data` are this reader's. With
    `actor`, the protected identities shown to them are recorded (through `via`)."""
    rows = list(rows)
    secrets = secrets_of(rows)
    allowed, sources = _disclosure(rows, secrets, reveal=reveal)
    seen, revealed = [], {}
    for row in rows:
        if row.pk not in allowed:
            seen.append(row)
            continue
        label, data = disclose(
            target_type=row.target_type,
            target_label=row.target_label,
            data=row.data,
            secrets=secrets.get(row.pk, {}),
            allowed=allowed[row.pk],
        )
        source = sources.get(row.target_id) if row.target_type == "source" else None
        if label is None:
            label = str(source) if source is not None else f"{row.target_type} {row.target_id}"
        elif source is not None and source.protected:
            # Shown more than its pseudonym (a name it had, its notes): a reveal.
            values = [value for _, value in secrets.get(row.pk, {}).values()]
            if any(value != source.pseudonym for value in values):
                revealed[source.pk] = source
        shown = copy(row)
        shown.target_label, shown.data = label, data
        seen.append(shown)
    if actor is not None and revealed:
        identity_reveal_record(actor=actor, sources=revealed.values(), via=via)
    return seen


def activity_chain(rows, *, reveal: bool) -> list[dict]:
    """The rows as chained (`cases.activity.chain_entry`), with the values this reader may see
    disclosed beside them: what an export carries, and what `chain_problems` checks."""
    rows = list(rows)
    secrets = secrets_of(rows)
    allowed, _ = _disclosure(rows, secrets, reveal=reveal)
    return [
        chain_entry(row, disclosed=secrets.get(row.pk) if allowed.get(row.pk) else None)
        for row in rows
    ]


def _disclosure(rows, secrets, *, reveal: bool) -> tuple[dict[int, bool], dict[int, Source]]:
    """Whether each row with secrets may show them, and the sources the rows are about."""
    ids = {"source": set(), "evidence": set()}
    for row in rows:
        if row.target_type in ids:
            ids[row.target_type].add(row.target_id)
    sources = Source.objects.in_bulk(ids["source"])
    # Deleted items too (their rows carry the place they had): {id: whether protected}.
    items = dict(
        Evidence.objects.filter(pk__in=ids["evidence"]).values_list("pk", "source__protected")
    )
    allowed = {}
    for row in rows:
        if row.target_type not in ids and row.pk not in secrets:
            continue
        if reveal:
            allowed[row.pk] = True
        elif row.target_type == "source":
            source = sources.get(row.target_id)
            allowed[row.pk] = source is not None and not source.protected
        elif row.target_type == "evidence":
            # An item whose record is gone shows nothing it committed to.
            allowed[row.pk] = row.target_id in items and not items[row.target_id]
        else:
            allowed[row.pk] = False
    return allowed, sources
