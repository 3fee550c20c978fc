"""The case file export: a ZIP bundle that whoever receives it can verify without our database,
and that another Casefile can import.

A bundle holds:

- `manifest.json`: the case, its members' roles, its sources (a protected source by its pseudonym
  unless an owner asked for identities), every evidence item with its SHA-256, metadata and
  custody record, every claim with its status, review history and links, the case's activity
  chain, and the SHA-256 and size of every other file of the bundle;
- `originals/…` (when asked for) or only `previews/…` (upright, metadata stripped);
- `report.html`: a self-contained, printable report (thumbnails embedded as data URIs), rendered
  and written one part at a time;
- `signing-key.pem`: the newsroom's public key; the manifest names its fingerprint and carries
  the case's signed checkpoints (one is written for the export itself);
- `manifest.json.sig`: the raw Ed25519 signature of manifest.json, by the newsroom's key;
- `SHA256SUMS`: the hashes of all of the above, in the format `sha256sum -c` reads, and
  `SHA256SUMS.sig`, its signature.

The bundle is written file by file to a temporary file, then copied to storage: no original
and never the bundle is held whole in memory.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import os
import re
import shutil
import socket
import tempfile
import time
import zipfile
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import PurePosixPath

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.files.storage import default_storage
from django.core.serializers.json import DjangoJSONEncoder
from django.db import DatabaseError, connection, transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from cases import signing, timestamps
from cases.activity import (
    Verb,
    activity_chain_problems,
    activity_record,
    checkpoint_entries,
    checkpoint_write,
)
from cases.models import Activity, Case, Claim
from cases.policy import require
from cases.selectors import members_of
from cases.services import checkpoint_timestamp
from evidence import enqueue
from evidence.bundle.manifest import (
    CHUNK,
    FORMAT,
    FORMAT_VERSION,
    KEY_FILE,
    SIGNATURE_FILE,
    STORED_TYPES,
    SUMS_SIGNATURE_FILE,
    TIMESTAMP_FILE,
    TSA_CERTIFICATES_FILE,
    BundleError,
    Hashing,
    file_sha256,
)
from evidence.bundle.report import report_write
from evidence.corroboration import claims_corroboration
from evidence.custody import custody_entries
from evidence.imaging.metadata import capture_time_text
from evidence.leases import expired_before, lease_kept
from evidence.models import Evidence, EvidenceLink, Export, Photo, Source
from evidence.reader import Reader
from evidence.selectors import (
    EXPORT_VERB,
    captures_of,
    exports_carrying,
    exports_past_retention,
)
from evidence.services.timestamps import evidence_timestamps
from evidence.services.video_exports import video_export_row

logger = logging.getLogger(__name__)

# Unfinished exports a case may have at once: a double click must not start ten.
MAX_UNFINISHED = 3
# A running export whose worker stopped renewing its lease (evidence.leases) was abandoned and
# may be taken over. An export still queued this long after it was last sent lost its task (the
# broker lost it) and is sent again; sending one twice is harmless (see _claim_job). A task
# that never reached the broker waits in the outbox instead, sent as soon as the broker is back.
RESEND_AFTER = timedelta(minutes=5)
# An export that has not started after this long is given up, with the reason: it no longer
# holds one of the case's MAX_UNFINISHED places.
START_WITHIN = timedelta(hours=24)


# --- Requesting and downloading -------------------------------------------------------------


def export_request(*, actor, case: Case, originals: bool, reveal_protected: bool) -> Export:
    """Ask for an export of the case (editors and owners; identities of protected sources
    only for owners). The bundle is written by `case_export_task` after the commit; the
    export's `dispatch` (not stored) then says whether the task reached the broker: when it
    did not, the task waits in the outbox and is sent by the next recovery.

    The case's exports that wait for a worker are looked after first, in their own
    transaction (kept even when this request is refused): lost ones are sent again, those
    that never started are given up and no longer count against MAX_UNFINISHED."""
    require(actor, case, "export.create")
    if reveal_protected:
        require(actor, case, "export.create_revealing")
    now = timezone.now()
    with transaction.atomic():
        _exports_give_up(case.exports.all(), now=now)
        for export_id in _exports_to_resend(case.exports.all(), now=now):
            enqueue.task_on_commit(enqueue.CASE_EXPORT, export_id)
    with transaction.atomic():
        unfinished = case.exports.filter(status__in=[Export.Status.QUEUED, Export.Status.RUNNING])
        if unfinished.count() >= MAX_UNFINISHED:
            raise ValidationError(
                f"This case already has {MAX_UNFINISHED} exports in progress: "
                "wait for one to finish."
            )
        export = Export.objects.create(
            case=case,
            requested_by=actor,
            originals=bool(originals),
            reveal_protected=bool(reveal_protected),
        )
        activity_record(
            case=case,
            actor=actor,
            verb=Verb.EXPORT_REQUESTED,
            target=export,
            data={"originals": export.originals, "reveal_protected": export.reveal_protected},
        )
        export.dispatch = enqueue.task_on_commit(enqueue.CASE_EXPORT, export.pk)
    return export


def exports_requeue_stale(*, now: datetime | None = None, limit: int = 1000) -> list[int]:
    """Send again the exports that still wait for a worker: running but abandoned (the lease
    ran out: its worker died) or queued RESEND_AFTER since they were last sent (the task was
    lost); and give up, with the reason, those queued for longer than START_WITHIN. Returns the
    ids sent; with the broker unreachable it stops at the first failure, the rest wait for the
    next run. Part of every worker's recovery (evidence.services.recovery).

    Safe to run twice, or while the first task of an export is still in the queue: whichever
    delivery comes second finds the job taken and does nothing. Once sent, an abandoned export
    is queued again and a queued one's `dispatched_at` is set, so that the next recovery does
    not send it again while it waits its turn."""
    now = now or timezone.now()
    _exports_give_up(Export.objects.all(), now=now)
    sent = []
    for export_id in _exports_to_resend(Export.objects.all(), now=now)[:limit]:
        if not enqueue.task_send(enqueue.CASE_EXPORT, export_id):
            break
        sent.append(export_id)
    Export.objects.filter(_abandoned(now), pk__in=sent).update(
        status=Export.Status.QUEUED, started_at=None, heartbeat_at=None, progress=0
    )
    Export.objects.filter(pk__in=sent, status=Export.Status.QUEUED).update(dispatched_at=now)
    return sent


def _abandoned(now: datetime) -> Q:
    return Q(status=Export.Status.RUNNING) & (
        Q(heartbeat_at__lt=expired_before(now)) | Q(heartbeat_at__isnull=True)
    )


def _exports_to_resend(exports, *, now: datetime):
    return (
        exports.annotate(last_sent=Coalesce("dispatched_at", "created_at"))
        .filter(Q(status=Export.Status.QUEUED, last_sent__lt=now - RESEND_AFTER) | _abandoned(now))
        .order_by("created_at", "pk")
        .values_list("pk", flat=True)
    )


def _exports_give_up(exports, *, now: datetime) -> None:
    reason = (
        f"The export did not start within {START_WITHIN.total_seconds() / 3600:.0f} hours "
        "(the task queue was unreachable); request it again."
    )
    waiting = exports.filter(status=Export.Status.QUEUED, created_at__lt=now - START_WITHIN)
    for export in waiting.select_related("case"):
        with transaction.atomic():
            # Conditional: a worker may take it at this very moment.
            if Export.objects.filter(pk=export.pk, status=Export.Status.QUEUED).update(
                status=Export.Status.FAILED, error=reason, finished_at=now
            ):
                activity_record(
                    case=export.case,
                    actor=None,
                    verb=Verb.EXPORT_FAILED,
                    target=export,
                    data={"reason": reason},
                )


def export_open(*, actor, export: Export):
    """Open a finished bundle for download (editors and owners; a bundle with protected
    identities, owners only). Every download is recorded."""
    case = export.case
    require(actor, case, "export.download")
    if export.reveal_protected:
        require(actor, case, "export.download_revealing")
    if export.status == Export.Status.EXPIRED:
        raise ValidationError(
            f"This export expired on {export.expired_at:%d %b %Y}: its bundle was deleted "
            f"(bundles are kept {settings.CASEFILE_EXPORT_RETENTION_DAYS} days). "
            "Export the case again.",
            code="export_expired",
        )
    if export.status != Export.Status.READY or not export.file:
        raise ValidationError(
            f"This export is {export.get_status_display().lower()}, not ready.",
            code="export_not_ready",
        )
    handle = default_storage.open(export.file.name, "rb")
    with transaction.atomic():
        activity_record(
            case=case,
            actor=actor,
            verb=Verb.EXPORT_DOWNLOADED,
            target=export,
            data={"sha256": export.sha256},
        )
    return handle


def export_filename(export: Export) -> str:
    return f"casefile-{export.case_id}-export-{export.pk}.zip"


# --- Expiry -----------------------------------------------------------------------------------


def exports_expire(*, now: datetime | None = None) -> list[int]:
    """Delete the bundles of exports written more than CASEFILE_EXPORT_RETENTION_DAYS ago and
    mark them expired; return their ids. The export rows stay, and with them the record of who
    exported what, when, with which SHA-256 (each expiry is an `export.expired` activity row).

    Safe to run twice, or in two places at once: each export is taken under a row lock. A bundle
    the storage will not delete leaves its export ready, for the next run.
    """
    now = now or timezone.now()
    expired = []
    for export_id in exports_past_retention(now=now).values_list("pk", flat=True):
        try:
            if _export_expire(export_id, now=now):
                expired.append(export_id)
        except TRANSIENT + (OSError,):
            logger.warning("Export %s: could not expire it, will retry", export_id, exc_info=True)
    return expired


@transaction.atomic
def _export_expire(export_id: int, *, now: datetime) -> bool:
    export = (
        Export.objects.select_for_update(of=("self",))
        .select_related("case")
        .filter(pk=export_id, status=Export.Status.READY)
        .first()
    )
    if export is None:  # taken by another run, or no longer ready
        return False
    name = export.file.name
    Export.objects.filter(pk=export.pk).update(
        status=Export.Status.EXPIRED, file="", expired_at=now
    )
    activity_record(
        case=export.case,
        actor=None,
        verb=Verb.EXPORT_EXPIRED,
        target=export,
        data={
            "export": export.pk,
            "sha256": export.sha256,
            "size": export.size,
            "finished_at": export.finished_at,
            "retention_days": settings.CASEFILE_EXPORT_RETENTION_DAYS,
        },
    )
    # Last, inside the transaction: if the storage refuses, nothing above is kept.
    default_storage.delete(name)
    return True


# --- Building the bundle ------------------------------------------------------------------


def _claim_job(export_id: int) -> int | None:
    """Take the job (queued, or running but abandoned); return this attempt's number."""
    now = timezone.now()
    claimable = Q(status=Export.Status.QUEUED) | _abandoned(now)
    with transaction.atomic():
        taken = Export.objects.filter(claimable, pk=export_id).update(
            status=Export.Status.RUNNING,
            attempts=F("attempts") + 1,
            started_at=now,
            heartbeat_at=now,
            progress=0,
        )
        if not taken:
            return None
        return Export.objects.filter(pk=export_id).values_list("attempts", flat=True).get()


