"""What one reader may see of a case, decided here: a protected source's identity, where a
protected source's evidence shows its place, the record's committed values, and the reveals.

Every door reads a case through a `Reader` (`reader_for`: one per request and case; an export
makes its own): its source names, places, activity rows and custody entries. A door never reads
a protected field itself. Each protected identity a reader shows is noted, and `record()` writes
the reveals once (per reader, door and REVEAL_WINDOW): for a request,
`web.middleware.RevealRecordMiddleware` calls it when the response is ready, for an export the
build does when the bundle is written.

Rows of the activity record commit to what could identify a source or place a piece of
evidence (`cases.activity`). Here they are turned into what this reader may see: the committed
values put back for an editor or owner (`reveal`), or where the source is not protected; left
out otherwise, with the target named as the reader would see it (a protected source by its
pseudonym).
"""

from collections.abc import Mapping
from copy import copy
from datetime import timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from cases.activity import activity_record_many, chain_entry, disclose, secrets_of
from cases.models import Activity, Case
from cases.policy import can
from evidence.imaging.descriptive import DESCRIBED_FIELDS
from evidence.models import Evidence, Photo, Source, TextReading
from evidence.selectors import REVEAL_VERB


class Reader:
    """What `actor` may see of `case` through `via` ("page", "api", "export"), and the
    protected identities it was shown. `reveal`: whether they are an editor or owner here
    (asked of the policy unless given, as an export's options give it)."""

    def __init__(self, *, actor, case: Case, via: str, reveal: bool | None = None):
        self.actor, self.case, self.via = actor, case, via
        self.reveal = can(actor, case, "identity.see") if reveal is None else reveal
        # Protected sources shown (None: known by id only, from rows read with `.values()`).
        self._shown: dict[int, Source | None] = {}

    # --- Identities

    def shows_identity(self, source: Source | None) -> bool:
        """Whether this reader sees who `source` is (name and notes); noted when protected."""
        if source is None or not source.protected:
            return True
        if self.reveal:
            self._shown.setdefault(source.pk, source)
        return self.reveal

    def source_name(self, source: Source | None) -> str | None:
        """The name this reader sees: a protected source's pseudonym below editor."""
        if source is None:
            return None
        return source.name if self.shows_identity(source) else source.pseudonym

    def name_of(self, *, source_id: int, name: str, pseudonym: str, protected: bool) -> str:
        """`source_name` for a source read with `.values()`."""
        if protected and self.reveal:
            self._shown.setdefault(source_id, None)
        return name if self.reveal or not protected else pseudonym

    def source_names(self, sources) -> Mapping[int, str]:
        """Names by source id, as this reader sees them, each looked up (and noted) only when
        it is read: what a custody table that names a few of the case's sources needs."""
        return _NamesShown(self, {source.pk: source for source in sources})

    # --- Places

    def shows_place(self, evidence: Evidence) -> bool:
        """Whether this reader sees where `evidence` is (stated place, coordinates, GPS): a
        protected source's evidence hides it below editor."""
        return not location_hidden(evidence, reveal=self.reveal)

    def place_matches(self, q: str) -> Q:
        """A search on the stated place, as this reader may make it (`place_matches`)."""
        return place_matches(q, reveal=self.reveal)

    def photo_described(self, evidence: Evidence, photo: Photo) -> dict:
        """What the photo's file says of it, as this reader may see it (`photo_described`)."""
        return photo_described(photo, hidden=not self.shows_place(evidence))

    def credentials(self, evidence: Evidence, photo: Photo) -> dict | None:
        """The photo's Content Credentials as this reader may see them (`credentials_shown`)."""
        return credentials_shown(photo.content_credentials, hidden=not self.shows_place(evidence))

    # --- Text read in a photo or document (evidence.services.texts)

    def shows_text(self, evidence: Evidence) -> bool:
        """Whether this reader sees the text read in `evidence` (`text_shown`)."""
        return text_shown(evidence, reveal=self.reveal)

    def text_read(self, evidence: Evidence) -> dict:
        """The text read in `evidence` as this reader may see it (`text_fields`)."""
        return text_fields(evidence, shown=self.shows_text(evidence))

    def text_matches(self, q: str) -> Q:
        """A search on the text read, as this reader may make it (`text_matches`)."""
        return text_matches(q, reveal=self.reveal)

    # --- Video

    def video_tags(self, video) -> dict | None:
        """Every tag of a video's container, as read: for editors and owners only, like a
        photo's full EXIF (tags can carry a place, a device owner's name)."""
        return dict(video.tags) if self.reveal else None

    # --- The record

    def activity(self, rows) -> list[Activity]:
        """The rows as this reader sees them (`activity_rows`); identities shown are noted."""
        seen, revealed = activity_rows(rows, reveal=self.reveal)
        for source in revealed:
            self._shown.setdefault(source.pk, source)
        return seen

    def chain(self, rows) -> list[dict]:
        """The rows as chained, with what this reader may see disclosed (`activity_chain`)."""
        return activity_chain(rows, reveal=self.reveal)

    def record(self) -> int:
        """Write the reveals of the protected identities shown since the last call (once per
        REVEAL_WINDOW and door, except for an export, each of which is recorded). Returns the
        number of rows written."""
        shown, self._shown = self._shown, {}
        if not shown:
            return 0
        known = [source for source in shown.values() if source is not None]
        by_id = [pk for pk, source in shown.items() if source is None]
        written = _reveals_record(actor=self.actor, sources=known, via=self.via) if known else 0
        if by_id:
            written += _reveal_ids_record(actor=self.actor, source_ids=by_id, via=self.via)
        return written


