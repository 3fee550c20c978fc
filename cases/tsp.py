"""A trusted timestamp's signature checked directly, for a TSA certificate already proven once:
the fast path of `cases.timestamps.token_problems` when a bundle carries a thousand tokens from
the same TSA.

rfc3161-client checks a token in full every time: the reply granted, the TSA certificate's
chain to the roots (OpenSSL, the store built anew for each token), the certificate marked for
timestamping only (critical extendedKeyUsage), the CMS signature, and the imprint. Only the
last two depend on the token; the chain and the certificate's marks depend on the certificate
and the roots, and on the time only through each certificate's validity period. So, once a
token signed by a certificate passed the full check (`proven`), a later token signed by the
very same certificate, checked against the very same roots and intermediates, is proven by:

- the reply, read here as strict DER: status granted, a SignedData over a TSTInfo, one
  SignerInfo naming (issuer and serial number) exactly one of the certificates carried, which
  is the proven one;
- the imprint (SHA-256, the digest asked about), read from the signed TSTInfo itself;
- its time inside the validity period of the certificate and of every root and intermediate
  (so whichever chain the full check built is valid at that time too);
- the signed attributes (content type TSTInfo, message digest the hash of the TSTInfo) and the
  signature over them by the certificate's key (RSA PKCS#1 v1.5 or ECDSA, SHA-2).

Anything else — another shape, algorithm, or certificate, or any of these failing — is not
decided here (`None`): the full check decides, and words the refusal."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding


class _Unhandled(Exception):
    """Not a shape this module reads: the full check decides."""


def _oid(dotted: str) -> bytes:
    """The DER content of an OBJECT IDENTIFIER."""
    parts = [int(p) for p in dotted.split(".")]
    out = bytearray([40 * parts[0] + parts[1]])
    for part in parts[2:]:
        chunk = [part & 0x7F]
        part >>= 7
        while part:
            chunk.append(0x80 | (part & 0x7F))
            part >>= 7
        out.extend(reversed(chunk))
    return bytes(out)


SIGNED_DATA = _oid("1.2.840.113549.1.7.2")
TST_INFO = _oid("1.2.840.113549.1.9.16.1.4")
CONTENT_TYPE = _oid("1.2.840.113549.1.9.3")
MESSAGE_DIGEST = _oid("1.2.840.113549.1.9.4")
SHA256 = _oid("2.16.840.1.101.3.4.2.1")
_DIGESTS = {
    SHA256: (hashlib.sha256, hashes.SHA256),
    _oid("2.16.840.1.101.3.4.2.2"): (hashlib.sha384, hashes.SHA384),
    _oid("2.16.840.1.101.3.4.2.3"): (hashlib.sha512, hashes.SHA512),
}
_RSA = _oid("1.2.840.113549.1.1.1")
_EC = _oid("1.2.840.10045.2.1")
# A signature algorithm that names its hash: the hash must be the SignerInfo's digest.
_NAMED = {
    _oid("1.2.840.113549.1.1.11"): ("rsa", SHA256),
    _oid("1.2.840.113549.1.1.12"): ("rsa", _oid("2.16.840.1.101.3.4.2.2")),
    _oid("1.2.840.113549.1.1.13"): ("rsa", _oid("2.16.840.1.101.3.4.2.3")),
    _oid("1.2.840.10045.4.3.2"): ("ec", SHA256),
    _oid("1.2.840.10045.4.3.3"): ("ec", _oid("2.16.840.1.101.3.4.2.2")),
    _oid("1.2.840.10045.4.3.4"): ("ec", _oid("2.16.840.1.101.3.4.2.3")),
}


# --- Strict DER -------------------------------------------------------------------------------


def _tlv(data: bytes, at: int, end: int) -> tuple[int, int, int]:
    """(tag, content start, content end) of the element at `at`: low tag numbers and definite,
    minimal lengths only."""
    if at + 2 > end:
        raise _Unhandled
    tag = data[at]
    if tag & 0x1F == 0x1F:
        raise _Unhandled
    first = data[at + 1]
    at += 2
    if first < 0x80:
        size = first
    else:
        count = first & 0x7F
        if count == 0 or count > 4 or at + count > end or data[at] == 0:
            raise _Unhandled
        size = int.from_bytes(data[at : at + count], "big")
        if size < 0x80:
            raise _Unhandled
        at += count
    if at + size > end:
        raise _Unhandled
    return tag, at, at + size


def _items(data: bytes, start: int, end: int) -> list[tuple[int, int, int, int]]:
    """The elements between `start` and `end`, each (tag, content start, content end, element
    start), which must fill it exactly."""
    out = []
    while start < end:
        tag, s, e = _tlv(data, start, end)
        out.append((tag, s, e, start))
        start = e
    return out


def _expect(item, tag: int) -> tuple[int, int]:
    if item[0] != tag:
        raise _Unhandled
    return item[1], item[2]


def _only(data: bytes, start: int, end: int, tag: int) -> tuple[int, int]:
    items = _items(data, start, end)
    if len(items) != 1:
        raise _Unhandled
    return _expect(items[0], tag)


def _time(text: bytes) -> datetime:
    """A GeneralizedTime as RFC 3161 writes it: YYYYMMDDHHMMSS[.fff]Z."""
    if len(text) < 15 or not text.endswith(b"Z") or not text[:14].isdigit():
        raise _Unhandled
    fraction = text[14:-1]
    micro = 0
    if fraction:
        digits = fraction[1:]
        if fraction[:1] != b"." or not digits.isdigit() or len(digits) > 6:
            raise _Unhandled
        micro = int(digits.ljust(6, b"0"))
    try:
        return datetime(
            int(text[0:4]),
            int(text[4:6]),
            int(text[6:8]),
            int(text[8:10]),
            int(text[10:12]),
            int(text[12:14]),
            micro,
            tzinfo=UTC,
        )
    except ValueError:
        raise _Unhandled from None


@dataclass(frozen=True)
class Token:
    """What the fast check needs of a reply, read from its bytes."""

    imprint_algorithm: bytes
    imprint: bytes
    at: datetime
    certificates: tuple[bytes, ...]
    issuer: bytes  # the signer's, as DER
    serial: int
    digest_algorithm: bytes
    content: bytes  # the TSTInfo, as signed
    signed_attributes: bytes  # as signed: re-tagged as a SET
    message_digest: bytes  # the signed attributes' digest of `content`
    signature_algorithm: bytes
    signature: bytes


def _algorithm(data: bytes, item) -> bytes:
    """An AlgorithmIdentifier's OID (its parameters absent or NULL)."""
    parts = _items(data, *_expect(item, 0x30))
    if (
        not parts
        or len(parts) > 2
        or (len(parts) == 2 and data[parts[1][3] : parts[1][2]] != b"\x05\x00")
    ):
        raise _Unhandled
    return data[slice(*_expect(parts[0], 0x06))]


