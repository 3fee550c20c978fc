"""Bulk import: a spreadsheet (CSV, or XLSX) of web links, testimony or sources, one row an
item, read with a column mapping, previewed with the errors of each row, and applied all or
nothing.

Every row goes through the service that makes one item by hand (`evidence_create`,
`source_create`), so that each leaves the same activity row, custody and queued work (a link's
capture) as single creation; one more row records the import itself (the file's SHA-256, how
many rows). A preview runs exactly the same calls inside a transaction that is then rolled
back: what it reports is what applying would do, and it leaves nothing behind (no row, no
queued task). Applying commits only when no row has an error.

The file is untrusted: its size, the number of rows (CASEFILE_IMPORT_MAX_ROWS) and of bytes a
cell may hold are capped before anything is made; it must be UTF-8 text or an XLSX workbook;
a text cell that a spreadsheet would run as a formula (`=…`, `+…`, `@…`, `-…` that is not a
number) is refused, so that nothing imported can turn into a formula when it is exported to a
spreadsheet again.
"""

from __future__ import annotations

import csv
import hashlib
import io
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import DataError, IntegrityError, transaction
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from openpyxl import load_workbook

from cases.activity import Verb, activity_record
from cases.models import Case
from cases.policy import require
from evidence.models import Evidence, Source
from evidence.reader import Reader
from evidence.services.evidence import evidence_create
from evidence.services.sources import source_create

KINDS = ("link", "testimony", "source")
# The fields of each kind a column may fill, the required ones first.
FIELDS: dict[str, tuple[str, ...]] = {
    "link": (
        "url",
        "title",
        "description",
        "source",
        "observed_at",
        "stated_on",
        "place_name",
        "latitude",
        "longitude",
        "sensitive",
    ),
    "testimony": (
        "text",
        "source",
        "title",
        "description",
        "observed_at",
        "stated_on",
        "place_name",
        "latitude",
        "longitude",
        "sensitive",
    ),
    "source": ("name", "kind", "protected", "pseudonym", "reliability", "notes"),
}
REQUIRED = {"link": ("url",), "testimony": ("text", "source"), "source": ("name", "kind")}
TEXT_FIELDS = frozenset(
    {"title", "description", "text", "place_name", "name", "pseudonym", "notes"}
)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
PREVIEW_ROWS = 20
XLSX_MAGIC = b"PK\x03\x04"


class ImportRefused(ValidationError):
    """The file as a whole cannot be imported (not a table, too large, no such column)."""


@dataclass
class RowError:
    row: int  # the line of the spreadsheet (the header is line 1)
    field: str
    message: str

    def as_dict(self) -> dict:
        return {"row": self.row, "field": self.field, "message": self.message}


@dataclass
class ImportResult:
    kind: str
    columns: list[str]
    mapping: dict[str, str]
    rows: int
    applied: bool = False
    errors: list[RowError] = field(default_factory=list)
    preview: list[dict] = field(default_factory=list)
    created: list[int] = field(default_factory=list)
    sha256: str = ""

    def as_dict(self) -> dict:
        return {
            "kind": self.kind,
            "columns": self.columns,
            "mapping": self.mapping,
            "rows": self.rows,
            "applied": self.applied,
            "errors": [error.as_dict() for error in self.errors],
            "preview": self.preview,
            "created": self.created,
            "sha256": self.sha256,
        }


# --- Reading the file -----------------------------------------------------------------------


