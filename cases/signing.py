"""The newsroom's signing key: Ed25519, the one key that signs every checkpoint of a case's
activity chain and every export's manifest, so that an outsider holding only its public key can
tell a record or a bundle the newsroom wrote from one someone else rewrote.

The key comes from the settings: `CASEFILE_SIGNING_KEY` (the private key itself: PEM, or base64
of its PEM, DER or raw 32 bytes) or else `CASEFILE_SIGNING_KEY_FILE` (a PEM file; by default
`signing-key.pem` under MEDIA_ROOT, which the app never serves). In development
(`CASEFILE_SIGNING_KEY_GENERATE`, on with DEBUG) a missing file is generated on first use; in
production a missing key is a configuration error (`manage.py casefile_key generate`).

A key's fingerprint is the SHA-256 of its raw 32-byte public key, in hex: what the README tells
outsiders to compare with `openssl pkey -pubin -in signing-key.pem -outform DER | tail -c 32 |
sha256sum`. No ORM here: the bundle check uses the verifying half without a database.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from functools import lru_cache
from pathlib import Path

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

ALGORITHM = "Ed25519"
KEY_FILE_NAME = "signing-key.pem"


def key_path() -> Path:
    """Where the private key is read from (and `casefile_key generate` writes it)."""
    configured = getattr(settings, "CASEFILE_SIGNING_KEY_FILE", "")
    return Path(configured) if configured else Path(settings.MEDIA_ROOT) / KEY_FILE_NAME


def private_key_parse(text: str | bytes) -> Ed25519PrivateKey:
    """A private key from PEM, or from base64 of its PEM, DER or raw 32 bytes. ValueError if it
    is none of them, or not an Ed25519 key."""
    data = text.encode() if isinstance(text, str) else text
    data = data.strip()
    if not data.startswith(b"-----BEGIN"):
        try:
            data = base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("not PEM and not base64") from None
    try:
        if data.startswith(b"-----BEGIN"):
            key = serialization.load_pem_private_key(data, password=None)
        elif len(data) == 32:
            key = Ed25519PrivateKey.from_private_bytes(data)
        else:
            key = serialization.load_der_private_key(data, password=None)
    except (TypeError, ValueError, UnsupportedAlgorithm) as exc:
        raise ValueError(f"not a private key ({exc})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"not an {ALGORITHM} key")
    return key


def public_key_parse(data: bytes) -> Ed25519PublicKey:
    """A public key from PEM (SubjectPublicKeyInfo, what `signing-key.pem` holds). ValueError if
    it is not an Ed25519 public key."""
    try:
        key = serialization.load_pem_public_key(data.strip())
    except (TypeError, ValueError, UnsupportedAlgorithm) as exc:
        raise ValueError(f"not a PEM public key ({exc})") from None
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError(f"not an {ALGORITHM} public key")
    return key


def key_generate(path: Path) -> Ed25519PrivateKey:
    """Write a new private key to `path` (PEM, PKCS#8, readable by its owner only). Refuses to
    overwrite a key: a lost key leaves every checkpoint it signed unverifiable."""
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    # O_EXCL: two processes starting at once must not each write a key of their own.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    return key


def signing_key() -> Ed25519PrivateKey:
    """The newsroom's private key, as the settings say (see the module's docstring)."""
    inline = getattr(settings, "CASEFILE_SIGNING_KEY", "")
    path = key_path()
    if inline:
        return _parsed(inline, "CASEFILE_SIGNING_KEY")
    try:
        return _parsed(path.read_bytes(), str(path))
    except FileNotFoundError:
        pass
    if not getattr(settings, "CASEFILE_SIGNING_KEY_GENERATE", False):
        raise ImproperlyConfigured(
            f"No signing key: {path} does not exist. Set CASEFILE_SIGNING_KEY_FILE or "
            "CASEFILE_SIGNING_KEY, or run `python manage.py casefile_key generate`."
        )
    try:
        key_generate(path)
    except FileExistsError:
        pass  # another process made it a moment ago: use theirs
    return _parsed(path.read_bytes(), str(path))


def public_key() -> Ed25519PublicKey:
    """The newsroom's public key: what checkpoints and bundles are checked against."""
    return signing_key().public_key()


@lru_cache(maxsize=8)
def _parsed(data: str | bytes, where: str) -> Ed25519PrivateKey:
    try:
        return private_key_parse(data)
    except ValueError as exc:
        raise ImproperlyConfigured(f"The signing key in {where} cannot be used: {exc}") from None


def public_pem(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def fingerprint(key: Ed25519PublicKey) -> str:
    """SHA-256 of the raw 32-byte public key, in hex."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


def sign(data: bytes) -> bytes:
    """The newsroom key's raw 64-byte Ed25519 signature of `data` (what `openssl pkeyutl
    -verify -rawin` checks)."""
    return signing_key().sign(data)


def signature_valid(key: Ed25519PublicKey, signature: bytes, data: bytes) -> bool:
    try:
        key.verify(signature, data)
    except InvalidSignature:
        return False
    return True
