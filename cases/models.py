"""What an investigation asserts and who takes part in it."""

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q


class Role(models.TextChoices):
    """A member's role in one case, weakest first."""

    VIEWER = "viewer", "Viewer"
    REPORTER = "reporter", "Reporter"
    EDITOR = "editor", "Editor"
    OWNER = "owner", "Owner"

    @property
    def rank(self) -> int:
        return list(Role).index(self)

    def at_least(self, other: "Role") -> bool:
        return self.rank >= Role(other).rank


class Case(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", "Open"
        CLOSED = "closed", "Closed"
        ARCHIVED = "archived", "Archived"

    title = models.CharField(max_length=200)
    summary = models.TextField(blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    # The languages the text in the case's photos and scans is read in (Tesseract's names
    # joined by "+", e.g. "kor+chi_sim+eng"); blank: the server's CASEFILE_OCR_LANGUAGES.
    ocr_languages = models.CharField(
        max_length=100,
        blank=True,
        validators=[
            RegexValidator(
                r"^[a-z]{3}(_[a-z]+)?(\+[a-z]{3}(_[a-z]+)?)*$",
                "Tesseract's language names joined by +, e.g. kor+chi_sim+eng.",
            )
        ],
        help_text="Languages to read text in (kor+chi_sim+eng…); blank: the default.",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        through="Membership",
        through_fields=("case", "user"),
        related_name="cases",
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["open", "closed", "archived"]), name="case_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_open(self) -> bool:
        return self.status == self.Status.OPEN

    @property
    def reading_languages(self) -> str:
        """The languages text is read in for this case (its own, else the server's)."""
        return self.ocr_languages or settings.CASEFILE_OCR_LANGUAGES


class Membership(models.Model):
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=16, choices=Role.choices)
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["case", "user__username"]
        constraints = [
            models.UniqueConstraint(fields=["case", "user"], name="membership_unique_user"),
            models.CheckConstraint(
                condition=Q(role__in=["viewer", "reporter", "editor", "owner"]),
                name="membership_role_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.case} as {self.role}"

    @property
    def is_owner(self) -> bool:
        """An owner's membership: a case always keeps one (`cases.services`)."""
        return self.role == Role.OWNER


class Claim(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        IN_REVIEW = "in_review", "In review"
        SUPPORTED = "supported", "Supported"
        CONTRADICTED = "contradicted", "Contradicted"
        UNVERIFIED = "unverified", "Unverified"

    class Confidence(models.TextChoices):
        LOW = "low", "Low"
        MEDIUM = "medium", "Medium"
        HIGH = "high", "High"

    # The review workflow: every status change a person asks for must be one of these.
    TRANSITIONS: dict[str, frozenset[str]] = {
        "draft": frozenset({"in_review"}),
        "in_review": frozenset({"supported", "contradicted", "unverified", "draft"}),
        "supported": frozenset({"draft"}),
        "contradicted": frozenset({"draft"}),
        "unverified": frozenset({"draft"}),
    }
    DECISIONS = ("supported", "contradicted", "unverified", "draft")
    # A decision rests on the evidence it was made on: when that evidence changes, the claim
    # goes back to in_review by itself (`cases.services.claim_reopen`), a move that is not in
    # TRANSITIONS because no one makes it by hand. It then needs a fresh decision.
    DECIDED = frozenset({"supported", "contradicted", "unverified"})

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="claims")
    statement = models.CharField(max_length=500)
    details = models.TextField(blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    confidence = models.CharField(max_length=8, choices=Confidence.choices, blank=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="claims_written"
    )
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="claims_reviewed",
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    review_note = models.TextField(blank=True)
    # When the asserted event happened, if the claim is about a moment (for the timeline).
    occurred_on = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["case", "created_at", "id"]
        indexes = [
            models.Index(fields=["case", "status"]),
            # A case's claim list in its order: a page reads its rows instead of sorting them all.
            models.Index(fields=["case", "created_at", "id"], name="claim_case_created"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(
                    status__in=["draft", "in_review", "supported", "contradicted", "unverified"]
                ),
                name="claim_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(confidence__in=["", "low", "medium", "high"]),
                name="claim_confidence_valid",
            ),
            # A decided claim always says who decided it.
            models.CheckConstraint(
                condition=Q(status__in=["draft", "in_review"]) | Q(reviewer__isnull=False),
                name="claim_decision_has_reviewer",
            ),
        ]

    def __str__(self) -> str:
        return self.statement

    def can_move_to(self, status: str) -> bool:
        return status in self.TRANSITIONS.get(self.status, frozenset())


class ClaimTransition(models.Model):
    """One row of a claim's review history: from, to, who, when, why."""

    claim = models.ForeignKey(Claim, on_delete=models.CASCADE, related_name="transitions")
    from_status = models.CharField(max_length=16, choices=Claim.Status.choices)
    to_status = models.CharField(max_length=16, choices=Claim.Status.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["claim", "created_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(from_status=models.F("to_status")), name="transition_changes_status"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.claim_id}: {self.from_status} → {self.to_status}"


class Activity(models.Model):
    """The append-only record of every change in a case.

    Each row carries the hash of the previous row of its case, so that changing or deleting a
    row breaks the chain. What could identify a source or place a piece of evidence is held as a
    commitment, its value in `ActivitySecret` (see `cases.activity`).
    """

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="activity")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    verb = models.CharField(max_length=64)
    target_type = models.CharField(max_length=32, blank=True)
    target_id = models.BigIntegerField(null=True, blank=True)
    target_label = models.CharField(max_length=300, blank=True)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField()
    prev_hash = models.CharField(max_length=64, blank=True)
    hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["case", "id"]
        verbose_name_plural = "activity"
        indexes = [
            models.Index(fields=["case", "-id"]),
            models.Index(fields=["target_type", "target_id"]),
        ]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor} {self.verb} {self.target_label}"


class ActivitySecret(models.Model):
    """A value an activity row commits to without holding it: the salt and the value whose
    SHA-256 is in the row's chained content at `path` (`label`, or a JSON pointer into its data).
    Shown only to a reader who may see it (`evidence.reader`)."""

    activity = models.ForeignKey(Activity, on_delete=models.PROTECT, related_name="secrets")
    path = models.CharField(max_length=200)
    salt = models.CharField(max_length=64)
    value = models.JSONField()

    class Meta:
        ordering = ["activity", "id"]
        constraints = [
            models.UniqueConstraint(fields=["activity", "path"], name="activity_secret_unique")
        ]

    def __str__(self) -> str:
        return f"activity {self.activity_id} {self.path}"


class ActivityCheckpoint(models.Model):
    """A signed statement of a case's chain head: "the chain of case C had N rows, the last
    with hash H, at time T", signed with the newsroom's key (`cases.signing`). Written on a
    schedule and on every export (`cases.activity.checkpoint_write`); a chain that later has
    fewer rows, or another row at N, lost or rewrote rows the checkpoint vouched for.

    Append-only, like the record it vouches for (the database refuses UPDATE and DELETE)."""

    class Reason(models.TextChoices):
        SCHEDULE = "schedule", "Scheduled"
        EXPORT = "export", "Export"

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="checkpoints")
    rows = models.PositiveIntegerField()
    # The last row's hash and id ("" and None for a case without rows).
    head = models.CharField(max_length=64, blank=True)
    head_id = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField()
    reason = models.CharField(max_length=16, choices=Reason.choices)
    key_fingerprint = models.CharField(max_length=64)
    # Base64 of the raw Ed25519 signature of `cases.activity.checkpoint_statement`. Its
    # trusted timestamp, when there is one, is a `TrustedTimestamp` (taken after the row is
    # written, from outside the lock the row is written under).
    signature = models.CharField(max_length=100)

    class Meta:
        ordering = ["case", "id"]
        indexes = [models.Index(fields=["case", "-id"], name="checkpoint_case_latest")]
        constraints = [
            models.CheckConstraint(
                condition=Q(reason__in=["schedule", "export"]), name="checkpoint_reason_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"case {self.case_id}: {self.rows} rows at {self.created_at:%Y-%m-%d %H:%M}"


class TrustedTimestamp(models.Model):
    """An RFC 3161 token from the configured timestamp authority (`cases.timestamps`): proof
    that `digest` existed at `generated_at`. One per checkpoint (over the SHA-256 of its raw
    signature) and per original (its SHA-256, at ingest). Taken by a worker after the thing it
    timestamps was committed, so a TSA that is slow or down never holds up or fails the work;
    what has none yet is filled in later (`cases.services.timestamps_fill_due`).

    `tsa`, `generated_at` and `serial` are read from the token when it is stored (for lists);
    checks read the token itself. Append-only, like the record it vouches for."""

    class Subject(models.TextChoices):
        CHECKPOINT = "checkpoint", "Checkpoint"
        EVIDENCE = "evidence", "Original at ingest"

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="timestamps")
    subject = models.CharField(max_length=16, choices=Subject.choices)
    object_id = models.BigIntegerField()
    # Hex SHA-256 the token timestamps.
    digest = models.CharField(max_length=64)
    # The TSA's whole reply, DER (what `openssl ts -verify -in` reads).
    token = models.BinaryField()
    tsa = models.CharField(max_length=255)
    generated_at = models.DateTimeField()
    serial = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["case", "id"]
        constraints = [
            models.UniqueConstraint(fields=["subject", "object_id"], name="timestamp_one_each"),
            models.CheckConstraint(
                condition=Q(subject__in=["checkpoint", "evidence"]), name="timestamp_subject_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.subject} {self.object_id}: {self.tsa} at {self.generated_at:%Y-%m-%d %H:%M}"


class ApiToken(models.Model):
    """A key for the REST API. Only the key's SHA-256 is stored: a copy of the database cannot
    be used to sign in. The prefix (the key's first characters) identifies it to its owner."""

    class Scope(models.TextChoices):
        # A read token may do what the table calls a read (cases.policy.Rule.writes False).
        READ = "read", "Read"
        WRITE = "write", "Read and write"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    # What the token may reach: every case of its user (`all_cases`), or the cases named. A
    # token narrows its user's role, never widens it (cases.policy asks both).
    all_cases = models.BooleanField(default=True)
    cases = models.ManyToManyField("Case", blank=True, related_name="+")
    scope = models.CharField(max_length=8, choices=Scope.choices, default=Scope.WRITE)
    key_hash = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=12)
    name = models.CharField(max_length=100, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    expires = models.DateTimeField()
    last_used = models.DateTimeField(null=True, blank=True)
    revoked = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["user", "-created", "-id"]
        indexes = [models.Index(fields=["user", "revoked"])]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user})"

    @property
    def case_ids(self) -> frozenset[int]:
        """The ids of the cases the token names (read once per token instance)."""
        if "_case_ids" not in self.__dict__:
            self.__dict__["_case_ids"] = frozenset(self.cases.values_list("pk", flat=True))
        return self.__dict__["_case_ids"]

    def covers(self, case_id: int) -> bool:
        return self.all_cases or case_id in self.case_ids

    @property
    def read_only(self) -> bool:
        return self.scope == self.Scope.READ


class AccountActivity(models.Model):
    """The append-only record of changes to an account that belong to no case: API tokens
    issued and revoked, the account deactivated (see `cases.tokens`).

    A case's `Activity` is hash-chained per case and exported with it; a token is its user's,
    not a case's, so its record lives here, one row per change, never with the token's key.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="account_activity"
    )
    # Who made the change: the user, an administrator, or None for the system itself.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    verb = models.CharField(max_length=64)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["user", "id"]
        verbose_name_plural = "account activity"
        indexes = [models.Index(fields=["user", "-id"], name="account_activity_user")]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.user}: {self.verb}"


class SearchEntry(models.Model):
    """One searchable item of a case (a claim, a piece of evidence, a comment, a link's note, a
    source), as `cases.search` indexes it: the text every member may search (`title`, `body`)
    and the text only those who see protected identities there may (`private`: a protected
    source's name and notes, its evidence's place and byline). Written by the services that
    write the item (`cases.search.entry_put`), never by save() or a signal.

    The full-text indexes are the database's own: on PostgreSQL, stored tsvector columns
    generated from these columns with GIN indexes beside pg_trgm indexes; on SQLite, an FTS5
    table kept by triggers (both made by the migration, `cases.search`)."""

    class Type(models.TextChoices):
        CLAIM = "claim", "Claim"
        EVIDENCE = "evidence", "Evidence"
        COMMENT = "comment", "Comment"
        LINK = "link", "Link note"
        SOURCE = "source", "Source"

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="+")
    type = models.CharField(max_length=16, choices=Type.choices)
    object_id = models.BigIntegerField()
    # What the filters read: the evidence kind, the claim's or photo's status, the item's date,
    # its source (ids only: `cases` knows nothing of evidence's models).
    kind = models.CharField(max_length=16, blank=True)
    status = models.CharField(max_length=16, blank=True)
    occurred = models.DateTimeField(null=True, blank=True)
    source_id = models.BigIntegerField(null=True, blank=True)
    evidence_id = models.BigIntegerField(null=True, blank=True)
    claim_id = models.BigIntegerField(null=True, blank=True)
    title = models.TextField(blank=True)
    body = models.TextField(blank=True)
    private = models.TextField(blank=True)
    indexed_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["type", "object_id"], name="searchentry_one_per_item")
        ]
        indexes = [
            models.Index(fields=["case", "type"], name="searchentry_case_type"),
            models.Index(fields=["evidence_id"], name="searchentry_evidence"),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.object_id}"
