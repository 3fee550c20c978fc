"""What was collected for a case, and the processing of it."""

from datetime import datetime, timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q

from cases.models import Case, Claim
from evidence.imaging import flags


class Source(models.Model):
    class Kind(models.TextChoices):
        PERSON = "person", "Person"
        ORGANISATION = "organisation", "Organisation"
        PUBLICATION = "publication", "Publication"
        DOCUMENT = "document", "Document"
        WEB_PAGE = "web_page", "Web page"
        SOCIAL_MEDIA = "social_media", "Social media account"
        OWN_REPORTING = "own_reporting", "Own reporting"

    class Reliability(models.TextChoices):
        # The Admiralty (NATO) scale for the reliability of a source.
        A = "A", "A — completely reliable"
        B = "B", "B — usually reliable"
        C = "C", "C — fairly reliable"
        D = "D", "D — not usually reliable"
        E = "E", "E — unreliable"
        F = "F", "F — reliability cannot be judged"

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="sources")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    name = models.CharField(max_length=200)
    protected = models.BooleanField(default=False)
    pseudonym = models.CharField(max_length=100, blank=True)
    reliability = models.CharField(max_length=1, choices=Reliability.choices, default="F")
    # Contact details and anything else that could identify a protected source.
    notes = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["case", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(protected=False) | ~Q(pseudonym=""),
                name="source_protected_has_pseudonym",
            ),
            models.CheckConstraint(
                condition=Q(reliability__in=list("ABCDEF")), name="source_reliability_valid"
            ),
            models.CheckConstraint(
                condition=Q(
                    kind__in=[
                        "person",
                        "organisation",
                        "publication",
                        "document",
                        "web_page",
                        "social_media",
                        "own_reporting",
                    ]
                ),
                name="source_kind_valid",
            ),
        ]

    def __str__(self) -> str:
        # The safe name: never the identity of a protected source.
        return self.pseudonym if self.protected else self.name