def token_parse(data: bytes) -> Token:
    """A granted reply read as strict DER; _Unhandled for anything else."""
    response = _items(data, 0, len(data))
    if len(response) != 1:
        raise _Unhandled
    response = _items(data, *_expect(response[0], 0x30))
    if len(response) != 2:
        raise _Unhandled
    status = _items(data, *_expect(response[0], 0x30))
    if not status or data[slice(*_expect(status[0], 0x02))] != b"\x00":
        raise _Unhandled  # granted (0), and only that, as rfc3161-client wants
    info = _items(data, *_expect(response[1], 0x30))
    if len(info) != 2 or data[slice(*_expect(info[0], 0x06))] != SIGNED_DATA:
        raise _Unhandled
    signed = _items(data, *_only(data, *_expect(info[1], 0xA0), 0x30))
    if len(signed) < 4 or signed[0][0] != 0x02 or signed[1][0] != 0x31:
        raise _Unhandled
    encapsulated = _items(data, *_expect(signed[2], 0x30))
    if len(encapsulated) != 2 or data[slice(*_expect(encapsulated[0], 0x06))] != TST_INFO:
        raise _Unhandled
    content_start, content_end = _only(data, *_expect(encapsulated[1], 0xA0), 0x04)
    content = data[content_start:content_end]
    certificates: tuple[bytes, ...] = ()
    rest = signed[3:]
    if rest and rest[0][0] == 0xA0:
        carried = _items(data, rest[0][1], rest[0][2])
        if any(i[0] != 0x30 for i in carried):
            raise _Unhandled
        certificates = tuple(data[i[3] : i[2]] for i in carried)
        rest = rest[1:]
    if rest and rest[0][0] == 0xA1:
        raise _Unhandled  # CRLs: the full check
    if len(rest) != 1:
        raise _Unhandled
    signers = _items(data, *_expect(rest[0], 0x31))
    if len(signers) != 1:
        raise _Unhandled
    signer = _items(data, *_expect(signers[0], 0x30))
    if len(signer) != 6 or data[slice(*_expect(signer[0], 0x02))] != b"\x01":
        raise _Unhandled
    sid = _items(data, *_expect(signer[1], 0x30))
    if len(sid) != 2 or sid[0][0] != 0x30:
        raise _Unhandled
    serial = int.from_bytes(data[slice(*_expect(sid[1], 0x02))], "big", signed=True)
    attributes_start, attributes_end = _expect(signer[3], 0xA0)
    # What was signed is the attributes' DER with the SET tag (RFC 5652 §5.4).
    signed_attributes = b"\x31" + data[signer[3][3] + 1 : attributes_end]
    token = _tst_info(content)
    # OpenSSL sets up a digest for each algorithm listed: all must be ones read here, and the
    # signer's among them.
    listed = {_algorithm(data, i) for i in _items(data, signed[1][1], signed[1][2])}
    if not listed or not listed <= set(_DIGESTS) or _algorithm(data, signer[2]) not in listed:
        raise _Unhandled
    return Token(
        imprint_algorithm=token[0],
        imprint=token[1],
        at=token[2],
        certificates=certificates,
        issuer=data[sid[0][3] : sid[0][2]],
        serial=serial,
        digest_algorithm=_algorithm(data, signer[2]),
        content=content,
        signed_attributes=signed_attributes,
        message_digest=_attributes_check(data[attributes_start:attributes_end]),
        signature_algorithm=_algorithm(data, signer[4]),
        signature=data[slice(*_expect(signer[5], 0x04))],
    )


