"""What a bundle's `manifest.json` is, as a JSON Schema (draft 2020-12): the one description of
the shape that `evidence.bundle.reading.manifest_parse` holds every manifest to, before
`verify_export` checks a hash or `import_case` creates a row. No ORM here.

Every key that Casefile reads is required and typed. The values a model constrains (an
evidence kind, a claim status, a field's length) are left to the models: the import cleans
each row it creates. Unknown keys are allowed where a later format may add some, and refused
in the parts the import stores whole (members, options, tombstones).
"""

from __future__ import annotations

from evidence.bundle.manifest import FORMAT

STRING = {"type": "string"}
TEXT_OR_NULL = {"type": ["string", "null"]}
ID = {"type": "integer"}
COUNT = {"type": "integer", "minimum": 0}
BOOLEAN = {"type": "boolean"}
NUMBER_OR_NULL = {"type": ["number", "null"]}
INTEGER_OR_NULL = {"type": ["integer", "null"]}
SHA256 = {"type": "string", "pattern": "^[0-9a-f]{64}$"}
SHA256_OR_EMPTY = {"type": "string", "pattern": "^([0-9a-f]{64})?$"}
# A file of the bundle, as a manifest names it (the ZIP's own names are checked on opening).
MEMBER_OR_NULL = {"type": ["string", "null"], "minLength": 1, "maxLength": 300}


def _object(properties: dict, *, required=None, closed: bool = False) -> dict:
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties) if required is None else required,
        "additionalProperties": not closed,
    }


def _list(items: dict) -> dict:
    return {"type": "array", "items": items}


# One event of an item's custody record (`evidence.custody.custody_entries`): what the custody
# API and pages show after an import.
CUSTODY_ENTRY = _object(
    {
        "id": INTEGER_OR_NULL,
        "at": STRING,
        "actor": TEXT_OR_NULL,
        "verb": STRING,
        "event": STRING,
        "target": STRING,
        "data": {"type": "object"},
        "prev_hash": STRING,
        "hash": STRING,
        "carried_over": BOOLEAN,
    }
)

FILE_ENTRY = _object({"sha256": SHA256, "size": COUNT})

PHOTO = {
    "type": ["object", "null"],
    "properties": {
        "status": STRING,
        "width": INTEGER_OR_NULL,
        "height": INTEGER_OR_NULL,
        "phash": INTEGER_OR_NULL,
        "dhash": INTEGER_OR_NULL,
        "flags": _list(_object({"code": STRING, "message": STRING})),
    },
    "required": ["width", "height", "phash", "dhash", "flags"],
}

# A web link's capture (issue #16): its files are members of the bundle, each with the SHA-256
# the capture recorded, which `verify_export` checks. Optional: bundles before captures lack it.
CAPTURE_FILE = _object(
    {"name": STRING, "role": STRING, "file": MEMBER_OR_NULL, "sha256": SHA256, "size": COUNT}
)
CAPTURE = _object(
    {
        "id": ID,
        "status": STRING,
        "failure_reason": STRING,
        "captured_at": TEXT_OR_NULL,
        "final_url": STRING,
        "http_status": INTEGER_OR_NULL,
        "title": STRING,
        "files": _list(CAPTURE_FILE),
        "media": _list(ID),
    }
)

EVIDENCE = _object(
    {
        "id": ID,
        "kind": STRING,
        "title": STRING,
        "label": STRING,
        "description": STRING,
        "source": INTEGER_OR_NULL,
        "collected_by": TEXT_OR_NULL,
        "observed_at": TEXT_OR_NULL,
        "stated_on": TEXT_OR_NULL,
        "place_name": STRING,
        "latitude": NUMBER_OR_NULL,
        "longitude": NUMBER_OR_NULL,
        "url": STRING,
        "text": STRING,
        "sensitive": BOOLEAN,
        "original_name": STRING,
        "sha256": SHA256_OR_EMPTY,
        "size": INTEGER_OR_NULL,
        "content_type": STRING,
        "file": MEMBER_OR_NULL,
        "preview": MEMBER_OR_NULL,
        "thumbnail": MEMBER_OR_NULL,
        "photo": PHOTO,
        "custody": _list(CUSTODY_ENTRY),
        "captures": _list(CAPTURE),
    },
    required=[
        "id",
        "kind",
        "title",
        "label",
        "description",
        "source",
        "collected_by",
        "observed_at",
        "stated_on",
        "place_name",
        "latitude",
        "longitude",
        "url",
        "text",
        "sensitive",
        "original_name",
        "sha256",
        "size",
        "content_type",
        "file",
        "preview",
        "thumbnail",
        "photo",
        "custody",
    ],
)

# Deleted evidence travels as its tombstone, stored whole (less its custody) by the import.
TOMBSTONE = _object(
    {
        "id": ID,
        "kind": STRING,
        "label": STRING,
        "sha256": SHA256_OR_EMPTY,
        "size": INTEGER_OR_NULL,
        "deleted_at": TEXT_OR_NULL,
        "deleted_by": TEXT_OR_NULL,
        "reason": STRING,
        "purged_at": TEXT_OR_NULL,
        "purged_by": TEXT_OR_NULL,
        "custody": _list(CUSTODY_ENTRY),
    },
    closed=True,
)

SOURCE = _object(
    {
        "id": ID,
        "kind": STRING,
        "name": STRING,
        "protected": BOOLEAN,
        "pseudonym": STRING,
        "identity_included": BOOLEAN,
        "reliability": STRING,
        "notes": TEXT_OR_NULL,
    }
)

CLAIM = _object(
    {
        "id": ID,
        "statement": STRING,
        "details": STRING,
        "status": STRING,
        "confidence": STRING,
        "occurred_on": TEXT_OR_NULL,
        "author": TEXT_OR_NULL,
        "reviewer": TEXT_OR_NULL,
        "reviewed_at": TEXT_OR_NULL,
        "review_note": STRING,
        "history": _list(
            _object(
                {
                    "from": STRING,
                    "to": STRING,
                    "by": TEXT_OR_NULL,
                    "note": STRING,
                    "at": TEXT_OR_NULL,
                }
            )
        ),
        "links": _list(
            _object({"evidence": ID, "stance": STRING, "note": STRING, "by": TEXT_OR_NULL})
        ),
    }
)

MANIFEST_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Casefile export manifest",
    **_object(
        {
            "format": {"const": FORMAT},
            "version": {"type": "integer", "minimum": 1},
            "exported_at": STRING,
            "exported_by": TEXT_OR_NULL,
            "options": _object({"originals": BOOLEAN, "reveal_protected": BOOLEAN}, closed=True),
            "case": _object(
                {"id": ID, "title": STRING, "summary": STRING, "status": STRING},
            ),
            "members": _list(
                _object(
                    {"username": STRING, "name": STRING, "role": STRING, "since": TEXT_OR_NULL},
                    closed=True,
                )
            ),
            "sources": _list(SOURCE),
            "evidence": _list(EVIDENCE),
            "deleted_evidence": _list(TOMBSTONE),
            "claims": _list(CLAIM),
            # Each row is recomputed by `cases.activity.chain_problems`, which names a bad one.
            "activity": _object(
                {"rows": COUNT, "head": STRING, "chain": _list({"type": "object"})}
            ),
            "files": {"type": "object", "additionalProperties": FILE_ENTRY},
        }
    ),
}
