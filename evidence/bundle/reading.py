"""Reading a bundle as what it is: input from outside, perhaps hostile. `verify_export` and
`import_case` read every bundle through here.

- `bundle_open` refuses, before a byte of any file is read, a ZIP whose central directory is
  too large or holds too many files, a file that is larger than its limit or expands more than
  CASEFILE_BUNDLE_MAX_RATIO times (a zip bomb), files that overlap (the quoted-overlap bomb),
  duplicate, absolute or odd names, encryption and compression methods Casefile never writes;
- files are read in chunks, hashed on the way or spooled to disk, never held whole (only
  `manifest.json` and `SHA256SUMS`, under CASEFILE_BUNDLE_MAX_MANIFEST_BYTES, are);
- `manifest_parse` refuses nesting deeper than MAX_DEPTH before the JSON is parsed (no
  RecursionError), duplicate keys and non-numbers, then holds the manifest to the one schema
  (`evidence.bundle.schema`);
- `image_check` holds a preview or thumbnail to what Casefile makes: a JPEG inside the pixel
  limit, no larger than a derivative, that decodes.

Every refusal is a `BundleError` saying what is wrong, in one line. No ORM here.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import struct
import tempfile
import warnings
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache

import fastjsonschema
from django.conf import settings
from jsonschema import Draft202012Validator

from evidence.bundle.manifest import CHUNK, FORMAT, BundleError, Hashing
from evidence.bundle.schema import MANIFEST_SCHEMA
from evidence.imaging.decode import PhotoRejected, open_image

MANIFEST = "manifest.json"
SUMS = "SHA256SUMS"
# The files read whole (and so held to the manifest's limit instead of a file's).
WHOLE = (MANIFEST, SUMS)
# Deeper than any manifest Casefile writes (about 10 levels), far below Python's recursion limit.
MAX_DEPTH = 64
# Small files are not held to the ratio: a few KiB of JSON may well deflate 100 times, and
# cannot hurt.
RATIO_FLOOR = 64 * 1024
# A preview is at most 1600 pixels on its long edge (evidence.imaging.decode.PREVIEW_EDGE), a
# few hundred KiB as a JPEG: 16 MiB is generous, and keeps a hostile one out of storage.
DERIVATIVE_MAX_BYTES = 16 * 1024 * 1024
# Per file, the central directory holds 46 bytes and its name (ours are short) and extras.
DIRECTORY_BYTES_PER_FILE = 1024

_END = b"PK\x05\x06"
_LOCAL = b"PK\x03\x04"
_LOCAL_HEADER = struct.Struct("<4s2B4HL2L2H")
_END64_LOCATOR = b"PK\x06\x07"
_END64 = b"PK\x06\x06"
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


@dataclass(frozen=True)
class Limits:
    """What a bundle may hold (config/settings.py: CASEFILE_BUNDLE_*)."""

    member_bytes: int
    manifest_bytes: int
    ratio: int
    members: int

    @classmethod
    def from_settings(cls) -> Limits:
        return cls(
            member_bytes=settings.CASEFILE_BUNDLE_MAX_MEMBER_BYTES,
            manifest_bytes=settings.CASEFILE_BUNDLE_MAX_MANIFEST_BYTES,
            ratio=settings.CASEFILE_BUNDLE_MAX_RATIO,
            members=settings.CASEFILE_BUNDLE_MAX_MEMBERS,
        )


def one_line(text: str, limit: int = 500) -> str:
    """A message fit for one line of output: no line breaks or control characters (a file name
    or a value from a hostile bundle may carry them), and not endless."""
    text = _CONTROL.sub(" ", str(text))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def size_text(size: int) -> str:
    for unit, scale in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} bytes"


# --- The ZIP --------------------------------------------------------------------------------


class Bundle:
    """An opened bundle whose every file passed the limits: read them through this."""

    def __init__(self, archive: zipfile.ZipFile, limits: Limits):
        self.archive = archive
        self.limits = limits
        self.infos = {i.filename: i for i in archive.infolist() if not i.is_dir()}
        self.names = list(self.infos)

    def __contains__(self, name: str) -> bool:
        return name in self.infos

    def size(self, name: str) -> int:
        return self.infos[name].file_size

    def chunks(self, name: str) -> Iterator[bytes]:
        """The file's bytes in chunks; BundleError when it cannot be read (a damaged file
        fails its CRC check on the way) or is not in the bundle."""
        info = self.infos.get(name)
        if info is None:
            raise BundleError(f"{name}: not in the bundle")
        read = 0
        try:
            with self.archive.open(info) as handle:
                while chunk := handle.read(CHUNK):
                    read += len(chunk)
                    # zipfile stops at the declared size; this says so if it ever did not.
                    if read > info.file_size:
                        raise BundleError(f"{name}: holds more than the size it declares")
                    yield chunk
        except (OSError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
            raise BundleError(f"{name}: cannot be read ({exc})") from None

    def sha256(self, name: str) -> tuple[str, int]:
        info = self.infos.get(name)
        if (
            info is not None
            and info.compress_type == zipfile.ZIP_STORED
            and info.compress_size == info.file_size
        ):
            return self._stored_sha256(info)
        hashing = Hashing(_Discard())
        for chunk in self.chunks(name):
            hashing.write(chunk)
        return hashing.sha256.hexdigest(), hashing.size

    def _stored_sha256(self, info: zipfile.ZipInfo) -> tuple[str, int]:
        """A stored (uncompressed) file's SHA-256, read straight from the ZIP: what zipfile
        does for one (the local header's signature and name checked, the data read in chunks,
        its CRC-32 held to the directory's), without its per-file machinery, which is most of
        the time a bundle of thousands of small photos takes to hash."""
        name = info.filename
        try:
            descriptor = self.archive.fp.fileno()
            header = os.pread(descriptor, _LOCAL_HEADER.size, info.header_offset)
            if len(header) != _LOCAL_HEADER.size or header[:4] != _LOCAL:
                raise zipfile.BadZipFile("Bad magic number for file header")
            fields = _LOCAL_HEADER.unpack(header)
            flags, named, extra = info.flag_bits, fields[10], fields[11]
            if flags & 0x61:  # encrypted, patched, strongly encrypted: zipfile refuses them
                raise zipfile.BadZipFile("unsupported flags for the file")
            at = info.header_offset + _LOCAL_HEADER.size
            local_name = os.pread(descriptor, named, at)
            expected = info.orig_filename.encode("utf-8" if flags & 0x800 else "cp437")
            if local_name != expected:
                raise zipfile.BadZipFile(
                    f"File name in directory {info.orig_filename!r} and header differ."
                )
            at += named + extra
            left, crc, hashing = info.file_size, 0, hashlib.sha256()
            while left:
                chunk = os.pread(descriptor, min(CHUNK, left), at)
                if not chunk:
                    raise EOFError("the file ends before its data does")
                crc = zlib.crc32(chunk, crc)
                hashing.update(chunk)
                at += len(chunk)
                left -= len(chunk)
            if crc != info.CRC:
                raise zipfile.BadZipFile(f"Bad CRC-32 for file {name!r}")
        except (OSError, EOFError, zipfile.BadZipFile, UnicodeEncodeError) as exc:
            raise BundleError(f"{name}: cannot be read ({exc})") from None
        return hashing.hexdigest(), info.file_size

    def read(self, name: str) -> bytes:
        """A file read whole: only the small ones (WHOLE), under the manifest's limit."""
        if name not in WHOLE:
            raise ValueError(f"{name} is not read whole")
        return b"".join(self.chunks(name))

    @contextmanager
    def spool(self, name: str, *, limit: int, what: str) -> Iterator[tuple[object, str]]:
        """The file copied to a temporary file on disk, and its SHA-256: for storage, which
        wants a seekable file. Refused above `limit` bytes before a byte is read."""
        if name not in self.infos:
            raise BundleError(f"{what}: {name} is not in the bundle")
        if self.size(name) > limit:
            raise BundleError(
                f"{what}: {name} is {size_text(self.size(name))}, above the "
                f"{size_text(limit)} limit"
            )
        with tempfile.TemporaryFile(dir=getattr(settings, "FILE_UPLOAD_TEMP_DIR", None)) as out:
            hashing = Hashing(out)
            for chunk in self.chunks(name):
                hashing.write(chunk)
            out.seek(0)
            yield out, hashing.sha256.hexdigest()


class _Discard:
    def write(self, data: bytes) -> int:
        return len(data)


@contextmanager
def bundle_open(path, limits: Limits | None = None) -> Iterator[Bundle]:
    """Open a bundle whose every file is within the limits; BundleError otherwise. Nothing
    but the ZIP's directory is read."""
    limits = limits or Limits.from_settings()
    try:
        handle = open(path, "rb")  # noqa: SIM115 - closed below, with the archive
    except OSError as exc:
        raise BundleError(f"cannot be opened: {exc.strerror or exc}") from None
    with handle:
        _directory_check(handle, limits)
        try:
            archive = zipfile.ZipFile(handle)
        except (zipfile.BadZipFile, OSError, EOFError, ValueError, struct.error) as exc:
            raise BundleError(f"not a readable ZIP file: {exc}") from None
        with archive:
            _members_check(archive, limits)
            yield Bundle(archive, limits)


def _directory_check(handle, limits: Limits) -> None:
    """Refuse a central directory with too many files before zipfile reads it into memory (a
    small file can declare millions). Reads the end record the way zipfile finds it."""
    handle.seek(0, 2)
    size = handle.tell()
    handle.seek(max(0, size - 22 - 65535))
    tail = handle.read()
    at = tail.rfind(_END)
    if at < 0 or len(tail) - at < 22:
        raise BundleError("not a readable ZIP file: its end record is missing")
    count, directory = struct.unpack("<2xHL", tail[at + 8 : at + 16])
    locator = tail.rfind(_END64_LOCATOR, 0, at)
    if locator >= 0 and at - locator == 20:
        (offset,) = struct.unpack("<Q", tail[locator + 8 : locator + 16])
        handle.seek(offset)
        record = handle.read(56)
        if len(record) == 56 and record[:4] == _END64:
            count, directory = struct.unpack("<QQ", record[32:48])
    if count > limits.members:
        raise BundleError(
            f"holds {count:,} files, above the limit of {limits.members:,} "
            "(CASEFILE_BUNDLE_MAX_MEMBERS)"
        )
    if directory > max(1, count) * DIRECTORY_BYTES_PER_FILE:
        raise BundleError(f"its directory is {size_text(directory)} for {count:,} files")


class _Shown:
    """A file's name as a refusal shows it (`one_line`), made only if one is written: a
    bundle of thousands of files is refused rarely."""

    def __init__(self, name: str):
        self.name = name

    def __str__(self) -> str:
        return one_line(self.name, 120)

    def __repr__(self) -> str:
        return repr(str(self))

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)