def export_build(*, export_id: int, keep_lease: bool = False) -> str:
    """Write the bundle of one export (the work of `case_export_task`); return its status.

    Safe to run twice: a finished export is left alone, a running one belongs to its worker
    until its lease runs out, and every write checks that this attempt still owns the job. A
    worker passes `keep_lease` (see `photo_process`).
    """
    attempt = _claim_job(export_id)
    if attempt is None:
        status = Export.objects.filter(pk=export_id).values_list("status", flat=True).first()
        return status or "missing"
    mine = Export.objects.filter(pk=export_id, status=Export.Status.RUNNING, attempts=attempt)
    if not keep_lease:
        return _build(export_id, attempt, mine)

    def renew() -> bool:
        return bool(mine.update(heartbeat_at=timezone.now()))

    with lease_kept(renew, what=f"export {export_id}"):
        return _build(export_id, attempt, mine)


# --- Temporary files ------------------------------------------------------------------------

# A bundle being written is named after its export, attempt, process and host, so that the
# recovery can tell a live attempt's file from one a dead worker left behind.
TEMP_NAME = re.compile(r"^casefile-export-(\d+)-a(\d+)-p(\d+)-(.*)~\w+\.zip$")


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9.-]", "_", socket.gethostname())[:60]


def _temp_dir() -> str:
    # The upload temporary folder when one is set: it is sized for large files.
    return getattr(settings, "FILE_UPLOAD_TEMP_DIR", None) or tempfile.gettempdir()


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def export_temp_files_remove() -> list[str]:
    """Remove the bundles left half-written in the temporary folder: those of an export that
    is no longer running that attempt (finished, failed, taken over), and those whose writer, a
    process on this host, is gone (a killed worker). Returns the names removed. Part of every
    worker's recovery, first when the worker starts."""
    folder = _temp_dir()
    try:
        names = os.listdir(folder)
    except OSError:
        return []
    found = {}
    for name in names:
        match = TEMP_NAME.match(name)
        if match:
            found[name] = (int(match[1]), int(match[2]), int(match[3]), match[4])
    if not found:
        return []
    running = dict(
        Export.objects.filter(
            pk__in={export_id for export_id, *_ in found.values()}, status=Export.Status.RUNNING
        ).values_list("pk", "attempts")
    )
    removed = []
    host = _host()
    for name, (export_id, attempt, pid, on_host) in found.items():
        live = running.get(export_id) == attempt and (on_host != host or _process_alive(pid))
        if live:
            continue
        try:
            os.unlink(os.path.join(folder, name))
        except FileNotFoundError:
            continue
        except OSError:
            logger.warning("Could not remove the stale export file %s", name, exc_info=True)
            continue
        removed.append(name)
    return removed