def _read_bytes(file) -> bytes:
    limit = settings.CASEFILE_IMPORT_MAX_BYTES
    data = file.read(limit + 1)
    if len(data) > limit:
        raise ImportRefused(
            f"The file is larger than {limit // (1024 * 1024)} MB: split it.",
            code="file_too_large",
        )
    if not data.strip():
        raise ImportRefused("The file is empty.", code="invalid")
    return data


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _csv_rows(data: bytes):
    if b"\x00" in data[:8192]:
        raise ImportRefused(
            "This is not a CSV file (it holds binary data). Save the sheet as CSV UTF-8 or XLSX.",
            code="unsupported_media_type",
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportRefused(
            f"The file is not UTF-8 text (byte {exc.start + 1}): save it as “CSV UTF-8”.",
            code="invalid",
        ) from None
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    # Cells are checked against the cap as they are read; csv's own field limit is kept above
    # it so that a huge cell is our clear refusal, not csv's error.
    csv.field_size_limit(max(settings.CASEFILE_IMPORT_MAX_CELL * 4 + 1, 131072))
    try:
        yield from csv.reader(io.StringIO(text, newline=""), dialect)
    except csv.Error as exc:
        raise ImportRefused(f"The CSV cannot be read: {exc}.", code="invalid") from None


def _xlsx_rows(data: bytes):
    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise ImportRefused(f"The XLSX workbook cannot be read ({exc}).", code="invalid") from None
    try:
        sheet = book.worksheets[0]
        for row in sheet.iter_rows(values_only=True):
            yield [_cell(value) for value in row]
    finally:
        book.close()


def table_read(file, *, name: str = "") -> tuple[list[str], list[list[str]], str]:
    """(header, rows, sha256) of an uploaded CSV or XLSX, within the limits, or ImportRefused."""
    data = _read_bytes(file)
    digest = hashlib.sha256(data).hexdigest()
    is_xlsx = data.startswith(XLSX_MAGIC)
    if not is_xlsx and name.lower().endswith((".xls", ".xlsx", ".ods", ".numbers")):
        raise ImportRefused(
            "Only CSV and XLSX files can be imported.", code="unsupported_media_type"
        )
    rows_in = _xlsx_rows(data) if is_xlsx else _csv_rows(data)
    limit, cell_cap = settings.CASEFILE_IMPORT_MAX_ROWS, settings.CASEFILE_IMPORT_MAX_CELL
    header: list[str] | None = None
    rows: list[list[str]] = []
    for line, row in enumerate(rows_in, start=1):
        for column, value in enumerate(row, start=1):
            if len(value) > cell_cap:
                raise ImportRefused(
                    f"Line {line}, column {column}: a cell holds more than {cell_cap} characters.",
                    code="cell_too_large",
                )
        if header is None:
            header = [value.strip() for value in row]
            if not any(header):
                raise ImportRefused("The first line must name the columns.", code="invalid")
            continue
        if not any(value.strip() for value in row):
            continue  # a blank line
        rows.append(row)
        if len(rows) > limit:
            raise ImportRefused(
                f"The file has more than {limit:,} rows: split it into files of at most {limit:,}.",
                code="too_many_rows",
            )
    if header is None:
        raise ImportRefused("The file is empty.", code="invalid")
    if not rows:
        raise ImportRefused("The file has a header but no rows.", code="invalid")
    return header, rows, digest


# --- Mapping and converting -----------------------------------------------------------------


def mapping_resolve(kind: str, header: list[str], mapping: dict | None) -> dict[str, int]:
    """{field: column index}. A column named like a field fills it, unless the mapping puts
    another column there (or none: an empty name)."""
    if kind not in KINDS:
        raise ImportRefused(f"Import links, testimony or sources, not {kind!r}.", code="invalid")
    fields = FIELDS[kind]
    by_name = {name.lower(): index for index, name in enumerate(header) if name}
    if mapping is None:
        mapping = {}
    if not isinstance(mapping, dict):
        raise ImportRefused("The mapping names a column for each field.", code="invalid")
    mapping = {**{name: name for name in fields if name in by_name}, **mapping}
    unknown = sorted(set(mapping) - set(fields))
    if unknown:
        raise ImportRefused(
            f"No field {', '.join(unknown)} in a {kind} import. Fields: {', '.join(fields)}.",
            code="invalid",
        )
    resolved = {}
    for field_name, column in mapping.items():
        if column in (None, ""):
            continue
        index = by_name.get(str(column).strip().lower())
        if index is None:
            raise ImportRefused(
                f"The mapping puts column {column!r} in {field_name}, but the file has no "
                f"such column. Columns: {', '.join(h for h in header if h)}.",
                code="invalid",
            )
        resolved[field_name] = index
    missing = [name for name in REQUIRED[kind] if name not in resolved]
    if missing:
        raise ImportRefused(
            f"Map a column to {', '.join(missing)}: a {kind} needs it.", code="invalid"
        )
    return resolved


def _bool(value: str) -> bool:
    text = value.strip().lower()
    if text in ("", "0", "false", "no", "n"):
        return False
    if text in ("1", "true", "yes", "y", "x"):
        return True
    raise ValueError("must be yes or no")


def _float(value: str) -> float:
    return (
        float(value.replace(",", "."))
        if value.count(",") == 1 and "." not in value
        else float(value)
    )


def _datetime(value: str) -> datetime:
    try:
        return _datetime_parsed(value)
    except ValueError:
        raise ValueError("must be a date-time such as 2024-05-25T16:40:00+08:00") from None


def _datetime_parsed(value: str) -> datetime:
    parsed = (
        parse_datetime(value.replace(" ", "T", 1)) if "T" not in value else parse_datetime(value)
    )
    if parsed is None:
        day = parse_date(value)
        if day is None:
            raise ValueError("must be a date-time such as 2024-05-25T16:40:00+08:00")
        parsed = datetime(day.year, day.month, day.day)
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed, timezone.get_current_timezone())
    return parsed