class Evidence(models.Model):
    """A photo, a document, a web link or a source's testimony, collected for one case."""

    class Kind(models.TextChoices):
        PHOTO = "photo", "Photo"
        VIDEO = "video", "Video"
        DOCUMENT = "document", "Document"
        LINK = "link", "Web link"
        TESTIMONY = "testimony", "Testimony"

    FILE_KINDS = ("photo", "video", "document")

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="evidence")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    title = models.CharField(max_length=300, blank=True)
    description = models.TextField(blank=True)
    source = models.ForeignKey(
        Source, null=True, blank=True, on_delete=models.PROTECT, related_name="evidence"
    )
    collected_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    # When and where it was observed, as the reporter states it.
    observed_at = models.DateTimeField(null=True, blank=True)
    place_name = models.CharField(max_length=200, blank=True)
    latitude = models.FloatField(null=True, blank=True)
    longitude = models.FloatField(null=True, blank=True)

    # A web link.
    url = models.URLField(max_length=2000, blank=True)
    # Testimony: what the source said, and when they said it.
    text = models.TextField(blank=True)
    stated_on = models.DateField(null=True, blank=True)

    # A file (photo or document): the original, stored once under a name derived from its hash
    # and never modified afterwards.
    original = models.FileField(max_length=300, blank=True)
    original_name = models.CharField(max_length=255, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    size = models.BigIntegerField(null=True, blank=True)
    content_type = models.CharField(max_length=100, blank=True)

    # Graphic content: blurred in galleries until a user asks to see it.
    sensitive = models.BooleanField(default=False)

    # Deletion leaves a tombstone: the row (with its hash) stays, hidden from every list; the
    # original is retained until an owner purges it (see evidence.custody).
    deleted_at = models.DateTimeField(null=True, blank=True)
    deleted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    deletion_reason = models.TextField(blank=True)
    purged_at = models.DateTimeField(null=True, blank=True)
    purged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["case", "-created_at", "-id"]
        verbose_name_plural = "evidence"
        indexes = [
            models.Index(fields=["case", "kind"]),
            models.Index(fields=["case", "observed_at"]),
            models.Index(fields=["sha256"]),
            # A case's lists, newest first: a page reads 50 index entries instead of sorting
            # the whole case, and the page count is an index-only scan (benchmarks/api_scale.py).
            models.Index(
                fields=["case", "-created_at", "-id"],
                name="evidence_case_newest",
                condition=Q(deleted_at__isnull=True),
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=["photo", "video", "document", "link", "testimony"]),
                name="evidence_kind_valid",
            ),
            # The same bytes make one piece of evidence per case (a deleted item's tombstone
            # does not stop the same file from being collected again).
            models.UniqueConstraint(
                fields=["case", "sha256"],
                condition=~Q(sha256="") & Q(deleted_at__isnull=True),
                name="evidence_unique_original_per_case",
            ),
            models.CheckConstraint(
                condition=Q(deleted_at__isnull=True) | ~Q(deletion_reason=""),
                name="evidence_deletion_has_reason",
            ),
            models.CheckConstraint(
                condition=Q(purged_at__isnull=True) | Q(deleted_at__isnull=False),
                name="evidence_purged_only_when_deleted",
            ),
            models.CheckConstraint(
                condition=~Q(kind__in=["photo", "video", "document"])
                | Q(sha256__regex=r"^[0-9a-f]{64}$"),
                name="evidence_file_has_sha256",
            ),
            models.CheckConstraint(
                condition=~Q(kind="link") | ~Q(url=""), name="evidence_link_has_url"
            ),
            models.CheckConstraint(
                condition=~Q(kind="testimony") | (~Q(text="") & Q(source__isnull=False)),
                name="evidence_testimony_has_text_and_source",
            ),
            models.CheckConstraint(
                condition=Q(latitude__isnull=True) | Q(latitude__gte=-90, latitude__lte=90),
                name="evidence_latitude_range",
            ),
            models.CheckConstraint(
                condition=Q(longitude__isnull=True) | Q(longitude__gte=-180, longitude__lte=180),
                name="evidence_longitude_range",
            ),
            models.CheckConstraint(
                condition=Q(latitude__isnull=True, longitude__isnull=True)
                | Q(latitude__isnull=False, longitude__isnull=False),
                name="evidence_latitude_longitude_together",
            ),
        ]

    def __str__(self) -> str:
        return self.label

    @property
    def label(self) -> str:
        return self.label_of(
            pk=self.pk,
            kind=self.kind,
            title=self.title,
            original_name=self.original_name,
            url=self.url,
            text=self.text,
        )

    @classmethod
    def label_of(cls, *, pk, kind: str, title: str, original_name: str, url: str, text: str) -> str:
        """What names an item in lists, from its columns (for rows read with `.values()`)."""
        if title:
            return title
        if original_name:
            return original_name
        if url:
            return url
        if text:
            return text[:80]
        return f"{dict(cls.Kind.choices).get(kind, kind)} #{pk}"

    @property
    def has_file(self) -> bool:
        return self.kind in self.FILE_KINDS

    @property
    def photo_or_none(self) -> "Photo | None":
        """The photo row of a photo; None for other kinds or before the row exists."""
        if self.kind != self.Kind.PHOTO:
            return None
        try:
            return self.photo
        except Photo.DoesNotExist:
            return None

    @property
    def video_or_none(self):
        """The video row of a video; None for other kinds or before the row exists."""
        if self.kind != self.Kind.VIDEO:
            return None
        try:
            return self.video
        except Video.DoesNotExist:
            return None

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None

    @property
    def observed_date(self):
        """The date the timeline sorts by: when it was observed, or when a source said it."""
        if self.observed_at:
            return self.observed_at.date()
        return self.stated_on


class Provenance(models.Model):
    """One arrival of an item: who brought it in, when, under which file name, from which
    source. An item's first provenance is its own collection; the same bytes sent again (by
    another source, or by the same one again) are another provenance of the same item, never
    dropped (`evidence.services.evidence.evidence_ingest`)."""

    evidence = models.ForeignKey(Evidence, on_delete=models.CASCADE, related_name="provenances")
    source = models.ForeignKey(
        Source, null=True, blank=True, on_delete=models.PROTECT, related_name="provenances"
    )
    received_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    received_at = models.DateTimeField()
    original_name = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["evidence", "received_at", "id"]
        indexes = [models.Index(fields=["evidence", "received_at"])]

    def __str__(self) -> str:
        return f"{self.evidence_id} from {self.source} at {self.received_at:%Y-%m-%d %H:%M}"


