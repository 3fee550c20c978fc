"""What one reader may see of a case, decided here: the record's committed values, where a
protected source's evidence shows its place, and the reveals of protected identities.

Rows of the activity record commit to what could identify a source or place a piece of
evidence (`cases.activity`). Here they are turned into what this reader may see: the committed
values put back for an editor or owner (`reveal`), or where the source is not protected; left
out otherwise, with the target named as the reader would see it (a protected source by its
pseudonym). Every time a door shows a protected identity, it is recorded here
(`identity_reveal_record`), once per reader, door and REVEAL_WINDOW.
"""

from copy import copy
from datetime import timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from cases.activity import activity_record_many, chain_entry, disclose, secrets_of
from cases.models import Activity
from evidence.models import Evidence, Photo, Source
from evidence.selectors import REVEAL_VERB


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


# --- Where a protected source shows -----------------------------------------------------


def place_matches(q: str, *, reveal: bool = False, revealing=None) -> Q:
    """A search on the stated place (and on the place and byline a photo's IPTC/XMP give).
    Below editor, a protected source's evidence does not match on them: the hit would confirm a
    guessed place or name. `revealing`: the cases where the reader is an
    editor or owner (a search across cases)."""
    match = Q(place_name__icontains=q)
    # What the photo's file says of its place and byline is hidden the same way.
    for name in PHOTO_PLACE_FIELDS + PHOTO_BYLINE_FIELDS:
        match |= Q(**{f"photo__{name}__icontains": q})
    if reveal:
        return match
    visible = Q(source__isnull=True) | Q(source__protected=False)
    if revealing is not None:
        visible |= Q(case__in=revealing)
    return match & visible


def location_hidden(evidence: Evidence, *, reveal: bool) -> bool:
    """A protected source's evidence hides its exact place from those below editor."""
    return not reveal and evidence.source_id is not None and evidence.source.protected


# What a photo's file says that places it (GPS, and the city, sublocation and country its IPTC
# or XMP name) or may name who made it (a byline, a credit, a copyright notice: for a protected
# source, often the source): hidden, like the stated place, wherever `location_hidden` says.
PHOTO_LOCATION_FIELDS = ("gps_latitude", "gps_longitude", "gps_altitude")
PHOTO_PLACE_FIELDS = ("city", "sublocation", "country")
PHOTO_BYLINE_FIELDS = ("creator", "credit", "copyright")
PHOTO_DESCRIBED_FIELDS = (
    "caption",
    "creator",
    "credit",
    "copyright",
    "date_created",
    "city",
    "sublocation",
    "country",
    "keywords",
    "editing_history",
)


def photo_described(photo: Photo, *, hidden: bool) -> dict:
    """What the photo's IPTC, XMP and EXIF say (`evidence.imaging.descriptive`) as this reader
    may see it: the place and byline fields are None when `hidden` (`location_hidden`)."""
    withheld = set(PHOTO_PLACE_FIELDS + PHOTO_BYLINE_FIELDS) if hidden else set()
    return {
        name: None if name in withheld else getattr(photo, name) for name in PHOTO_DESCRIBED_FIELDS
    }


# The same person seeing the same identity through the same door again within this window (a
# page reload, an htmx refresh) is the same reveal: one row, not one per request.
REVEAL_WINDOW = timedelta(minutes=10)


def identity_reveal_record(*, actor, sources, via: str) -> int:
    """Record that `actor` was shown the identity of each protected source in `sources`
    (through `via`: "page", "api", "export", …). Unprotected sources need no record. Returns the
    number of rows written. The rows carry the source's id and pseudonym, never its name.

    A constant number of queries per case, whatever the number of sources: lists call it too."""
    protected = {s.pk: s for s in sources if s is not None and s.protected}
    if via != "export":
        for source_id in _revealed_lately(actor=actor, source_ids=protected, via=via):
            protected.pop(source_id, None)
    if not protected:
        return 0
    by_case: dict[int, list[Source]] = {}
    for source in protected.values():
        by_case.setdefault(source.case_id, []).append(source)
    with transaction.atomic():
        for group in by_case.values():
            activity_record_many(
                case=group[0].case, actor=actor, verb=REVEAL_VERB, targets=group, data={"via": via}
            )
    return len(protected)


def identity_reveal_record_ids(*, actor, source_ids, via: str) -> int:
    """`identity_reveal_record` for protected sources known by id (rows read with `.values()`):
    one query when every reveal is recent; the sources are read only when a row is due."""
    due = set(source_ids) - _revealed_lately(actor=actor, source_ids=source_ids, via=via)
    if not due:
        return 0
    sources = Source.objects.filter(pk__in=due).select_related("case")
    return identity_reveal_record(actor=actor, sources=list(sources), via=via)


def _revealed_lately(*, actor, source_ids, via: str) -> set[int]:
    """The sources among `source_ids` whose identity `actor` was shown through `via` within
    REVEAL_WINDOW."""
    if not source_ids:
        return set()
    return set(
        Activity.objects.filter(
            actor=actor,
            verb=REVEAL_VERB,
            target_type="source",
            target_id__in=list(source_ids),
            data__via=via,
            created_at__gte=timezone.now() - REVEAL_WINDOW,
        ).values_list("target_id", flat=True)
    )