def _tst_info(content: bytes) -> tuple[bytes, bytes, datetime]:
    fields = _items(content, *_only(content, 0, len(content), 0x30))
    if len(fields) < 5 or data_of(content, fields[0], 0x02) != b"\x01":
        raise _Unhandled
    _expect(fields[1], 0x06)
    _expect(fields[3], 0x02)
    imprint = _items(content, *_expect(fields[2], 0x30))
    if len(imprint) != 2:
        raise _Unhandled
    return (
        _algorithm(content, imprint[0]),
        data_of(content, imprint[1], 0x04),
        _time(data_of(content, fields[4], 0x18)),
    )


def data_of(data: bytes, item, tag: int) -> bytes:
    return data[slice(*_expect(item, tag))]


def _attributes_check(body: bytes) -> bytes:
    """The message digest of the signed attributes, which must hold exactly one and at most
    one content type (TSTInfo); it is compared in `signature_holds`."""
    seen = {}
    for item in _items(body, 0, len(body)):
        parts = _items(body, *_expect(item, 0x30))
        if len(parts) != 2:
            raise _Unhandled
        kind = data_of(body, parts[0], 0x06)
        if kind in seen:
            raise _Unhandled
        values = _items(body, *_expect(parts[1], 0x31))
        if len(values) != 1:
            raise _Unhandled
        seen[kind] = values[0]
        if kind == CONTENT_TYPE and data_of(body, values[0], 0x06) != TST_INFO:
            raise _Unhandled
    if MESSAGE_DIGEST not in seen:
        raise _Unhandled
    return data_of(body, seen[MESSAGE_DIGEST], 0x04)


