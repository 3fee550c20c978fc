"""RFC 3161 trusted timestamps from a timestamp authority (TSA): asking for one, reading one,
and checking one, without the database (the bundle check uses it offline).

A token says "this SHA-256 existed at this time", signed by the TSA. What is timestamped is
always a SHA-256 the record already holds, and nothing else goes to the TSA (the request is the
digest, a random nonce and a request for the TSA's certificate): an original's SHA-256 at ingest,
the SHA-256 of a checkpoint's raw signature, and of an export's `manifest.json.sig`. So a token
never carries anything about a source, and an outsider checks one with `openssl ts -verify
-digest HEX` (or `-data FILE`).

A token is stored as the TSA's whole reply (a DER `TimeStampResp`, what `openssl ts -reply`
writes and `openssl ts -verify -in` reads), with the certificates the TSA sent in it.

Settings: `CASEFILE_TSA_URL` (none: nothing is timestamped, records say "no trusted
timestamp"), `CASEFILE_TSA_CA_FILE` (PEM: the roots, and intermediates, a token must chain to;
without it a token is checked against the self-signed root it carries, and the root's
fingerprint reported for a reader to compare), `CASEFILE_TSA_CONNECT_TIMEOUT` and
`CASEFILE_TSA_TIMEOUT` (seconds).
"""

from __future__ import annotations

import hashlib
import secrets
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path

import urllib3
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from django.conf import settings
from rfc3161_client import PKIStatus, VerificationError, VerifierBuilder, decode_timestamp_response

from cases import tsp

NO_TIMESTAMP = "no trusted timestamp"
CONTENT_TYPE = "application/timestamp-query"
# A reply is a few kilobytes (a token and a short certificate chain): more is not one.
REPLY_LIMIT = 256 * 1024
SHA256_OID = x509.ObjectIdentifier("2.16.840.1.101.3.4.2.1")
_SHA256_OID_DER = bytes.fromhex("608648016503040201")  # the same OID, DER-encoded


class TimestampUnavailable(Exception):
    """No token: the TSA is not configured, unreachable, slow, or answered with something that
    is not a valid token over the digest asked for."""


# --- Settings ---------------------------------------------------------------------------------


def tsa_url() -> str:
    return (getattr(settings, "CASEFILE_TSA_URL", "") or "").strip()


def tsa_configured() -> bool:
    return bool(tsa_url())


@lru_cache(maxsize=4)
def _pem_certificates(path: str) -> tuple[x509.Certificate, ...]:
    return tuple(x509.load_pem_x509_certificates(Path(path).read_bytes()))


def tsa_certificates() -> list[x509.Certificate]:
    """The certificates of CASEFILE_TSA_CA_FILE (empty when unset)."""
    path = getattr(settings, "CASEFILE_TSA_CA_FILE", "") or ""
    return list(_pem_certificates(path)) if path else []


# --- Asking -----------------------------------------------------------------------------------


