"""Bundles made in a test or a benchmark, as an export writes them or as a hostile sender might:
the smallest manifest an export could write, its items, and a bundle of them (with SHA256SUMS)
or a zip bomb. No database needed to make them."""

import hashlib
import json
import zipfile
from pathlib import Path

from evidence.bundle.manifest import FORMAT, FORMAT_VERSION

GIB = 1024**3
MIB = 1024**2


def custody_entry(**changes) -> dict:
    entry = {
        "id": 7,
        "at": "2026-05-25T09:00:00+00:00",
        "actor": "rita",
        "verb": "evidence.received",
        "event": "Received",
        "target": "evidence:1",
        "data": {"sha256": "a" * 64},
        "prev_hash": "",
        "hash": "b" * 64,
        "carried_over": False,
    }
    return {**entry, **changes}


def item(id_: int, *, kind="testimony", **changes) -> dict:
    item = {
        "id": id_,
        "kind": kind,
        "title": f"Item {id_}",
        "label": f"Item {id_}",
        "description": "",
        "source": None,
        "source_name": None,
        "collected_by": "rita",
        "observed_at": "2026-05-25T09:00:00+00:00",
        "stated_on": None,
        "place_name": "",
        "latitude": None,
        "longitude": None,
        "url": "",
        "text": "The train never left." if kind == "testimony" else "",
        "sensitive": False,
        "original_name": "",
        "sha256": "",
        "size": None,
        "content_type": "",
        "file": None,
        "preview": None,
        "thumbnail": None,
        "original_withheld": None,
        "photo": None,
        "custody": [custody_entry()],
    }
    return {**item, **changes}


def photo_item(id_: int, **changes) -> dict:
    photo = {
        "status": "ready",
        "failure_reason": "",
        "width": 1600,
        "height": 1200,
        "phash": 1,
        "dhash": -2,
        "flags": [],
        "metadata_included": False,
    }
    fields = {
        "sha256": hashlib.sha256(f"photo {id_}".encode()).hexdigest(),
        "size": 123,
        "content_type": "image/jpeg",
        "preview": f"previews/{id_}.jpg",
        "thumbnail": f"thumbnails/{id_}.jpg",
        "original_withheld": "previews only",
        "photo": photo,
    }
    return item(id_, kind="photo", **{**fields, **changes})


def minimal_manifest(**changes) -> dict:
    """The smallest manifest an export could write: a case with one testimony."""
    manifest = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "exported_at": "2026-06-01T10:00:00+00:00",
        "exported_by": "rita",
        "export_id": 1,
        "options": {"originals": False, "reveal_protected": False},
        "case": {
            "id": 1,
            "title": "The Dandong freight train",
            "summary": "",
            "status": "open",
            "created_by": "rita",
            "created_at": "2026-05-01T10:00:00+00:00",
        },
        "members": [],
        "sources": [],
        "evidence": [item(1)],
        "deleted_evidence": [],
        "claims": [],
        "activity": {
            "rows": 0,
            "head": "",
            "intact_when_exported": True,
            "problems_when_exported": [],
            "chain": [],
        },
    }
    return {**manifest, **changes}


def bundle_write(
    path: Path, manifest: dict | bytes, members: dict[str, bytes] | None = None, *, sums=True
):
    """A bundle as an export writes it: its files, the manifest listing them (unless the
    manifest is given as bytes, or lists its own), and SHA256SUMS vouching for all."""
    members = members or {}
    digests = {name: hashlib.sha256(data).hexdigest() for name, data in members.items()}
    if isinstance(manifest, dict):
        files = {n: {"sha256": digests[n], "size": len(d)} for n, d in members.items()}
        manifest = json.dumps({"files": files, **manifest}).encode()
    digests["manifest.json"] = hashlib.sha256(manifest).hexdigest()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
        # Stored as it is: a hostile manifest need not deflate well to do harm.
        archive.writestr("manifest.json", manifest, compress_type=zipfile.ZIP_STORED)
        if sums:
            archive.writestr("SHA256SUMS", "".join(f"{h}  {n}\n" for n, h in digests.items()))
    return path


def zeros_bundle(path: Path, name: str, *, manifest: dict | None = None, level: int = 9) -> Path:
    """A bundle of about 1 MiB hiding `name`, 1 GiB of zeros (a deflate ratio of ~1,000 at
    level 9), listed in its manifest with its true SHA-256 and size: a zip bomb."""
    digest = hashlib.sha256()
    block = bytes(MIB)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=level) as archive:
        with archive.open(name, "w", force_zip64=True) as out:
            for _ in range(GIB // MIB):
                out.write(block)
                digest.update(block)
        if manifest is not None:
            files = {name: {"sha256": digest.hexdigest(), "size": GIB}}
            data = json.dumps({**manifest, "files": files}).encode()
            archive.writestr("manifest.json", data)
            sums = (
                f"{digest.hexdigest()}  {name}\n{hashlib.sha256(data).hexdigest()}  manifest.json\n"
            )
            archive.writestr("SHA256SUMS", sums)
    return path