def _give_back(mine) -> None:
    """Queue the job again after a transient error, for the retry; one more try on a fresh
    connection when the database is what failed (after that, the lease running out frees it)."""
    for _ in range(2):
        try:
            mine.update(status=Export.Status.QUEUED, started_at=None, heartbeat_at=None)
            return
        except DatabaseError:
            connection.close()


def _build(export_id: int, attempt: int, mine) -> str:
    export = Export.objects.select_related("case", "requested_by").get(pk=export_id)
    tmp = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed in the finally below
        prefix=f"casefile-export-{export_id}-a{attempt}-p{os.getpid()}-{_host()}~",
        suffix=".zip",
        delete=False,
        dir=_temp_dir(),
    )
    try:
        writer = BundleWriter(export, tmp, progress=lambda p: mine.update(progress=p))
        bundle = writer.write()
        delay = settings.CASEFILE_PIPELINE_TEST_DELAY_SECONDS
        if delay:  # only the fault-injection tests set this, to break things mid-export
            time.sleep(delay)
        tmp.close()
        digest, size = file_sha256(tmp.name)
        name = f"exports/{export.case_id}/{export_filename(export)}"
        with transaction.atomic():
            # Lock the job, so that a takeover cannot finish it at the same moment.
            if not mine.select_for_update().exists():
                return Export.Status.RUNNING
            if default_storage.exists(name):
                default_storage.delete(name)
            with open(tmp.name, "rb") as handle:
                saved = default_storage.save(name, File(handle, name=os.path.basename(name)))
            mine.update(
                status=Export.Status.READY,
                progress=100,
                file=saved,
                sha256=digest,
                size=size,
                error="",
                finished_at=timezone.now(),
            )
            writer.reader.record()  # the protected identities the bundle carries
            activity_record(
                case=export.case,
                actor=export.requested_by,
                verb=EXPORT_VERB,
                target=export,
                data={
                    "export": export.pk,
                    "originals": export.originals,
                    "reveal_protected": export.reveal_protected,
                    "sha256": digest,
                    "size": size,
                    "evidence": bundle.evidence_ids,
                    "originals_included": bundle.originals_included,
                },
            )
        return Export.Status.READY
    except TRANSIENT as exc:
        # Storage or the database briefly away: give the job back for the retry.
        _give_back(mine)
        logger.warning("Export %s: transient error, will retry: %s", export_id, exc)
        raise
    except Exception as exc:
        logger.exception("Export %s failed", export_id)
        reason = _failure_reason(exc)
        with transaction.atomic():
            if mine.update(
                status=Export.Status.FAILED, error=reason[:500], finished_at=timezone.now()
            ):
                activity_record(
                    case=export.case,
                    actor=None,
                    verb=Verb.EXPORT_FAILED,
                    target=export,
                    data={"reason": reason[:500]},
                )
        return Export.Status.FAILED
    finally:
        tmp.close()
        try:
            os.unlink(tmp.name)
        except FileNotFoundError:
            pass