class _NamesShown(Mapping):
    def __init__(self, reader: Reader, sources: dict[int, Source]):
        self._reader, self._sources = reader, sources

    def __getitem__(self, pk: int) -> str:
        return self._reader.source_name(self._sources[pk])

    def __iter__(self):
        return iter(self._sources)

    def __len__(self) -> int:
        return len(self._sources)


def reader_for(request, case: Case, *, via: str, reveal: bool | None = None) -> Reader:
    """The reader of `case` for this request (one per request and case, so that what it shows
    is recorded once, when the response is ready). `reveal`: the policy's answer, where the
    caller has it already (a list of cases with the user's roles)."""
    actor = request.user
    request = getattr(request, "_request", request)  # DRF's Request wraps Django's
    readers = request.__dict__.setdefault("casefile_readers", {})
    if case.pk not in readers:
        readers[case.pk] = Reader(actor=actor, case=case, via=via, reveal=reveal)
    return readers[case.pk]


def readers_record(request) -> int:
    """Record what every reader of this request showed (`RevealRecordMiddleware`)."""
    readers = getattr(request, "casefile_readers", {})
    return sum(reader.record() for reader in readers.values())


def activity_rows(rows, *, reveal: bool) -> tuple[list[Activity], list[Source]]:
    """Copies of `rows` (never saved) whose `target_label` and `data` are this reader's, and
    the protected sources whose identity they show."""
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
    return seen, list(revealed.values())


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


def place_matches(q: str, *, reveal: bool = False) -> Q:
    """A search on the stated place, and on what a photo's IPTC/XMP say that may place it or
    name who made it (`PHOTO_WITHHELD_FIELDS`). Below editor, a protected source's evidence does
    not match on them: the hit would confirm a guessed place or name. (Search across cases
    keeps them in its index's private text: `evidence.search`.)"""
    match = Q(place_name__icontains=q)
    for name in PHOTO_WITHHELD_FIELDS:
        match |= Q(**{f"photo__{name}__icontains": q})
    if reveal:
        return match
    return match & (Q(source__isnull=True) | Q(source__protected=False))


def location_hidden(evidence: Evidence, *, reveal: bool) -> bool:
    """A protected source's evidence hides its exact place from those below editor."""
    return not reveal and evidence.source_id is not None and evidence.source.protected


# What a photo's file says that places it (GPS, and the city, sublocation and country its IPTC
# or XMP name) or may name who made it (a byline, a credit, a copyright notice: for a protected
# source, often the source): hidden, like the stated place, wherever `location_hidden` says.
PHOTO_LOCATION_FIELDS = ("gps_latitude", "gps_longitude", "gps_altitude")
PHOTO_PLACE_FIELDS = ("city", "sublocation", "country")
PHOTO_BYLINE_FIELDS = ("creator", "credit", "copyright")
# Free text from the file (a caption "Zhang Wei at the station", a keyword with a name): for a
# protected source, withheld as the byline is.
PHOTO_TEXT_FIELDS = ("caption", "keywords")
PHOTO_WITHHELD_FIELDS = PHOTO_PLACE_FIELDS + PHOTO_BYLINE_FIELDS + PHOTO_TEXT_FIELDS
# What Content Credentials say of who signed the file and what it was called (a personal
# certificate carries a person's name): withheld the same way.
CREDENTIALS_WITHHELD_FIELDS = ("title", "signer", "signer_organisation", "certificate_issuer")