def _der(tag: int, content: bytes) -> bytes:
    size = len(content)
    if size < 0x80:
        length = bytes([size])
    else:
        octets = size.to_bytes((size.bit_length() + 7) // 8, "big")
        length = bytes([0x80 | len(octets)]) + octets
    return bytes([tag]) + length + content


def _der_integer(value: int) -> bytes:
    return _der(0x02, value.to_bytes(value.bit_length() // 8 + 1, "big"))


def timestamp_query(digest: bytes, nonce: int) -> bytes:
    """The DER `TimeStampReq` for a SHA-256 digest (RFC 3161 §2.4.1): version 1, the digest,
    `nonce`, and certReq (the TSA puts its certificate in the token). The client library hashes
    data itself; the record holds digests, so the request is written here."""
    if len(digest) != 32:
        raise ValueError("a SHA-256 digest is 32 bytes")
    algorithm = _der(0x30, _der(0x06, _SHA256_OID_DER) + b"\x05\x00")
    imprint = _der(0x30, algorithm + _der(0x04, digest))
    return _der(0x30, _der_integer(1) + imprint + _der_integer(nonce) + b"\x01\x01\xff")


def token_fetch(digest: bytes, *, timeout: float | None = None) -> bytes:
    """Ask the configured TSA for a token over `digest` (a SHA-256); return its reply (DER),
    checked: granted, over this digest, with our nonce, and signed (`token_problems`).
    TimestampUnavailable otherwise, within the configured timeouts (or `timeout` for both)."""
    url = tsa_url()
    if not url:
        raise TimestampUnavailable(NO_TIMESTAMP + " (CASEFILE_TSA_URL is not set)")
    nonce = secrets.randbits(63)
    timeout = urllib3.Timeout(
        connect=timeout or float(getattr(settings, "CASEFILE_TSA_CONNECT_TIMEOUT", 3)),
        read=timeout or float(getattr(settings, "CASEFILE_TSA_TIMEOUT", 10)),
    )
    try:
        response = urllib3.request(
            "POST",
            url,
            body=timestamp_query(digest, nonce),
            headers={"Content-Type": CONTENT_TYPE, "Accept": "application/timestamp-reply"},
            timeout=timeout,
            retries=False,
            redirect=False,
            preload_content=False,
        )
        try:
            body = response.read(REPLY_LIMIT + 1)
        finally:
            response.release_conn()
    except (urllib3.exceptions.HTTPError, OSError, ValueError) as exc:
        raise TimestampUnavailable(f"the TSA at {url} cannot be reached ({exc})") from None
    if response.status != 200:
        raise TimestampUnavailable(f"the TSA at {url} answered HTTP {response.status}")
    if len(body) > REPLY_LIMIT:
        raise TimestampUnavailable(f"the TSA at {url} answered more than {REPLY_LIMIT} bytes")
    problems = token_problems(body, digest=digest, nonce=nonce)
    if problems:
        raise TimestampUnavailable(f"the TSA at {url} answered a bad token: {problems[0]}")
    return body


# --- Reading and checking ---------------------------------------------------------------------


@dataclass
class TokenInfo:
    """What a token says, for people: the TSA's name, its time, its serial number, and the
    SHA-256 (hex) it timestamps."""

    tsa: str
    at: datetime
    serial: str
    digest: str
    certificates: list[x509.Certificate] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"tsa": self.tsa, "at": self.at.isoformat(), "serial": self.serial}


def _name_text(name: x509.Name) -> str:
    common = name.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    return str(common[0].value) if common else name.rfc4514_string()


def token_read(token: bytes) -> TokenInfo:
    """Parse a reply (not check it: see `token_problems`); ValueError if it is not a granted
    RFC 3161 reply."""
    try:
        response = decode_timestamp_response(bytes(token))
    except Exception as exc:  # the parser raises its own exception types
        raise ValueError(f"not an RFC 3161 reply ({exc})") from None
    if response.status not in (PKIStatus.GRANTED, PKIStatus.GRANTED_WITH_MODS):
        raise ValueError(f"not a granted timestamp (status {response.status})")
    info = response.tst_info
    certificates = [x509.load_der_x509_certificate(c) for c in response.signed_data.certificates]
    signers = list(response.signed_data.signer_infos)
    signer = next(
        (
            c
            for c in certificates
            if signers
            and c.issuer == signers[0].issuer
            and c.serial_number == signers[0].serial_number
        ),
        None,
    )
    tsa = ""
    try:
        named = info.name
    except Exception:  # no tsa field in the token
        named = None
    if isinstance(named, x509.DirectoryName):
        tsa = _name_text(named.value)
    elif named is not None and hasattr(named, "value"):
        tsa = str(named.value)
    if not tsa and signer is not None:
        tsa = _name_text(signer.subject)
    return TokenInfo(
        tsa=tsa or "an unnamed TSA",
        at=info.gen_time,
        serial=format(info.serial_number, "x"),
        digest=info.message_imprint.message.hex(),
        certificates=certificates,
    )


def root_fingerprint(certificate: x509.Certificate) -> str:
    return certificate.fingerprint(hashes.SHA256()).hex()


# A bundle's tokens all carry the same TSA certificate, checked against the same roots: parsing
# it and comparing names once (not once per token) is a third of the cost of checking one.
@lru_cache(maxsize=256)
def _self_signed(certificate: x509.Certificate) -> bool:
    return certificate.issuer == certificate.subject


@lru_cache(maxsize=64)
def _certificate(der: bytes) -> x509.Certificate:
    return x509.load_der_x509_certificate(der)


def token_problems(
    token: bytes,
    *,
    digest: bytes,
    roots: list[x509.Certificate] | None = None,
    nonce: int | None = None,
) -> list[str]:
    """Why a token does not prove that `digest` (a SHA-256) existed at its time: [] when it
    does. Checks that it is a granted reply over exactly `digest` with SHA-256, that the TSA's
    signature over it holds, and that the TSA's certificate (marked for timestamping only, the
    extension critical) chains to `roots`: CASEFILE_TSA_CA_FILE's when None and that is set,
    else the self-signed root the token carries."""
    given = roots
    try:
        roots = tsa_certificates() if roots is None else roots
    except Exception:  # a CA file that cannot be read: the full check words it, as ever
        return _token_problems(token, digest=digest, roots=given, nonce=nonce)
    # A token signed by a TSA certificate that already passed the full check against the same
    # roots needs only its own signature and imprint checked (`cases.tsp`); any doubt, and the
    # full check below decides.
    fast = tsp.parse(token) if nonce is None else None
    if fast is not None and _fast_holds(token, fast, digest=digest, roots=roots):
        return []
    problems = _token_problems(token, digest=digest, roots=roots, nonce=nonce)
    if not problems and fast is not None and _same_certificates(token, fast):
        with suppress(Exception):  # then it is not remembered, and checked in full next time
            carried = [_certificate(c) for c in fast.certificates]
            _PROVEN.remember(fast, _certificate, *_trust(roots, carried))
    return problems


_PROVEN = tsp.Proven()


def _fast_holds(token: bytes, fast: tsp.Token, *, digest: bytes, roots) -> bool:
    if fast.imprint_algorithm != tsp.SHA256 or fast.imprint != digest or not _readable(token):
        return False
    try:
        carried = [_certificate(c) for c in fast.certificates]
        trusted, intermediates = _trust(roots, carried)
        return bool(trusted) and _PROVEN.holds(fast, _certificate, trusted, intermediates)
    except Exception:  # a damaged certificate, or anything odd: the full check words it
        return False


def _readable(token: bytes) -> bool:
    """rfc3161-client reads the reply as the full check would (its parser is stricter about
    the parts nothing signs)."""
    try:
        return decode_timestamp_response(bytes(token)).status == PKIStatus.GRANTED
    except Exception:  # the parser raises its own exception types
        return False


def _same_certificates(token: bytes, fast: tsp.Token) -> bool:
    """The full check saw the certificates the fast reading sees (so what it proved is what
    `_PROVEN` records)."""
    try:
        carried = decode_timestamp_response(bytes(token)).signed_data.certificates
    except Exception:  # the parser raises its own exception types
        return False
    return set(carried) == set(fast.certificates)


def _trust(roots, carried) -> tuple[list, list]:
    """The roots a token is checked against (the configured self-signed ones, else the
    self-signed one it carries) and the intermediates (every other certificate)."""
    trusted = [c for c in roots if _self_signed(c)] or [c for c in carried if _self_signed(c)]
    return trusted, [c for c in [*roots, *carried] if not _self_signed(c)]


def _token_problems(token: bytes, *, digest: bytes, roots, nonce) -> list[str]:
    """`token_problems` through rfc3161-client: every check, every time."""
    try:
        response = decode_timestamp_response(bytes(token))
    except Exception as exc:  # the parser raises its own exception types
        return [f"not an RFC 3161 reply ({exc})"]
    try:
        claimed = response.tst_info.message_imprint
        if claimed.hash_algorithm != SHA256_OID:
            return [f"it timestamps a {claimed.hash_algorithm.dotted_string} digest, not SHA-256"]
        if claimed.message != digest:
            return [f"it timestamps the digest {claimed.message.hex()}, not {digest.hex()}"]
        if roots is None:
            roots = tsa_certificates()
        carried = [_certificate(c) for c in response.signed_data.certificates]
        trusted, intermediates = _trust(roots, carried)
        if not trusted:
            return ["no root to check its TSA's certificate with (set CASEFILE_TSA_CA_FILE)"]
        builder = VerifierBuilder(roots=trusted, intermediates=intermediates)
        if nonce is not None:
            builder = builder.nonce(nonce)
        builder.build().verify(response, digest)
    except VerificationError as exc:
        return [f"its signature does not verify ({_short(exc)})"]
    except Exception as exc:  # a malformed token fails inside the parser's accessors
        return [f"it cannot be read ({_short(exc)})"]
    return []


def _short(exc: Exception) -> str:
    """OpenSSL's error stacks are long: the gist is at their start."""
    text = str(exc).replace("Error while verifying certificates: ", "")
    return text if len(text) <= 160 else text[:157] + "..."


def certificates_pem(certificates: list[x509.Certificate]) -> bytes:
    """Certificates as one PEM file, each once, in the order given."""
    seen, out = set(), []
    for certificate in certificates:
        der = certificate.public_bytes(Encoding.DER)
        if der not in seen:
            seen.add(der)
            out.append(certificate.public_bytes(Encoding.PEM))
    return b"".join(out)


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()