def _members_check(archive: zipfile.ZipFile, limits: Limits) -> None:
    infos = archive.infolist()
    if len(infos) > limits.members:
        raise BundleError(
            f"holds {len(infos):,} files, above the limit of {limits.members:,} "
            "(CASEFILE_BUNDLE_MAX_MEMBERS)"
        )
    seen = set()
    for info in infos:
        name = info.filename
        shown = _Shown(name)
        if name in seen:
            raise BundleError(f"holds two files named {shown}")
        seen.add(name)
        parts = name.split("/")
        if (
            not name
            or _CONTROL.search(name)
            or "\\" in name
            or name.startswith("/")
            or ".." in parts
            or len(name) > 300
        ):
            raise BundleError(f"holds a file with an unacceptable name: {shown!r}")
        if info.flag_bits & 0x1:
            raise BundleError(f"{shown} is encrypted")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise BundleError(
                f"{shown} is compressed with method {info.compress_type}, which Casefile "
                "bundles never use"
            )
        whole = name in WHOLE
        limit = limits.manifest_bytes if whole else limits.member_bytes
        if info.file_size > limit:
            setting = "CASEFILE_BUNDLE_MAX_" + ("MANIFEST_BYTES" if whole else "MEMBER_BYTES")
            raise BundleError(
                f"{shown} is {size_text(info.file_size)}, above the {size_text(limit)} limit "
                f"({setting})"
            )
        if info.file_size > RATIO_FLOOR and info.file_size > limits.ratio * max(
            1, info.compress_size
        ):
            raise BundleError(
                f"{shown} expands {info.file_size / max(1, info.compress_size):,.0f} times "
                f"({size_text(info.compress_size)} to {size_text(info.file_size)}), above the "
                f"limit of {limits.ratio} (CASEFILE_BUNDLE_MAX_RATIO): a zip bomb"
            )
    # Each file's data must end before the next file starts: files sharing compressed data
    # (the "quoted-overlap" bomb) multiply what a small bundle expands to.
    # (30 bytes of local header and the name: a lower bound, the local extra field is unknown.)
    ordered = sorted(infos, key=lambda i: i.header_offset)
    for info, following in zip(ordered, ordered[1:] + [None], strict=True):
        end = info.header_offset + 30 + len(info.filename) + info.compress_size
        start = following.header_offset if following else getattr(archive, "start_dir", end)
        if end > start:
            raise BundleError(f"{one_line(info.filename, 120)} overlaps the next file: a zip bomb")