def _date(value: str) -> date:
    try:
        parsed = parse_date(value)
    except ValueError:
        parsed = None
    if parsed is None:
        raise ValueError("must be a date such as 2024-05-25")
    return parsed


def _looks_like_formula(value: str) -> bool:
    if not value.startswith(FORMULA_STARTS):
        return False
    try:
        float(value)
    except ValueError:
        return True
    return False


class _Sources:
    """A row's `source`: an id, or the name the importing member sees (a protected source by
    its pseudonym below editor), in the case; never a match on a name they may not see."""

    def __init__(self, *, actor, case: Case):
        self.case = case
        reader = Reader(actor=actor, case=case, via="import")
        sources = list(Source.objects.filter(case=case))
        self.by_id = {source.pk: source for source in sources}
        self.by_label: dict[str, list[Source]] = {}
        for source in sources:
            labels = {reader.source_name(source)}
            if source.protected and source.pseudonym:
                labels.add(source.pseudonym)
            for label in labels:
                self.by_label.setdefault(label.strip().lower(), []).append(source)

    def find(self, value: str) -> Source:
        text = value.strip()
        if text.isdigit() and int(text) in self.by_id:
            return self.by_id[int(text)]
        found = self.by_label.get(text.lower(), [])
        if len(found) == 1:
            return found[0]
        if found:
            raise ValueError(f"{len(found)} sources are called {text!r}: give the source's id")
        raise ValueError(f"no source {text!r} in this case")


def _convert(kind: str, values: dict[str, str], sources: _Sources) -> tuple[dict, list]:
    """The service's keyword arguments for one row, and the (field, message) errors."""
    out, errors = {}, []
    for name, raw in values.items():
        value = raw.strip()
        if name in TEXT_FIELDS and _looks_like_formula(value):
            errors.append((name, "starts like a spreadsheet formula (=, +, -, @): refused"))
            continue
        if value == "":
            continue
        try:
            if name == "source":
                out[name] = sources.find(value)
            elif name in ("latitude", "longitude"):
                out[name] = _float(value)
            elif name in ("sensitive", "protected"):
                out[name] = _bool(value)
            elif name == "observed_at":
                out[name] = _datetime(value)
            elif name == "stated_on":
                out[name] = _date(value)
            elif name == "kind" and kind == "source":
                out[name] = _choice(value, Source.Kind.choices)
            elif name == "reliability":
                out[name] = _choice(value, Source.Reliability.choices)
            else:
                out[name] = raw if name in ("text", "notes", "description") else value
        except ValueError as exc:
            errors.append((name, str(exc)))
    return out, errors


