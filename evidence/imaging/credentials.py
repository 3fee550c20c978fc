"""Content Credentials (C2PA): the signed manifest a camera, an editor or a generative AI tool
may embed in a picture, read with c2pa-python. What it says — who signed it (and who issued
the signer's certificate), with what tool, which actions (created, edited, and whether the
picture was made by a trained algorithm), from which ingredients — and whether it validates
against the bytes it is in. No ORM here; nothing raises: a manifest that cannot be read is
recorded as present and invalid, with the reader's words.

Nothing is fetched: remote manifests and OCSP are turned off, so a file cannot make the worker
call out. The certificate is checked against no trust list (the newsroom keeps none yet), so
an intact manifest is "valid" and never "trusted"."""

from __future__ import annotations

import json
from typing import Any

import c2pa

# IPTC digital source types (the C2PA actions' `digitalSourceType`) that say a generative
# model made or changed the picture, in words a reporter reads.
IPTC_SOURCE_TYPES = "http://cv.iptc.org/newscodes/digitalsourcetype/"
AI_SOURCE_TYPES = {
    "trainedAlgorithmicMedia": "created with a generative AI tool",
    "compositeWithTrainedAlgorithmicMedia": "combined with content made by a generative AI tool",
    "algorithmicallyEnhanced": "enhanced by an AI tool",
    "compositeSynthetic": "combined with synthetic content",
}
ACTION_WORDS = {
    "c2pa.created": "created",
    "c2pa.opened": "opened",
    "c2pa.edited": "edited",
    "c2pa.edited.metadata": "metadata edited",
    "c2pa.color_adjustments": "colours adjusted",
    "c2pa.cropped": "cropped",
    "c2pa.resized": "resized",
    "c2pa.filtered": "filtered",
    "c2pa.drawing": "drawn on",
    "c2pa.placed": "content placed",
    "c2pa.removed": "content removed",
    "c2pa.converted": "converted",
    "c2pa.transcoded": "transcoded",
    "c2pa.published": "published",
}
MAX_ITEMS = 32
READ_SETTINGS = {"verify": {"remote_manifest_fetch": False, "ocsp_fetch": False}}
_CONTEXT = None


def _context():
    global _CONTEXT
    if _CONTEXT is None:
        _CONTEXT = c2pa.Context.from_dict(READ_SETTINGS)
    return _CONTEXT


def c2pa_version() -> str:
    """The c2pa-python version and its C2PA library's, for the custody record."""
    return f"{getattr(c2pa, '__version__', '')} ({c2pa.sdk_version()})"


def read_credentials(file, *, content_type: str) -> dict[str, Any] | None:
    """The Content Credentials of an image, or None when it carries none.

    {"validation": "valid" | "trusted" | "invalid", "problems": [text], "claim_generator",
    "title", "signer", "signer_organisation", "certificate_issuer", "signed_at",
    "actions": [{"action", "label", "software", "digital_source_type", "when"}],
    "ai_generated", "ai_words", "ingredients": [{"title", "format", "relationship"}],
    "manifests": count}"""
    if not _mentions_c2pa(file):
        return None
    file.seek(0)
    try:
        reader = c2pa.Reader(content_type, file, None, _context())
    except (c2pa.C2paError.ManifestNotFound, c2pa.C2paError.NotSupported):
        return None
    except Exception as exc:  # noqa: BLE001 - any damage is a finding, never a failure
        return _broken(exc)
    try:
        with reader:
            store = json.loads(reader.json())
            try:
                cr = json.loads(reader.crjson())
            except Exception:  # noqa: BLE001 - the certificate details are extras
                cr = {}
        return _summary(store, cr)
    except Exception as exc:  # noqa: BLE001
        return _broken(exc)
    finally:
        file.seek(0)


def _mentions_c2pa(file) -> bool:
    """Whether the bytes hold a C2PA manifest store's label at all: a file without one carries
    no credentials, however odd the rest of it (the reader refuses some JPEGs Pillow reads,
    which must not count as broken credentials)."""
    file.seek(0)
    tail = b""
    while chunk := file.read(1024 * 1024):
        if b"c2pa" in tail + chunk:
            file.seek(0)
            return True
        tail = chunk[-3:]
    file.seek(0)
    return False


def _broken(exc: Exception) -> dict[str, Any]:
    text = str(exc).strip() or type(exc).__name__
    return {
        **EMPTY,
        "validation": "invalid",
        "problems": [f"The Content Credentials cannot be read: {text[:300]}"],
    }


EMPTY: dict[str, Any] = {
    "validation": "invalid",
    "problems": [],
    "claim_generator": "",
    "title": "",
    "signer": "",
    "signer_organisation": "",
    "certificate_issuer": "",
    "signed_at": None,
    "actions": [],
    "ai_generated": False,
    "ai_words": "",
    "ingredients": [],
    "manifests": 0,
}