# --- The manifest ---------------------------------------------------------------------------

_VALIDATOR = Draft202012Validator(MANIFEST_SCHEMA)


@cache
def _fast_validator():
    """The same schema compiled to Python (fastjsonschema): about 30 times faster than
    `_VALIDATOR` on a manifest of 1,000 items, which `verify_export` of a large bundle spends
    most of its non-hashing time on. Compiled on first use (a fraction of a second), not on
    import."""
    return fastjsonschema.compile(MANIFEST_SCHEMA)


_STRING = re.compile(rb'"[^"]*"')
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


def manifest_parse(data: bytes) -> dict:
    """A manifest from its bytes (UTF-8 JSON), held to the schema; BundleError otherwise."""
    _nesting_check(data)
    try:
        manifest = json.loads(
            data.decode("utf-8"), object_pairs_hook=_unique_keys, parse_constant=_no_constant
        )
    except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise BundleError(f"{MANIFEST} is not valid JSON: {exc}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BundleError(f"{MANIFEST} is not a Casefile export manifest")
    manifest_check(manifest)
    return manifest


def manifest_check(manifest) -> None:
    """Hold a parsed manifest to the schema (`evidence.bundle.schema`): BundleError naming the
    first thing out of shape."""
    # The compiled validator only ever lets a manifest through: what it refuses is held to
    # the reference validator (jsonschema), whose verdict and wording stand, so the two can
    # differ only in speed.
    try:
        _fast_validator()(manifest)
    except (fastjsonschema.JsonSchemaException, RecursionError, TypeError, ValueError):
        pass
    else:
        return
    error = next(_VALIDATOR.iter_errors(manifest), None)
    if error is not None:
        raise BundleError(f"{MANIFEST}: {_where(error.absolute_path)} {_what(error)}")


def _nesting_check(data: bytes) -> None:
    """Refuse JSON nested deeper than MAX_DEPTH without parsing it: the brackets outside
    strings, counted. In UTF-8 the bytes of `"`, `\\` and brackets never occur inside another
    character, so the bytes can be scanned as they are. Where the JSON is invalid the parser
    stops at the same place this scan starts to go wrong, so it never goes deeper."""
    plain = data.replace(b"\\\\", b"").replace(b'\\"', b"")
    brackets = _STRING.sub(b"", plain).translate(None, _NOT_BRACKETS)
    del plain
    depth = 0
    for byte in brackets:
        if byte in b"[{":
            depth += 1
            if depth > MAX_DEPTH:
                raise BundleError(f"{MANIFEST} is nested more than {MAX_DEPTH} levels deep")
        else:
            depth -= 1


def _unique_keys(pairs: list) -> dict:
    result = dict(pairs)
    if len(result) != len(pairs):
        keys = [key for key, _ in pairs]
        twice = next(key for key in keys if keys.count(key) > 1)
        raise ValueError(f"the key {one_line(twice, 60)!r} appears twice in one object")
    return result


def _no_constant(name: str):
    raise ValueError(f"{name} is not a JSON number")


def _where(path) -> str:
    where = ""
    for part in path:
        where += f"[{part}]" if isinstance(part, int) else f".{part}" if where else str(part)
    return where or "the manifest"


_TYPES = {
    dict: "an object",
    list: "a list",
    str: "a string",
    bool: "true or false",
    int: "a number",
    float: "a number",
    type(None): "null",
}
_WANTED = {
    "object": "an object",
    "array": "a list",
    "string": "a string",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
    "null": "null",
}


def _what(error) -> str:
    if error.validator == "type":
        wanted = error.validator_value
        wanted = [wanted] if isinstance(wanted, str) else wanted
        return f"is {_TYPES.get(type(error.instance), 'something else')}, not " + " or ".join(
            _WANTED.get(w, w) for w in wanted
        )
    if error.validator == "required":
        missing = [k for k in error.validator_value if k not in error.instance]
        return f"lacks {', '.join(repr(k) for k in missing)}"
    if error.validator == "pattern" and "64" in error.validator_value:
        return "is not a SHA-256"
    if error.validator == "additionalProperties":
        extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        return f"has keys no Casefile manifest has: {', '.join(repr(k) for k in extra[:5])}"
    return one_line(error.message, 200)


# --- Previews and thumbnails ----------------------------------------------------------------


def image_check(file, *, edge: int, what: str) -> None:
    """A preview or thumbnail from a bundle, held to what Casefile makes: a JPEG inside the
    pixel limit (the image pipeline's own check), at most `edge` pixels on its long edge, whose
    data decodes. BundleError otherwise."""
    file.seek(0)
    try:
        image = open_image(file, max_pixels=settings.CASEFILE_MAX_IMAGE_PIXELS)
    except PhotoRejected as exc:
        raise BundleError(f"{what}: {exc.reason}") from None
    with image:
        if image.format != "JPEG":
            raise BundleError(f"{what} is a {image.format} image, not a JPEG")
        width, height = image.size
        if max(width, height) > edge:
            raise BundleError(
                f"{what} is {width}×{height} pixels: larger than Casefile makes one "
                f"({edge} pixels on the long edge)"
            )
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                image.load()
        except (OSError, SyntaxError, ValueError, EOFError, struct.error):
            raise BundleError(f"{what}: the image data is damaged") from None
