"""Content Credentials made in the tests: a certificate chain made with `cryptography` (a root
CA and an ES256 signing certificate with the emailProtection EKU, which C2PA requires of a
signer) and images signed with c2pa-python's Builder.

    from tests.c2pa_signing import signed_jpeg, tampered

    data = signed_jpeg(jpeg_bytes(seed=3), ai=True)
"""

from __future__ import annotations

import functools
import io
from datetime import UTC, datetime, timedelta

import c2pa
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

SIGNER = "Casefile Test Camera"
SIGNER_ORGANISATION = "Casefile Test Signer Org"
ISSUER = "Casefile Test Root CA"
TRAINED = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
CAPTURED = "http://cv.iptc.org/newscodes/digitalsourcetype/digitalCapture"


def _name(common: str, organisation: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
        ]
    )


def _usage(*, signer: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=signer,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=not signer,
        crl_sign=not signer,
        encipher_only=False,
        decipher_only=False,
    )


@functools.cache
def certificate_chain() -> tuple[bytes, bytes]:
    """(the signer's certificate then the root's, PEM; the signer's private key, PEM)."""
    now = datetime.now(UTC)
    root_key = ec.generate_private_key(ec.SECP256R1())
    root_name = _name(ISSUER, ISSUER)
    root = (
        x509.CertificateBuilder()
        .subject_name(root_name)
        .issuer_name(root_name)
        .public_key(root_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(_usage(signer=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(root_key.public_key()), False)
        .sign(root_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    certificate = (
        x509.CertificateBuilder()
        .subject_name(_name(SIGNER, SIGNER_ORGANISATION))
        .issuer_name(root_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_usage(signer=True), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()), False
        )
        .sign(root_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    chain = certificate.public_bytes(pem) + root.public_bytes(pem)
    private = key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return chain, private


def signed_jpeg(data: bytes, *, ai: bool = False, ingredient: bytes | None = None) -> bytes:
    """`data` (a JPEG) with a C2PA manifest: "created" by a camera, or by a generative model
    (`ai`), with `ingredient` (another JPEG) as its parent when given."""
    chain, private = certificate_chain()
    source_type = TRAINED if ai else CAPTURED
    manifest = {
        "claim_generator_info": [{"name": "Casefile tests", "version": "1.0"}],
        "title": "signed.jpg",
        "assertions": [
            {
                "label": "c2pa.actions",
                "data": {
                    "actions": [
                        {
                            "action": "c2pa.created",
                            "digitalSourceType": source_type,
                            "softwareAgent": {"name": "Image Generator" if ai else "Camera"},
                        }
                    ]
                },
            }
        ],
    }
    signer = c2pa.Signer.from_info(
        c2pa.C2paSignerInfo(c2pa.C2paSigningAlg.ES256, chain, private, None)
    )
    builder = c2pa.Builder(manifest)
    if ingredient is not None:
        builder.add_ingredient(
            {"title": "parent.jpg", "relationship": "parentOf"},
            "image/jpeg",
            io.BytesIO(ingredient),
        )
    out = io.BytesIO()
    builder.sign(signer, "image/jpeg", io.BytesIO(data), out)
    return out.getvalue()


def tampered(data: bytes) -> bytes:
    """A signed JPEG with one byte of its picture changed after signing."""
    changed = bytearray(data)
    changed[-200] ^= 0xFF
    return bytes(changed)


def broken_manifest(data: bytes) -> bytes:
    """A signed JPEG whose manifest itself is damaged (its JUMBF boxes overwritten)."""
    changed = bytearray(data)
    start = data.find(b"jumb")
    changed[start + 100 : start + 400] = b"A" * 300
    return bytes(changed)