def _failure_reason(exc: Exception) -> str:
    from celery.exceptions import SoftTimeLimitExceeded

    if isinstance(exc, SoftTimeLimitExceeded):
        return "The export took too long and was stopped; try again without originals."
    return f"The export could not be written ({type(exc).__name__}: {exc})."


def _transient() -> tuple[type[BaseException], ...]:
    from django.db import InterfaceError, OperationalError

    return (OperationalError, InterfaceError, ConnectionError, TimeoutError)


TRANSIENT = _transient()


@dataclass
class Written:
    evidence_ids: list[int] = field(default_factory=list)
    originals_included: list[int] = field(default_factory=list)


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


def _user(user) -> str | None:
    return user.username if user is not None else None


def _extension(evidence: Evidence) -> str:
    name = PurePosixPath(evidence.original_name or "").suffix.lower()
    if re.fullmatch(r"\.[a-z0-9]{1,8}", name or ""):
        return name
    return {
        "image/jpeg": ".jpg",
        "image/png": ".png",
        "image/webp": ".webp",
        "image/gif": ".gif",
        "image/tiff": ".tif",
        "application/pdf": ".pdf",
    }.get(evidence.content_type, ".bin")


class BundleWriter:
    """Writes one export's bundle into an open, seekable binary file."""

    def __init__(self, export: Export, target, *, progress=None, signed: bool = True):
        # `signed=False` only for the signing benchmark's baseline: a bundle as format 2 wrote
        # it, with no signature, key or checkpoint.
        self.signed = signed
        self.export = export
        self.case = export.case
        self.reveal = export.reveal_protected
        # What the bundle may show: the export's options decide (checked when it was asked).
        self.reader = Reader(
            actor=export.requested_by, case=self.case, via="export", reveal=self.reveal
        )
        self.originals = export.originals
        self.target = target
        self.progress = progress or (lambda p: None)
        self.files: dict[str, dict] = {}
        self.now = timezone.now().replace(microsecond=0)
        # Where each item's thumbnail lies in the spool (see write): the report embeds it.
        self.thumbnail_at: dict[int, tuple[int, int]] = {}
        # Read once for every item's custody record.
        self.exports = exports_carrying(case_id=export.case_id)
        # The originals' trusted timestamps, read once (signed bundles only).
        self.timestamps = {}
        if signed:
            self.timestamps = evidence_timestamps(
                Evidence.objects.filter(case=self.case).values_list("pk", flat=True)
            )

    # Files of the bundle.

    def _info(self, name: str, content_type: str) -> zipfile.ZipInfo:
        info = zipfile.ZipInfo(name, date_time=self.now.timetuple()[:6])
        stored = any(content_type.startswith(t) for t in STORED_TYPES)
        info.compress_type = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
        info.external_attr = 0o644 << 16
        return info

    @contextmanager
    def member(self, name: str, *, content_type: str):
        """A file of the bundle open for writing, hashed on the way (for the manifest and
        SHA256SUMS)."""
        with self.zip.open(self._info(name, content_type), "w", force_zip64=True) as out:
            hashing = Hashing(out)
            yield hashing
        self.files[name] = {"sha256": hashing.sha256.hexdigest(), "size": hashing.size}

    def add_stream(self, name: str, source, *, content_type: str) -> dict:
        """Copy an open binary file into the bundle in chunks."""
        with self.member(name, content_type=content_type) as out:
            shutil.copyfileobj(source, out, CHUNK)
        return self.files[name]

    def add_bytes(self, name: str, data: bytes, *, content_type: str) -> dict:
        return self.add_stream(name, io.BytesIO(data), content_type=content_type)

    # The whole.

    def write(self) -> Written:
        written = Written()
        items = list(
            Evidence.objects.filter(case=self.case, deleted_at__isnull=True)
            .select_related("source", "collected_by", "photo", "video", "text_reading")
            .prefetch_related(
                "photo__flags",
                "video__flags",
                "video__keyframes",
                "provenances__source",
                "provenances__received_by",
            )
            .order_by("observed_at", "stated_on", "id")
        )
        tombstones = list(
            Evidence.objects.filter(case=self.case, deleted_at__isnull=False)
            .select_related("source", "collected_by", "deleted_by", "purged_by")
            .order_by("deleted_at", "id")
        )
        total = max(1, len(items)) + 2
        done = 0
        last = -1
        with (
            zipfile.ZipFile(self.target, "w", allowZip64=True) as self.zip,
            # The thumbnails the report embeds, kept on disk (not in memory) until it is written.
            tempfile.TemporaryFile(
                dir=getattr(settings, "FILE_UPLOAD_TEMP_DIR", None)
            ) as self.spool,
        ):
            evidence_rows = []
            for evidence in items:
                evidence_rows.append(self._evidence(evidence, written))
                written.evidence_ids.append(evidence.pk)
                done += 1
                percent = min(95, int(done * 100 / total))
                if percent != last:
                    self.progress(percent)
                    last = percent
            sources = list(self.case.sources.order_by("id"))
            manifest = self._manifest(sources, items, evidence_rows, tombstones)
            with self.member("report.html", content_type="text/html") as out:
                report_write(
                    out,
                    manifest,
                    thumbnail=self._thumbnail,
                    status_labels=dict(Claim.Status.choices),
                )
            manifest["report"] = {"file": "report.html", **self.files["report.html"]}
            if self.signed:
                key = signing.public_key()
                self.add_bytes(KEY_FILE, signing.public_pem(key), content_type="text/plain")
                manifest["signing"] = {
                    "algorithm": signing.ALGORITHM,
                    "key_fingerprint": signing.fingerprint(key),
                    "public_key": KEY_FILE,
                    "signature": SIGNATURE_FILE,
                    "sums_signature": SUMS_SIGNATURE_FILE,
                }
                manifest["timestamps"] = self._tsa_certificates(manifest)
            manifest["files"] = dict(sorted(self.files.items()))
            data = json.dumps(
                manifest, cls=DjangoJSONEncoder, indent=1, ensure_ascii=False
            ).encode()
            self.add_bytes("manifest.json", data, content_type="application/json")
            if self.signed:
                # Listed in SHA256SUMS, so that `sha256sum -c` vouches for it too.
                signature = signing.sign(data)
                self.add_bytes(SIGNATURE_FILE, signature, content_type="application/octet-stream")
                token = self._export_timestamp(signature)
                if token is not None:
                    # In SHA256SUMS too (the manifest cannot list it: it stamps its signature).
                    self.add_bytes(
                        TIMESTAMP_FILE, token, content_type="application/timestamp-reply"
                    )
            sums = "".join(f"{entry['sha256']}  {name}\n" for name, entry in self.files.items())
            with self.zip.open(self._info("SHA256SUMS", "text/plain"), "w") as out:
                out.write(sums.encode())
            if self.signed:
                info = self._info(SUMS_SIGNATURE_FILE, "application/octet-stream")
                with self.zip.open(info, "w") as out:
                    out.write(signing.sign(sums.encode()))
        self.progress(99)
        return written

    def _export_timestamp(self, signature: bytes) -> bytes | None:
        """The TSA's token over the SHA-256 of the manifest's signature (None without a TSA, or
        when it fails: the bundle is then signed, without a trusted time)."""
        if not timestamps.tsa_configured():
            return None
        try:
            return timestamps.token_fetch(timestamps.sha256(signature))
        except timestamps.TimestampUnavailable as exc:
            logger.warning("Export %s left without a trusted timestamp: %s", self.export.pk, exc)
            return None

    def _tsa_certificates(self, manifest: dict) -> dict:
        """The certificates a reader checks the bundle's trusted timestamps with, written as
        TSA_CERTIFICATES_FILE (the configured CASEFILE_TSA_CA_FILE, else the self-signed roots
        the bundle's tokens carry), and the manifest's word on them."""
        certificates = timestamps.tsa_certificates()
        if not certificates:
            for entry in manifest["activity"]["checkpoints"]:
                if entry.get("timestamp"):
                    info = timestamps.token_read(base64.b64decode(entry["timestamp"]))
                    certificates += [c for c in info.certificates if c.issuer == c.subject]
        if not certificates:
            return {"certificates": None, "export_token": TIMESTAMP_FILE}
        self.add_bytes(
            TSA_CERTIFICATES_FILE,
            timestamps.certificates_pem(certificates),
            content_type="text/plain",
        )
        return {"certificates": TSA_CERTIFICATES_FILE, "export_token": TIMESTAMP_FILE}

    def _evidence(self, evidence: Evidence, written: Written) -> dict:
        hide = not self.reader.shows_place(evidence)
        source = evidence.source
        photo = getattr(evidence, "photo", None) if evidence.kind == Evidence.Kind.PHOTO else None
        row = {
            "id": evidence.pk,
            "kind": evidence.kind,
            "title": evidence.title,
            "label": evidence.label,
            "description": evidence.description,
            "source": source.pk if source else None,
            "source_name": self.reader.source_name(source),
            "collected_by": _user(evidence.collected_by),
            "created_at": _iso(evidence.created_at),
            "observed_at": _iso(evidence.observed_at),
            "stated_on": _iso(evidence.stated_on),
            "place_name": "" if hide else evidence.place_name,
            "latitude": None if hide else evidence.latitude,
            "longitude": None if hide else evidence.longitude,
            "location_withheld": hide and evidence.latitude is not None,
            "url": evidence.url,
            "text": evidence.text,
            "sensitive": evidence.sensitive,
            "original_name": evidence.original_name,
            "sha256": evidence.sha256,
            "size": evidence.size,
            "content_type": evidence.content_type,
            "file": None,
            "preview": None,
            "thumbnail": None,
            "original_withheld": None,
            "photo": None,
            "video": None,
        }
        if evidence.has_file:
            # The original carries its metadata (EXIF, GPS): it goes only into a bundle that
            # asked for originals, and never for a protected source whose identity is withheld.
            if not self.originals:
                row["original_withheld"] = "previews only"
            elif hide or not self.reader.shows_identity(source):
                row["original_withheld"] = "protected source"
            elif evidence.original:
                name = f"originals/{evidence.pk}-{evidence.sha256[:12]}{_extension(evidence)}"
                with default_storage.open(evidence.original.name, "rb") as handle:
                    entry = self.add_stream(name, handle, content_type=evidence.content_type)
                if entry["sha256"] != evidence.sha256:
                    raise BundleError(
                        f"The stored original of evidence {evidence.pk} no longer matches its "
                        "SHA-256: run `manage.py verify_custody` before exporting."
                    )
                row["file"] = name
                written.originals_included.append(evidence.pk)
            else:
                row["original_withheld"] = "not held"
        if photo is not None:
            row["photo"] = self._photo(evidence, photo, hide=hide)
            for kind in ("preview", "thumbnail"):
                derivative = getattr(photo, kind)
                if derivative:
                    name = f"{kind}s/{evidence.pk}.jpg"
                    with default_storage.open(derivative.name, "rb") as handle:
                        if kind == "thumbnail":
                            data = handle.read()  # small by construction
                            offset = self.spool.seek(0, os.SEEK_END)
                            self.spool.write(data)
                            self.thumbnail_at[evidence.pk] = (offset, len(data))
                            self.add_bytes(name, data, content_type="image/jpeg")
                        else:
                            self.add_stream(name, handle, content_type="image/jpeg")
                    row[kind] = name
        row["provenance"] = [
            {
                "source": p.source_id,
                "source_name": self.reader.source_name(p.source),
                "by": _user(p.received_by),
                "at": _iso(p.received_at),
                "original_name": p.original_name,
            }
            for p in sorted(evidence.provenances.all(), key=lambda p: (p.received_at, p.pk))
        ]
        # The text read in it (OCR, a PDF's text layer), as this export's reader may see it: a
        # photo's with the photo, a document's with identities (evidence.reader.text_shown).
        ocr = self.reader.text_read(evidence)
        row["ocr"] = (
            None
            if ocr["ocr_status"] is None
            else {
                **ocr,
                "ocr_languages": evidence.text_reading.languages,
                "ocr_software": evidence.text_reading.software,
            }
        )
        video = evidence.video_or_none
        if video is not None:
            row["video"] = video_export_row(
                video,
                with_metadata=bool(self.originals) and not hide,
                add_file=self._video_file,
            )
            row["thumbnail"] = row["video"]["poster"]
            row["preview"] = row["video"]["preview"]
        row["custody"] = custody_entries(
            evidence=evidence, reader=self.reader, exports=self.exports
        )
        if self.signed:
            # The original's SHA-256, timestamped at ingest (base64 of the TSA's reply).
            stamp = self.timestamps.get(evidence.pk)
            row["timestamp"] = base64.b64encode(bytes(stamp.token)).decode() if stamp else None
        if evidence.kind == Evidence.Kind.LINK:
            row["captures"] = self._captures(evidence)
        return row

    def _captures(self, evidence: Evidence) -> list[dict]:
        """Every capture of a link with its files, copied into the bundle and checked against
        the SHA-256 each was stored with."""
        rows = []
        for capture in captures_of(evidence=evidence).order_by("created_at", "id"):
            files = []
            for stored in capture.files.all():
                name = f"captures/{evidence.pk}/{capture.pk}/{stored.name}"
                with default_storage.open(stored.file.name, "rb") as handle:
                    entry = self.add_stream(name, handle, content_type=stored.content_type)
                if entry["sha256"] != stored.sha256:
                    raise BundleError(
                        f"The stored file {stored.name} of capture {capture.pk} (evidence "
                        f"{evidence.pk}) no longer matches its SHA-256: run `manage.py "
                        "verify_custody` before exporting."
                    )
                files.append(
                    {
                        "name": stored.name,
                        "role": stored.role,
                        "file": name,
                        "sha256": stored.sha256,
                        "size": stored.size,
                        "content_type": stored.content_type,
                    }
                )
            rows.append(
                {
                    "id": capture.pk,
                    "status": capture.status,
                    "failure_reason": capture.failure_reason,
                    "captured_at": _iso(capture.captured_at),
                    "final_url": capture.final_url,
                    "http_status": capture.http_status,
                    "title": capture.title,
                    "files": files,
                    "media": sorted(m.pk for m in capture.media.all() if m.deleted_at is None),
                }
            )
        return rows

    def _video_file(self, name: str, stored, *, content_type: str, thumbnail_of=None) -> str:
        """Copy one of a video's derivatives into the bundle; the poster is also the item's
        thumbnail in the report."""
        with default_storage.open(stored.name, "rb") as handle:
            if thumbnail_of is not None:
                data = handle.read()  # a 1280-px JPEG at most
                offset = self.spool.seek(0, os.SEEK_END)
                self.spool.write(data)
                self.thumbnail_at[thumbnail_of] = (offset, len(data))
                self.add_bytes(name, data, content_type=content_type)
            else:
                self.add_stream(name, handle, content_type=content_type)
        return name

    def _thumbnail(self, evidence_id: int) -> str | None:
        """An item's thumbnail as the report embeds it (base64), read back from the spool."""
        if evidence_id not in self.thumbnail_at:
            return None
        offset, size = self.thumbnail_at[evidence_id]
        self.spool.seek(offset)
        return base64.b64encode(self.spool.read(size)).decode()

    def _photo(self, evidence: Evidence, photo: Photo, *, hide: bool) -> dict:
        # Metadata read from the file is the original's: it travels with the original only.
        with_metadata = bool(self.originals) and not hide
        data = {
            "status": photo.status,
            "failure_reason": photo.failure_reason,
            "width": photo.width,
            "height": photo.height,
            "phash": photo.phash,
            "dhash": photo.dhash,
            "flags": [{"code": f.code, "message": f.message} for f in photo.flags.all()],
            "metadata_included": with_metadata,
        }
        if with_metadata:
            data.update(
                {
                    "taken_at": capture_time_text(photo.taken_at, photo.taken_at_offset),
                    "taken_at_offset": photo.taken_at_offset or None,
                    "taken_at_source": photo.taken_at_source or None,
                    "camera_make": photo.camera_make,
                    "camera_model": photo.camera_model,
                    "lens": photo.lens,
                    "software": photo.software,
                    "gps_latitude": photo.gps_latitude,
                    "gps_longitude": photo.gps_longitude,
                    "gps_altitude": photo.gps_altitude,
                    "orientation": photo.orientation,
                    **self.reader.photo_described(evidence, photo),
                    "embedded_images": photo.embedded_images,
                    "content_credentials": self.reader.credentials(evidence, photo),
                    "exif": photo.exif,
                }
            )
        if not with_metadata:
            # A flag's message may quote what the metadata said (a place, a date).
            data["flags"] = [
                {"code": f.code, "message": f.get_code_display()} for f in photo.flags.all()
            ]
        return data

    def _manifest(self, sources, items, evidence_rows, tombstones) -> dict:
        case = self.case
        claims = list(
            Claim.objects.filter(case=case)
            .select_related("author", "reviewer")
            .prefetch_related("transitions__actor")
            .order_by("created_at", "id")
        )
        links = defaultdict(list)
        for link in (
            EvidenceLink.objects.filter(claim__case=case, evidence__deleted_at__isnull=True)
            .select_related("created_by")
            .order_by("id")
        ):
            links[link.claim_id].append(
                {
                    "evidence": link.evidence_id,
                    "stance": link.stance,
                    "note": link.note,
                    "by": _user(link.created_by),
                    "at": _iso(link.created_at),
                }
            )
        corroboration = claims_corroboration(claims=claims, reader=self.reader)
        if self.signed:
            # The head as it stands now, signed: the chain below holds at least these rows.
            checkpoint = checkpoint_write(case=case, reason="export")
            try:
                checkpoint_timestamp(checkpoint=checkpoint)
            except timestamps.TimestampUnavailable as exc:
                logger.warning("Export checkpoint without a trusted timestamp: %s", exc)
        problems = activity_chain_problems(case=case)
        # Every row as chained; the values it commits to (a source's name, an item's place)
        # disclosed beside it only where this export may show them.
        rows = Activity.objects.filter(case=case).select_related("actor").order_by("id")
        activity = self.reader.chain(rows)
        actors = {row.pk: _user(row.actor) for row in rows}
        for entry in activity:
            entry["actor"] = actors[entry["id"]]
        return {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "exported_at": self.now.isoformat(),
            "exported_by": _user(self.export.requested_by),
            "export_id": self.export.pk,
            "options": {"originals": self.originals, "reveal_protected": self.reveal},
            "case": {
                "id": case.pk,
                "title": case.title,
                "summary": case.summary,
                "status": case.status,
                "created_by": _user(case.created_by),
                "created_at": _iso(case.created_at),
            },
            "members": [
                {
                    "username": m.user.username,
                    "name": m.user.get_full_name(),
                    "role": m.role,
                    "since": _iso(m.created_at),
                }
                for m in members_of(case=case)
            ],
            "sources": [self._source(s) for s in sources],
            "evidence": evidence_rows,
            "deleted_evidence": [
                {
                    "id": e.pk,
                    "kind": e.kind,
                    "label": e.label if not e.source or not e.source.protected else e.kind,
                    "sha256": e.sha256,
                    "size": e.size,
                    "deleted_at": _iso(e.deleted_at),
                    "deleted_by": _user(e.deleted_by),
                    "reason": e.deletion_reason,
                    "purged_at": _iso(e.purged_at),
                    "purged_by": _user(e.purged_by),
                    "custody": custody_entries(
                        evidence=e, reader=self.reader, exports=self.exports
                    ),
                }
                for e in tombstones
            ],
            "claims": [
                {
                    "id": c.pk,
                    "statement": c.statement,
                    "details": c.details,
                    "status": c.status,
                    "confidence": c.confidence,
                    "occurred_on": _iso(c.occurred_on),
                    "author": _user(c.author),
                    "reviewer": _user(c.reviewer),
                    "reviewed_at": _iso(c.reviewed_at),
                    "review_note": c.review_note,
                    "created_at": _iso(c.created_at),
                    "history": [
                        {
                            "from": t.from_status,
                            "to": t.to_status,
                            "by": _user(t.actor),
                            "note": t.note,
                            "at": _iso(t.created_at),
                        }
                        for t in c.transitions.all()
                    ],
                    "links": links[c.pk],
                    "corroboration": corroboration[c.pk],
                }
                for c in claims
            ],
            "activity": {
                "rows": len(activity),
                "head": activity[-1]["hash"] if activity else "",
                "intact_when_exported": not problems,
                "problems_when_exported": problems,
                "chain": activity,
                "checkpoints": checkpoint_entries(case.checkpoints.order_by("id"))
                if self.signed
                else [],
            },
        }

    def _source(self, source: Source) -> dict:
        reveal = self.reader.shows_identity(source)
        return {
            "id": source.pk,
            "kind": source.kind,
            "name": self.reader.source_name(source),
            "protected": source.protected,
            "pseudonym": source.pseudonym,
            "identity_included": reveal,
            "reliability": source.reliability,
            "notes": source.notes if reveal else None,
        }


# --- The report ---------------------------------------------------------------------------
