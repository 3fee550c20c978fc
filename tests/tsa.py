"""A real RFC 3161 timestamp authority for tests: OpenSSL's `openssl ts -reply`, with a CA and a
TSA certificate (extendedKeyUsage critical timeStamping) made here, behind a small HTTP server
on 127.0.0.1. Nothing is mocked: the app's client posts a DER query and gets OpenSSL's reply.

    with TestTsa(tmp_path) as tsa:
        settings.CASEFILE_TSA_URL = tsa.url
        settings.CASEFILE_TSA_CA_FILE = str(tsa.ca_file)
"""

from __future__ import annotations

import datetime
import secrets
import shutil
import subprocess
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from cases.timestamps import timestamp_query
from tests.needs import unavailable

TSA_NAME = "Casefile Test TSA"

CONFIG = """
[ tsa ]
default_tsa = tsa_config

[ tsa_config ]
dir = {dir}
serial = $dir/serial
crypto_device = builtin
signer_digest = sha256
default_policy = 1.2.3.4.1
digests = sha256, sha384, sha512
accuracy = secs:1
ordering = no
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = sha256
"""


def _name(common: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Casefile tests"),
            x509.NameAttribute(NameOID.COMMON_NAME, common),
        ]
    )


def certificates_make(folder: Path, *, ca_name: str = "Casefile Test Root CA") -> None:
    """A root CA and a TSA certificate it issues, as PEM files in `folder`: ca.pem, tsa.pem,
    tsa.key."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name(ca_name))
        .issuer_name(_name(ca_name))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    tsa_key = ec.generate_private_key(ec.SECP256R1())
    tsa = (
        x509.CertificateBuilder()
        .subject_name(_name(TSA_NAME))
        .issuer_name(ca.subject)
        .public_key(tsa_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(tsa_key.public_key()), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    (folder / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (folder / "tsa.pem").write_bytes(tsa.public_bytes(serialization.Encoding.PEM))
    (folder / "tsa.key").write_bytes(
        tsa_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


class TestTsa:
    """`openssl ts -reply` behind http://127.0.0.1:<port>/ (POST a query, get the reply).
    `replies` counts the tokens it issued."""

    __test__ = False  # not a test class, whatever its name

    def __init__(self, folder: Path | None = None, *, ca_name: str = "Casefile Test Root CA"):
        if shutil.which("openssl") is None:
            unavailable("openssl (the test TSA runs `openssl ts -reply`)")
        self.openssl = shutil.which("openssl")
        self.folder = Path(folder or tempfile.mkdtemp(prefix="casefile-tsa-"))
        self.folder.mkdir(parents=True, exist_ok=True)
        certificates_make(self.folder, ca_name=ca_name)
        (self.folder / "serial").write_text("01\n")
        (self.folder / "tsa.cnf").write_text(CONFIG.format(dir=self.folder))
        self.ca_file = self.folder / "ca.pem"
        self.replies = 0
        self._lock = threading.Lock()
        self.server: ThreadingHTTPServer | None = None

    def reply(self, query: bytes) -> bytes | None:
        """OpenSSL's reply to a DER query (None if OpenSSL refused it)."""
        with self._lock, tempfile.TemporaryDirectory(dir=self.folder) as work:
            (Path(work) / "query.tsq").write_bytes(query)
            done = subprocess.run(  # noqa: S603
                [
                    self.openssl,
                    "ts",
                    "-reply",
                    "-config",
                    str(self.folder / "tsa.cnf"),
                    "-queryfile",
                    str(Path(work) / "query.tsq"),
                    "-inkey",
                    str(self.folder / "tsa.key"),
                    "-signer",
                    str(self.folder / "tsa.pem"),
                    "-out",
                    str(Path(work) / "reply.tsr"),
                ],
                capture_output=True,
                timeout=30,
                check=False,
            )
            if done.returncode != 0:
                return None
            self.replies += 1
            return (Path(work) / "reply.tsr").read_bytes()

    def reply_for(self, digest: bytes) -> bytes:
        """A genuine reply of this TSA over `digest` (a SHA-256), asked directly."""
        reply = self.reply(timestamp_query(digest, secrets.randbits(63)))
        assert reply is not None
        return reply

    def __enter__(self) -> TestTsa:
        tsa = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (the standard library's name)
                size = int(self.headers.get("Content-Length") or 0)
                body = tsa.reply(self.rfile.read(size))
                if body is None:
                    self.send_response(400)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/timestamp-reply")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}/"

    def __exit__(self, *exc) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


def closed_port_url() -> str:
    """An http:// URL on 127.0.0.1 where nothing listens (a TSA that is down)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    port = server.server_address[1]
    server.server_close()
    return f"http://127.0.0.1:{port}/"