def _phash_part(index: int) -> models.GeneratedField:
    shift = 48 - 16 * index
    return models.GeneratedField(
        expression=models.F("phash").bitrightshift(shift).bitand(0xFFFF) - 0x8000,
        output_field=models.SmallIntegerField(null=True),
        db_persist=True,
    )


class Photo(models.Model):
    """What the image pipeline learns about a photo, and what it derives from it."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        PROCESSING = "processing", "Processing"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"

    evidence = models.OneToOneField(
        Evidence, on_delete=models.CASCADE, primary_key=True, related_name="photo"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    failure_reason = models.CharField(max_length=500, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    # When the current attempt started: a photo stuck in processing past the hard time limit is
    # queued again by the reconciler.
    status_changed_at = models.DateTimeField(auto_now_add=True)
    # While processing: the last time the attempt's worker renewed its lease. One that has not
    # for CASEFILE_LEASE_SECONDS was abandoned and is taken over (evidence.services.recovery).
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    # Normalised metadata.
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    taken_at = models.DateTimeField(null=True, blank=True)
    # The UTC offset the camera recorded ("+08:00"); blank when it recorded none, in which case
    # taken_at holds the camera's local time read as UTC (the doors show it as a local time
    # without an offset: `evidence.imaging.metadata.capture_time_text`).
    taken_at_offset = models.CharField(max_length=6, blank=True)
    # Which field taken_at came from (`evidence.imaging.metadata.TakenAtSource`).
    taken_at_source = models.CharField(max_length=32, blank=True)
    camera_make = models.CharField(max_length=100, blank=True)
    camera_model = models.CharField(max_length=100, blank=True)
    lens = models.CharField(max_length=200, blank=True)
    software = models.CharField(max_length=200, blank=True)
    gps_latitude = models.FloatField(null=True, blank=True)
    gps_longitude = models.FloatField(null=True, blank=True)
    gps_altitude = models.FloatField(null=True, blank=True)
    orientation = models.PositiveSmallIntegerField(null=True, blank=True)
    # The complete EXIF (with GPS and XMP where present), as JSON-safe data.
    exif = models.JSONField(default=dict, blank=True)
    # What the file's IPTC and XMP (and EXIF) say, reconciled (`evidence.imaging.descriptive`).
    # City, sublocation and country are a place, and creator, credit and copyright may name the
    # source: a protected source's evidence hides them below editor (`evidence.reader`).
    caption = models.TextField(blank=True)
    creator = models.JSONField(default=list, blank=True)
    credit = models.CharField(max_length=500, blank=True)
    copyright = models.CharField(max_length=500, blank=True)
    date_created = models.CharField(max_length=32, blank=True)
    city = models.CharField(max_length=200, blank=True)
    sublocation = models.CharField(max_length=200, blank=True)
    country = models.CharField(max_length=200, blank=True)
    keywords = models.JSONField(default=list, blank=True)
    editing_history = models.JSONField(default=list, blank=True)
    # The images an MPF index embeds after the primary one (`evidence.imaging.mpf`).
    embedded_images = models.JSONField(default=list, blank=True)
    # The Content Credentials (C2PA) read from the file, null when it carries none
    # (`evidence.imaging.credentials`).
    content_credentials = models.JSONField(null=True, blank=True)

    # Derivatives: upright, metadata stripped.
    thumbnail = models.FileField(max_length=300, blank=True)
    preview = models.FileField(max_length=300, blank=True)

    # 64-bit perceptual hashes, stored as signed integers so the database can compare them.
    phash = models.BigIntegerField(null=True, blank=True)
    dhash = models.BigIntegerField(null=True, blank=True)
    # phash split into four 16-bit parts (offset to fit a smallint), computed by the database
    # whoever writes phash: the keys of the near-duplicate search (evidence/similarity.py).
    phash_part0 = _phash_part(0)
    phash_part1 = _phash_part(1)
    phash_part2 = _phash_part(2)
    phash_part3 = _phash_part(3)

    class Meta:
        ordering = ["evidence"]
        indexes = [
            models.Index(fields=["status", "status_changed_at"]),
            # On PostgreSQL these four also carry phash and the key (INCLUDE), so that a probe
            # is an index-only scan: see migration 0003_photo_phash_parts.
            *(
                models.Index(fields=[f"phash_part{i}"], name=f"photo_phash_part{i}")
                for i in range(4)
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["pending", "processing", "ready", "failed"]),
                name="photo_status_valid",
            ),
            models.CheckConstraint(
                condition=~Q(status="failed") | ~Q(failure_reason=""),
                name="photo_failure_has_reason",
            ),
            models.CheckConstraint(
                condition=Q(orientation__isnull=True) | Q(orientation__gte=1, orientation__lte=8),
                name="photo_orientation_range",
            ),
        ]

    def __str__(self) -> str:
        return f"photo {self.evidence_id} ({self.status})"


class TextReading(models.Model):
    """The text read from a photo (OCR) or a document (its PDF text layer, else OCR of its
    rendered pages), by a job of its own after the photo is ready (evidence.services.texts)."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        PROCESSING = "processing", "Processing"
        DONE = "done", "Done"
        # Not read, and why (Tesseract absent here, no language installed): `note` says.
        SKIPPED = "skipped", "Skipped"
        FAILED = "failed", "Failed"

    class Method(models.TextChoices):
        OCR = "ocr", "OCR"
        TEXT_LAYER = "text_layer", "Text layer"
        BOTH = "text_layer+ocr", "Text layer and OCR"

    evidence = models.OneToOneField(
        Evidence, on_delete=models.CASCADE, primary_key=True, related_name="text_reading"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    # Why it was skipped or failed; what else a reader should know (pages left out).
    note = models.CharField(max_length=500, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    status_changed_at = models.DateTimeField(auto_now_add=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    method = models.CharField(max_length=16, choices=Method.choices, blank=True)
    # The languages asked for ("kor+chi_sim+eng"), those read in most of the text.
    languages = models.CharField(max_length=100, blank=True)
    ocr_language = models.CharField(max_length=16, blank=True)
    ocr_text = models.TextField(blank=True)
    # Each word read by OCR: {"text", "box": [left, top, right, bottom] as fractions of the
    # picture (or page), "confidence", "language", "line", "page" (a PDF's; null for a photo)}.
    words = models.JSONField(default=list, blank=True)
    confidence = models.FloatField(null=True, blank=True)
    pages = models.PositiveIntegerField(null=True, blank=True)
    software = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["evidence"]
        indexes = [models.Index(fields=["status", "status_changed_at"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["pending", "processing", "done", "skipped", "failed"]),
                name="textreading_status_valid",
            ),
            models.CheckConstraint(
                condition=~Q(status__in=["failed", "skipped"]) | ~Q(note=""),
                name="textreading_failure_has_note",
            ),
        ]

    def __str__(self) -> str:
        return f"text of {self.evidence_id} ({self.status})"


class PhotoFlag(models.Model):
    """A consistency warning raised by the pipeline, with an explanation a reporter can read."""

    class Code(models.TextChoices):
        DATE_MISMATCH = flags.Code.DATE_MISMATCH, flags.LABELS[flags.Code.DATE_MISMATCH]
        PLACE_MISMATCH = flags.Code.PLACE_MISMATCH, flags.LABELS[flags.Code.PLACE_MISMATCH]
        EDITING_SOFTWARE = flags.Code.EDITING_SOFTWARE, flags.LABELS[flags.Code.EDITING_SOFTWARE]
        NO_CAMERA_METADATA = (
            flags.Code.NO_CAMERA_METADATA,
            flags.LABELS[flags.Code.NO_CAMERA_METADATA],
        )
        DUPLICATE_OTHER_SOURCE = (
            flags.Code.DUPLICATE_OTHER_SOURCE,
            flags.LABELS[flags.Code.DUPLICATE_OTHER_SOURCE],
        )
        TRAILING_DATA = flags.Code.TRAILING_DATA, flags.LABELS[flags.Code.TRAILING_DATA]
        AI_GENERATED = flags.Code.AI_GENERATED, flags.LABELS[flags.Code.AI_GENERATED]
        CREDENTIALS_INVALID = (
            flags.Code.CREDENTIALS_INVALID,
            flags.LABELS[flags.Code.CREDENTIALS_INVALID],
        )

    photo = models.ForeignKey(Photo, on_delete=models.CASCADE, related_name="flags")
    code = models.CharField(max_length=32, choices=Code.choices)
    message = models.CharField(max_length=500)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["photo", "code"]
        constraints = [
            models.UniqueConstraint(fields=["photo", "code"], name="photoflag_unique_code"),
        ]

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


def _hash_part(index: int) -> models.GeneratedField:
    shift = 48 - 16 * index
    return models.GeneratedField(
        expression=models.F("value").bitrightshift(shift).bitand(0xFFFF) - 0x8000,
        output_field=models.SmallIntegerField(),
        db_persist=True,
    )


class PhotoHash(models.Model):
    """One of a photo's near-duplicate hashes (`evidence.imaging.hashes.near_duplicate_hashes`):
    the whole frame, mirrored, with its borders trimmed, or a window of it. Split into four
    16-bit parts, indexed, like `Photo.phash`, so that the search (evidence/similarity.py,
    `hash_matches`) is answered from indexes and exactly."""

    photo = models.ForeignKey(Photo, on_delete=models.CASCADE, related_name="near_hashes")
    kind = models.CharField(max_length=16)
    # A hash of the whole picture (full, content), not of a window.
    whole = models.BooleanField()
    value = models.BigIntegerField()
    part0 = _hash_part(0)
    part1 = _hash_part(1)
    part2 = _hash_part(2)
    part3 = _hash_part(3)

    class Meta:
        ordering = ["photo", "kind"]
        indexes = [
            # On PostgreSQL these also carry value, whole and photo (INCLUDE): index-only probes.
            *(models.Index(fields=[f"part{i}"], name=f"photohash_part{i}") for i in range(4)),
            # The whole frames and contents alone (a tenth of the rows): what most of a new
            # photo's hashes are compared with.
            *(
                models.Index(
                    fields=[f"part{i}"], name=f"photohash_whole_part{i}", condition=Q(whole=True)
                )
                for i in range(4)
            ),
        ]
        constraints = [
            models.UniqueConstraint(fields=["photo", "kind"], name="photohash_unique_kind"),
        ]

    def __str__(self) -> str:
        return f"{self.photo_id} {self.kind}"


class PhotoMatch(models.Model):
    """Two photos of one case within a small Hamming distance of each other, recorded once."""

    class Kind(models.TextChoices):
        # evidence.imaging.hashes.MatchKind
        SAME = "same", "Same frame"
        MIRRORED = "mirrored", "Mirrored"
        FRAMED = "framed", "Borders, caption or screenshot"
        CROPPED = "cropped", "Cropped"

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="+")
    photo_a = models.ForeignKey(Photo, on_delete=models.CASCADE, related_name="+")
    photo_b = models.ForeignKey(Photo, on_delete=models.CASCADE, related_name="+")
    distance = models.PositiveSmallIntegerField()
    # The two photos came from different sources: they are not independent confirmations.
    cross_source = models.BooleanField(default=False)
    # What kind of copy one is of the other, and whether local features (ORB) confirmed it
    # (the hashes alone were unsure: a crop, or only just within reach).
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.SAME)
    verified = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["distance", "id"]
        constraints = [
            models.UniqueConstraint(fields=["photo_a", "photo_b"], name="photomatch_unique_pair"),
            models.CheckConstraint(
                condition=Q(photo_a__lt=models.F("photo_b")), name="photomatch_ordered_pair"
            ),
            models.CheckConstraint(
                condition=Q(kind__in=["same", "mirrored", "framed", "cropped"]),
                name="photomatch_kind_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.photo_a_id} ~ {self.photo_b_id} ({self.distance})"


# The video pipeline's rows live in a module of their own (issue #15).
from evidence.video_models import (  # noqa: E402, F401
    KeyframeMatch,
    Video,
    VideoFlag,
    VideoKeyframe,
    VideoMatch,
)


class EvidenceLink(models.Model):
    """How one piece of evidence bears on one claim."""

    class Stance(models.TextChoices):
        SUPPORTS = "supports", "Supports"
        CONTRADICTS = "contradicts", "Contradicts"
        CONTEXT = "context", "Context"

    evidence = models.ForeignKey(Evidence, on_delete=models.CASCADE, related_name="links")
    claim = models.ForeignKey(Claim, on_delete=models.CASCADE, related_name="links")
    stance = models.CharField(max_length=16, choices=Stance.choices)
    note = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["claim", "stance", "id"]
        constraints = [
            models.UniqueConstraint(fields=["evidence", "claim"], name="link_unique_per_claim"),
            models.CheckConstraint(
                condition=Q(stance__in=["supports", "contradicts", "context"]),
                name="link_stance_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.evidence_id} {self.stance} {self.claim_id}"


class Comment(models.Model):
    """A comment on a claim or on a piece of evidence; every edit is kept."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="comments")
    claim = models.ForeignKey(
        Claim, null=True, blank=True, on_delete=models.CASCADE, related_name="comments"
    )
    evidence = models.ForeignKey(
        Evidence, null=True, blank=True, on_delete=models.CASCADE, related_name="comments"
    )
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    text = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    edited_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(claim__isnull=False, evidence__isnull=True)
                | Q(claim__isnull=True, evidence__isnull=False),
                name="comment_on_exactly_one_target",
            ),
            models.CheckConstraint(condition=~Q(text=""), name="comment_not_empty"),
        ]

    def __str__(self) -> str:
        return self.text[:80]


class CommentRevision(models.Model):
    """The text a comment had before one of its edits."""

    comment = models.ForeignKey(Comment, on_delete=models.CASCADE, related_name="revisions")
    text = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["comment", "id"]

    def __str__(self) -> str:
        return f"revision of comment {self.comment_id}"


class Export(models.Model):
    """A case file exported as a ZIP bundle by a Celery task (see evidence.services.exports)."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"
        # The bundle was deleted after CASEFILE_EXPORT_RETENTION_DAYS; the row stays.
        EXPIRED = "expired", "Expired"

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="exports")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    # Include the original files (else only the stripped previews).
    originals = models.BooleanField(default=False)
    # Include protected sources' identities (owners only; every one is recorded as a reveal).
    reveal_protected = models.BooleanField(default=False)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0)
    file = models.FileField(max_length=300, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    size = models.BigIntegerField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    # Queued: when its task was last sent again by the recovery (a lost task is sent again
    # RESEND_AFTER later). Running: see heartbeat_at.
    dispatched_at = models.DateTimeField(null=True, blank=True)
    # While running: the last time the attempt's worker renewed its lease (see Photo).
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    expired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["case", "-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["queued", "running", "ready", "failed", "expired"]),
                name="export_status_valid",
            ),
            models.CheckConstraint(condition=Q(progress__lte=100), name="export_progress_range"),
            models.CheckConstraint(
                condition=~Q(status="failed") | ~Q(error=""), name="export_failure_has_reason"
            ),
            models.CheckConstraint(
                condition=~Q(status="ready") | ~Q(file=""), name="export_ready_has_file"
            ),
            # An expired export keeps no file, and says when it lost it.
            models.CheckConstraint(
                condition=~Q(status="expired") | (Q(file="") & Q(expired_at__isnull=False)),
                name="export_expired_has_no_file",
            ),
        ]

    def __str__(self) -> str:
        # Written into activity rows: what the export is, not its state at that moment.
        kind = "originals" if self.originals else "previews only"
        return (
            f"case export {self.pk} ({kind}{', with identities' if self.reveal_protected else ''})"
        )

    @property
    def expires_at(self) -> datetime | None:
        """When a ready bundle will be deleted (`evidence.services.exports.exports_expire`)."""
        if self.status != self.Status.READY or self.finished_at is None:
            return None
        return self.finished_at + timedelta(days=settings.CASEFILE_EXPORT_RETENTION_DAYS)


class Assignment(models.Model):
    """Who a claim or a piece of evidence is given to: one member at a time (the latest row
    is the current one; a row with no assignee ends the assignment). Kept as rows rather than
    a column, so that `cases` stays free of the desk and every assignment is kept."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="+")
    claim = models.ForeignKey(
        Claim, null=True, blank=True, on_delete=models.CASCADE, related_name="assignments"
    )
    evidence = models.ForeignKey(
        Evidence, null=True, blank=True, on_delete=models.CASCADE, related_name="assignments"
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    assigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["assignee", "-created_at"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(claim__isnull=False, evidence__isnull=True)
                | Q(claim__isnull=True, evidence__isnull=False),
                name="assignment_on_exactly_one_target",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.claim_id or self.evidence_id} → {self.assignee_id}"


class Notification(models.Model):
    """Something a member should know: a mention, an assignment, a claim sent for review or
    decided (its author), a webhook disabled (the case's owners).
    It holds what happened and to what (ids), never text: what it says is rendered when it is
    read, through the recipient's reader (`evidence.services.notifications`), so that no
    protected identity reaches someone below editor, in the page or in an email."""

    class Kind(models.TextChoices):
        MENTION = "mention", "Mentioned you"
        ASSIGNED = "assigned", "Assigned to you"
        SUBMITTED = "submitted", "Submitted for review"
        REVIEWED = "reviewed", "Your claim reviewed"
        REOPENED = "reopened", "Your claim reopened"
        WEBHOOK_DISABLED = "webhook_disabled", "A webhook disabled"

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="+")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    kind = models.CharField(max_length=16, choices=Kind.choices)
    claim = models.ForeignKey(
        Claim, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    evidence = models.ForeignKey(
        Evidence, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    # Where the mention was: a comment, or a link's note.
    comment = models.ForeignKey(
        Comment, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    link = models.ForeignKey(
        EvidenceLink, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    webhook = models.ForeignKey(
        "Webhook", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    # A review's decision, or the decision a reopening undid (a `Claim.Status` value).
    claim_status = models.CharField(max_length=16, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["recipient", "read_at"]),
            models.Index(fields=["emailed_at", "created_at"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(
                    kind__in=[
                        "mention",
                        "assigned",
                        "submitted",
                        "reviewed",
                        "reopened",
                        "webhook_disabled",
                    ]
                ),
                name="notification_kind_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} for {self.recipient_id}"


class NotificationSettings(models.Model):
    """How a person wants to hear of their notifications by email."""

    class Email(models.TextChoices):
        IMMEDIATE = "immediate", "At once"
        DAILY = "daily", "A daily summary"
        OFF = "off", "Never (only in Casefile)"

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_settings"
    )
    email = models.CharField(max_length=16, choices=Email.choices, default=Email.DAILY)
    last_digest_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(email__in=["immediate", "daily", "off"]),
                name="notificationsettings_email_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user_id}: {self.email}"


class OutboxTask(models.Model):
    """A task to hand to the broker, written in the same transaction as the work it asks for
    (a transactional outbox, evidence.enqueue): sent and deleted once that transaction commits,
    or, when the broker could not be reached, by the next recovery (every worker runs it)."""

    task = models.CharField(max_length=200)
    args = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)
    # Sends that failed (the broker unreachable), and the last reason.
    failures = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.task}{tuple(self.args)!r}"


# --- Webhooks (issue #17) ----------------------------------------------------------------------


class Webhook(models.Model):
    """An address a case's owner asked to be told of its events (evidence.webhooks): each
    event is a `WebhookDelivery`, signed with `secret`, delivered by a worker. Disabled after
    CASEFILE_WEBHOOK_DISABLE_AFTER deliveries in a row failed for good."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="webhooks")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    url = models.URLField(max_length=2000)
    events = models.JSONField(default=list)
    # The HMAC-SHA256 key of the signature; shown to the owner once, when the webhook is made.
    secret = models.CharField(max_length=100)
    active = models.BooleanField(default=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.CharField(max_length=300, blank=True)
    # Deliveries in a row that failed for good; a success sets it back to 0.
    failures_in_row = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"webhook {self.pk} → {self.url}"


class WebhookDelivery(models.Model):
    """One event for one webhook: its payload (fixed when the event happened), its attempts
    and the last answer. A worker claims it (`heartbeat_at`, evidence.leases), posts it, and
    either marks it delivered or schedules the next attempt (`next_attempt_at`, backing off)
    until CASEFILE_WEBHOOK_MAX_ATTEMPTS, then marks it failed."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"

    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=40)
    payload = models.JSONField(default=dict)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    response_code = models.PositiveIntegerField(null=True, blank=True)
    error = models.CharField(max_length=300, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["status", "next_attempt_at"])]

    def __str__(self) -> str:
        return f"{self.event} → webhook {self.webhook_id} ({self.status})"


class Capture(models.Model):
    """One capture of a web link's page (evidence.services.captures): what the browser saw at
    that moment, its files kept under their hashes. Every capture is kept; "Capture again"
    adds one."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"

    evidence = models.ForeignKey(Evidence, on_delete=models.CASCADE, related_name="captures")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    failure_reason = models.CharField(max_length=500, blank=True)
    # What fell short: host, refused, tls, http, timeout, size, requests, address, …
    failure_kind = models.CharField(max_length=16, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    # Pending: when its task was last sent (the recovery sends a lost one again). Running: the
    # lease, as for photos (evidence.leases).
    dispatched_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    # What the browser saw.
    captured_at = models.DateTimeField(null=True, blank=True)
    final_url = models.URLField(max_length=2000, blank=True)
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    title = models.CharField(max_length=300, blank=True)
    response_headers = models.JSONField(default=list, blank=True)
    # The TLS certificate of an https page: subject, issuer, validity, protocol.
    tls = models.JSONField(null=True, blank=True)
    redirects = models.JSONField(default=list, blank=True)
    # Requests refused by the address rule (config.outbound): url and reason.
    refused = models.JSONField(default=list, blank=True)
    requests = models.PositiveIntegerField(default=0)
    bytes = models.BigIntegerField(default=0)
    # The images of the page, each its own evidence item ("from the capture of …").
    media = models.ManyToManyField(Evidence, blank=True, related_name="found_in_captures")

    class Meta:
        ordering = ["evidence", "-created_at", "-id"]
        indexes = [models.Index(fields=["status", "dispatched_at"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["pending", "running", "ready", "failed"]),
                name="capture_status_valid",
            ),
            models.CheckConstraint(
                condition=~Q(status="failed") | ~Q(failure_reason=""),
                name="capture_failure_has_reason",
            ),
        ]

    def __str__(self) -> str:
        return f"capture {self.pk} of evidence {self.evidence_id} ({self.status})"


class CaptureFile(models.Model):
    """A file of a capture, stored once under its hash and never modified."""

    class Role(models.TextChoices):
        SCREENSHOT = "screenshot", "Screenshot (desktop)"
        SCREENSHOT_FULL = "screenshot_full", "Full-page screenshot (desktop)"
        SCREENSHOT_PHONE = "screenshot_phone", "Screenshot (phone)"
        HTML = "html", "Rendered HTML"
        TEXT = "text", "Page text"
        PDF = "pdf", "PDF"
        ARCHIVE = "archive", "Web archive (WARC)"
        VIDEO = "video", "Video linked from the page"

    capture = models.ForeignKey(Capture, on_delete=models.CASCADE, related_name="files")
    role = models.CharField(max_length=16, choices=Role.choices)
    name = models.CharField(max_length=100)
    file = models.FileField(max_length=300)
    sha256 = models.CharField(max_length=64)
    size = models.BigIntegerField()
    content_type = models.CharField(max_length=100)
    # A video: where the page linked it.
    source_url = models.URLField(max_length=2000, blank=True)

    class Meta:
        ordering = ["capture", "id"]
        constraints = [
            models.UniqueConstraint(fields=["capture", "name"], name="capturefile_unique_name"),
            models.CheckConstraint(
                condition=Q(sha256__regex=r"^[0-9a-f]{64}$"), name="capturefile_has_sha256"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} of capture {self.capture_id}"