def _summary(store: dict, cr: dict) -> dict[str, Any]:
    label = store.get("active_manifest")
    manifests = store.get("manifests") or {}
    manifest = manifests.get(label) if isinstance(manifests, dict) else None
    if not isinstance(manifest, dict):
        return {**EMPTY, "problems": ["The file's Content Credentials have no active manifest."]}
    signature = manifest.get("signature_info") or {}
    state = str(store.get("validation_state") or "").lower()
    validation = state if state in ("valid", "trusted") else "invalid"
    failures = ((store.get("validation_results") or {}).get("activeManifest") or {}).get(
        "failure"
    ) or []
    problems = [
        f"{f.get('explanation') or f.get('code')} ({f.get('code')})"
        for f in failures[:MAX_ITEMS]
        if isinstance(f, dict)
    ]
    actions = []
    for assertion in manifest.get("assertions") or []:
        if not str(assertion.get("label", "")).startswith("c2pa.actions"):
            continue
        for action in (assertion.get("data") or {}).get("actions") or []:
            if isinstance(action, dict):
                actions.append(_action(action))
    actions = actions[:MAX_ITEMS]
    ai = [a for a in actions if a["digital_source_type"] in AI_SOURCE_TYPES]
    ingredients = [
        {
            "title": str(i.get("title") or "")[:200],
            "format": str(i.get("format") or "")[:100],
            "relationship": str(i.get("relationship") or "")[:50],
        }
        for i in (manifest.get("ingredients") or [])[:MAX_ITEMS]
        if isinstance(i, dict)
    ]
    return {
        "validation": validation,
        "problems": problems if validation == "invalid" else [],
        "claim_generator": _generator(manifest),
        "title": str(manifest.get("title") or "")[:200],
        "signer": str(signature.get("common_name") or "")[:200],
        "signer_organisation": str(signature.get("issuer") or "")[:200],
        "certificate_issuer": _certificate_issuer(cr, label),
        "signed_at": signature.get("time") or None,
        "actions": actions,
        "ai_generated": bool(ai),
        "ai_words": AI_SOURCE_TYPES[ai[0]["digital_source_type"]] if ai else "",
        "ingredients": ingredients,
        "manifests": len(manifests) if isinstance(manifests, dict) else 0,
    }


def _action(action: dict) -> dict[str, Any]:
    name = str(action.get("action") or "")[:100]
    source_type = str(action.get("digitalSourceType") or "")
    agent = action.get("softwareAgent")
    software = agent.get("name", "") if isinstance(agent, dict) else str(agent or "")
    return {
        "action": name,
        "label": ACTION_WORDS.get(name, name.removeprefix("c2pa.").replace("_", " ")),
        "software": str(software)[:200],
        "digital_source_type": source_type.removeprefix(IPTC_SOURCE_TYPES)[:100],
        "when": str(action.get("when") or "")[:40] or None,
    }


def _generator(manifest: dict) -> str:
    info = manifest.get("claim_generator_info")
    if isinstance(info, list) and info and isinstance(info[0], dict):
        name, version = info[0].get("name", ""), info[0].get("version", "")
        return f"{name} {version}".strip()[:200]
    return str(manifest.get("claim_generator") or "")[:200]


def _certificate_issuer(cr: dict, label) -> str:
    """The issuer of the signing certificate (its organisation, else its common name), from
    the reader's crJSON, which carries the certificate's details."""
    for manifest in cr.get("manifests") or []:
        if isinstance(manifest, dict) and manifest.get("label") == label:
            info = (manifest.get("signature") or {}).get("certificateInfo") or {}
            issuer = info.get("issuer") or {}
            if isinstance(issuer, dict):
                return str(issuer.get("O") or issuer.get("CN") or "")[:200]
    return ""


def credentials_text(credentials: dict[str, Any] | None) -> str:
    """One line for people: "Content Credentials: signed by … on …; says: created with a
    generative AI tool." ("" for none)."""
    if not credentials:
        return ""
    if not credentials["signer"] and credentials["validation"] == "invalid":
        return "Content Credentials: present but unreadable."
    signer = (
        "a signer withheld (the source is protected)"
        if credentials.get("identity_withheld")
        else credentials["signer"] or credentials["signer_organisation"] or "an unnamed signer"
    )
    text = f"Content Credentials: signed by {signer}"
    if credentials["certificate_issuer"]:
        text += f" (certificate issued by {credentials['certificate_issuer']})"
    if credentials["signed_at"]:
        text += f" on {credentials['signed_at']}"
    says = credentials["ai_words"] or ", ".join(
        dict.fromkeys(a["label"] for a in credentials["actions"] if a["label"])
    )
    if says:
        text += f"; says: {says}"
    if credentials["claim_generator"]:
        text += f" (by {credentials['claim_generator']})"
    return text + "."