# --- The signature ----------------------------------------------------------------------------


def signature_holds(token: Token, certificate: x509.Certificate) -> bool:
    """The TSTInfo's digest is in the signed attributes and `certificate`'s key signed them."""
    digests = _DIGESTS.get(token.digest_algorithm)
    if digests is None:
        return False
    plain, named = digests
    if token.message_digest != plain(token.content).digest():
        return False
    kind = _NAMED.get(token.signature_algorithm)
    if kind is not None and kind[1] != token.digest_algorithm:
        return False
    key = certificate.public_key()
    try:
        if token.signature_algorithm == _RSA or (kind and kind[0] == "rsa"):
            if not isinstance(key, rsa.RSAPublicKey):
                return False
            key.verify(token.signature, token.signed_attributes, padding.PKCS1v15(), named())
        elif token.signature_algorithm == _EC or (kind and kind[0] == "ec"):
            if not isinstance(key, ec.EllipticCurvePublicKey):
                return False
            key.verify(token.signature, token.signed_attributes, ec.ECDSA(named()))
        else:
            return False
    except (InvalidSignature, ValueError):
        return False
    return True


# --- Certificates proven by the full check ----------------------------------------------------


# A bundle's thousand tokens carry the same few certificates (`cases.timestamps._certificate`
# keeps one object per certificate): what is read of each is read once.
@lru_cache(maxsize=256)
def _der(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(Encoding.DER)


@lru_cache(maxsize=256)
def _names(certificate: x509.Certificate) -> tuple[bytes, int]:
    return certificate.issuer.public_bytes(), certificate.serial_number


@lru_cache(maxsize=256)
def _valid(certificate: x509.Certificate) -> tuple[datetime, datetime]:
    return certificate.not_valid_before_utc, certificate.not_valid_after_utc


class Proven:
    """TSA certificates that passed rfc3161-client's full check, each with the roots and
    intermediates it was checked against."""

    def __init__(self, size: int = 64):
        self.size = size
        self.known: dict[tuple, None] = {}

    @staticmethod
    def _key(leaf: bytes, trusted, intermediates) -> tuple:
        return (leaf, tuple(_der(c) for c in trusted), tuple(_der(c) for c in intermediates))

    def signer(self, token: Token, load) -> tuple[bytes, x509.Certificate] | None:
        """The one certificate carried that the SignerInfo names, or None."""
        found = [
            (der, certificate)
            for der in token.certificates
            if _names(certificate := load(der)) == (token.issuer, token.serial)
        ]
        return found[0] if len(found) == 1 else None

    def remember(self, token: Token, load, trusted, intermediates) -> None:
        """After a full check of `token` passed."""
        signer = self.signer(token, load)
        if signer is None:
            return
        der, certificate = signer
        # The full check may have taken the signer from the roots or intermediates: only when
        # none of them could be mistaken for it is it surely the one proven.
        if any(
            _names(c) == _names(certificate) and _der(c) != der for c in [*trusted, *intermediates]
        ):
            return
        if len(self.known) >= self.size:
            self.known.pop(next(iter(self.known)))
        self.known[self._key(der, trusted, intermediates)] = None

    def holds(self, token: Token, load, trusted, intermediates) -> bool:
        """The token is signed by a proven certificate, within every validity period."""
        signer = self.signer(token, load)
        if signer is None:
            return False
        der, certificate = signer
        if self._key(der, trusted, intermediates) not in self.known:
            return False
        for each in (certificate, *trusted, *intermediates):
            start, end = _valid(each)
            if not start <= token.at <= end:
                return False
        return signature_holds(token, certificate)


def parse(data: bytes) -> Token | None:
    try:
        return token_parse(bytes(data))
    except (_Unhandled, IndexError, ValueError):
        return None