def photo_described(photo: Photo, *, hidden: bool) -> dict:
    """What the photo's IPTC, XMP and EXIF say (`evidence.imaging.descriptive`) as this reader
    may see it: the place, byline and free-text fields are None when `hidden`."""
    withheld = set(PHOTO_WITHHELD_FIELDS) if hidden else set()
    return {name: None if name in withheld else getattr(photo, name) for name in DESCRIBED_FIELDS}


def text_shown(evidence: Evidence, *, reveal: bool) -> bool:
    """The text read in an item is its content, shown where its content is: a photo's to
    whoever sees the photo (its preview shows the same words), a document's only to editors and
    owners, who alone may open its original (a letter names its writer)."""
    return evidence.kind == Evidence.Kind.PHOTO or reveal


# The text fields of an item, as the API, the page and the export name them.
NO_TEXT = {
    "ocr_status": None,
    "ocr_note": None,
    "ocr_method": None,
    "ocr_text": None,
    "ocr_language": None,
    "ocr_confidence": None,
    "ocr_words": None,
}


def text_fields(evidence: Evidence, *, shown: bool) -> dict:
    """The reading's status and note (for everyone who sees the item), and the text, its
    language and word boxes where `shown`; None throughout for an item with no reading."""
    try:
        reading = evidence.text_reading
    except TextReading.DoesNotExist:
        return dict(NO_TEXT)
    fields = {
        "ocr_status": reading.status,
        "ocr_note": reading.note,
        "ocr_method": reading.method or None,
        **{k: None for k in ("ocr_text", "ocr_language", "ocr_confidence", "ocr_words")},
    }
    if shown and reading.status == TextReading.Status.DONE:
        fields.update(
            ocr_text=reading.ocr_text,
            ocr_language=reading.ocr_language or None,
            ocr_confidence=reading.confidence,
            ocr_words=reading.words,
        )
    return fields


def text_matches(q: str, *, reveal: bool = False, revealing=None) -> Q:
    """A search on the text read in photos and documents, matching only what the reader may see
    (`text_shown`): below editor, a document's text does not match. `revealing`: the cases
    where the reader is an editor or owner (a search across cases)."""
    match = Q(text_reading__ocr_text__icontains=q)
    if reveal:
        return match
    visible = Q(kind=Evidence.Kind.PHOTO)
    if revealing is not None:
        visible |= Q(case__in=revealing)
    return match & visible


def credentials_shown(credentials: dict | None, *, hidden: bool) -> dict | None:
    """A photo's Content Credentials as this reader may see them: when `hidden`, without who
    signed them and the names of the file and its ingredients (`identity_withheld`)."""
    if not credentials:
        return None
    if not hidden:
        return {**credentials, "identity_withheld": False}
    return {
        **credentials,
        **dict.fromkeys(CREDENTIALS_WITHHELD_FIELDS, ""),
        "ingredients": [{**i, "title": ""} for i in credentials.get("ingredients") or []],
        "identity_withheld": True,
    }


# The same person seeing the same identity through the same door again within this window (a
# page reload, an htmx refresh) is the same reveal: one row, not one per request.
REVEAL_WINDOW = timedelta(minutes=10)


def _reveals_record(*, actor, sources, via: str) -> int:
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


def _reveal_ids_record(*, actor, source_ids, via: str) -> int:
    """`_reveals_record` for protected sources known by id (rows read with `.values()`):
    one query when every reveal is recent; the sources are read only when a row is due."""
    due = set(source_ids) - _revealed_lately(actor=actor, source_ids=source_ids, via=via)
    if not due:
        return 0
    sources = Source.objects.filter(pk__in=due).select_related("case")
    return _reveals_record(actor=actor, sources=list(sources), via=via)


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