def _choice(value: str, choices) -> str:
    for key, label in choices:
        if value.lower() in (str(key).lower(), str(label).lower()):
            return key
    raise ValueError(f"must be one of: {', '.join(str(key) for key, _ in choices)}")


def _service_errors(exc: ValidationError) -> list[tuple[str, str]]:
    if hasattr(exc, "error_dict"):
        return [
            (name if name != "__all__" else "", message)
            for name, messages in exc.message_dict.items()
            for message in messages
        ]
    return [("", message) for message in exc.messages]


class _RollBack(Exception):
    """Leaves the import's transaction without committing (a preview, or a row in error)."""


# --- The import -----------------------------------------------------------------------------


def bulk_import(
    *,
    actor,
    case: Case,
    kind: str,
    file,
    name: str = "",
    mapping: dict | None = None,
    apply: bool = False,
) -> ImportResult:
    """Preview (`apply` False) or apply a spreadsheet import of `kind` into `case` (see the
    module docstring). Raises ImportRefused for a file that cannot be read at all; row errors
    are in the result, and an import with any is never applied."""
    require(actor, case, "import.run")
    require(actor, case, "source.add" if kind == "source" else "evidence.add")
    header, rows, digest = table_read(file, name=name)
    columns = mapping_resolve(kind, header, mapping)
    result = ImportResult(
        kind=kind,
        columns=header,
        mapping={name: header[index] for name, index in columns.items()},
        rows=len(rows),
        sha256=digest,
    )
    try:
        with transaction.atomic():
            _run(actor=actor, case=case, kind=kind, rows=rows, columns=columns, result=result)
            if result.errors or not apply:
                raise _RollBack
            activity_record(
                case=case,
                actor=actor,
                verb=Verb.CASE_BULK_IMPORTED,
                target=case,
                data={
                    "kind": kind,
                    "rows": len(rows),
                    "sha256": digest,
                    "file": name[:200],
                    "first": result.created[0],
                    "last": result.created[-1],
                },
            )
            result.applied = True
    except _RollBack:
        result.created = []
    return result


def _run(*, actor, case, kind, rows, columns, result: ImportResult) -> None:
    sources = _Sources(actor=actor, case=case)
    for line, row in enumerate(rows, start=2):
        values = {name: (row[index] if index < len(row) else "") for name, index in columns.items()}
        arguments, errors = _convert(kind, values, sources)
        for field_name, message in errors:
            result.errors.append(RowError(row=line, field=field_name, message=message))
        if errors:
            continue
        try:
            # A savepoint per row: a refused row leaves the others (and the transaction) whole.
            with transaction.atomic():
                made = _make(actor=actor, case=case, kind=kind, arguments=arguments)
        except ValidationError as exc:
            for field_name, message in _service_errors(exc):
                result.errors.append(RowError(row=line, field=field_name, message=message))
            continue
        except (DataError, IntegrityError) as exc:
            result.errors.append(
                RowError(row=line, field="", message=f"The database refused the row: {exc}"[:300])
            )
            continue
        result.created.append(made.pk)
        if len(result.preview) < PREVIEW_ROWS:
            result.preview.append(_previewed(line, kind, arguments))


def _make(*, actor, case, kind, arguments):
    if kind == "source":
        return source_create(actor=actor, case=case, **arguments)
    kind_value = Evidence.Kind.LINK if kind == "link" else Evidence.Kind.TESTIMONY
    return evidence_create(actor=actor, case=case, kind=kind_value, **arguments)


def _previewed(line: int, kind: str, arguments: dict) -> dict:
    shown = {}
    for name, value in arguments.items():
        if isinstance(value, Source):
            value = value.pk
        elif isinstance(value, datetime | date):
            value = value.isoformat()
        shown[name] = value
    # A source's name is what the importer typed; it is not echoed back for a protected one.
    if kind == "source" and shown.get("protected"):
        shown.pop("name", None)
        shown.pop("notes", None)
    return {"row": line, **shown}
