"""Check a case bundle against its manifest and its signatures, without the database."""

import sys
from pathlib import Path

from cryptography import x509
from django.core.management.base import BaseCommand, CommandError

from cases import signing, timestamps
from cases.activity import redacted_rows
from evidence.bundle.reading import one_line
from evidence.bundle.verify import bundle_verify


class Command(BaseCommand):
    help = (
        "Verify a case export (ZIP): the signatures of its manifest and SHA256SUMS, every file "
        "against the SHA-256 in its manifest, every original against its evidence's SHA-256, "
        "the manifest against SHA256SUMS, the activity chain it carries and the signed "
        "checkpoints of that chain, and the RFC 3161 trusted timestamps of the export, of the "
        "checkpoints and of the originals. Needs no database. Exits with status 1 on any mismatch, "
        "and on an unsigned bundle unless --accept-unsigned."
    )
    requires_system_checks = []
    requires_migrations_checks = False

    def add_arguments(self, parser):
        parser.add_argument("bundle", help="The bundle (.zip) to check.")
        trust = parser.add_mutually_exclusive_group()
        trust.add_argument(
            "--key", help="The signer's public key (PEM) the bundle must be signed with."
        )
        trust.add_argument(
            "--fingerprint",
            help="The hex SHA-256 of the signer's raw public key the bundle must be signed with.",
        )
        parser.add_argument(
            "--tsa-ca",
            help="PEM file of the TSA root(s) the timestamps must chain to (default: the "
            "tsa-certificates.pem the bundle carries, whose fingerprint is printed).",
        )
        parser.add_argument(
            "--accept-unsigned",
            action="store_true",
            help="Exit 0 for an unsigned bundle (older formats) whose files and chain hold.",
        )

    def handle(self, *args, **options):
        path = Path(options["bundle"])
        if not path.is_file():
            raise CommandError(f"No such file: {path}")
        key = None
        if options["key"]:
            try:
                key = signing.public_key_parse(Path(options["key"]).read_bytes())
            except (OSError, ValueError) as exc:
                raise CommandError(f"--key {options['key']}: {exc}") from None
        roots = None
        if options["tsa_ca"]:
            try:
                roots = x509.load_pem_x509_certificates(Path(options["tsa_ca"]).read_bytes())
            except (OSError, ValueError) as exc:
                raise CommandError(f"--tsa-ca {options['tsa_ca']}: {exc}") from None
        check = bundle_verify(path, key=key, fingerprint=options["fingerprint"], tsa_roots=roots)
        if check.manifest is None:
            # Refused before its files were checked: one line, what is wrong with it.
            self.stderr.write(f"BROKEN: {one_line(check.problems[0])}")
            sys.exit(1)
        manifest = check.manifest  # held to the schema (`evidence.bundle.schema`)
        chain = manifest["activity"]["chain"]
        # What the bundle says of itself, on one line (a title could hold a line break).
        self.stdout.write(
            one_line(
                f"Bundle of case “{manifest['case']['title']}” exported "
                f"{manifest['exported_at']} by {manifest['exported_by']}: {check.checked} "
                f"file(s) checked, {len(manifest['evidence'])} evidence item(s), "
                f"{len(chain)} activity row(s).",
                limit=1000,
            )
        )
        if check.problems:
            for problem in check.problems:
                self.stdout.write(f"  BROKEN {one_line(problem)}")
            self.stderr.write(f"Bundle check FAILED: {len(check.problems)} problem(s).")
            sys.exit(1)
        proved = (
            f"{check.checked} files, chain of {len(chain)} rows intact, "
            f"{redacted_rows(chain)} redacted rows verified by commitment"
        )
        signature = check.signature
        if not check.signed:
            why = signature.reason if signature is not None else "no signature"
            self.stdout.write(
                f"UNSIGNED: the bundle is not signed ({why}); its files and chain are "
                f"consistent ({proved}), but nothing shows who wrote them."
            )
            if not options["accept_unsigned"]:
                self.stderr.write("Bundle check FAILED: unsigned (--accept-unsigned to accept).")
                sys.exit(1)
            return
        latest = signature.latest_checkpoint or {}
        trusted = "the key given" if key or options["fingerprint"] else "the key it carries"
        self.stdout.write(
            self.style.SUCCESS(
                f"Bundle verified: signed by key {signature.fingerprint} ({trusted}), "
                f"{proved}, {signature.checkpoints} signed checkpoint(s) match the chain "
                f"(latest: {latest.get('rows')} rows at {latest.get('at')})."
            )
        )
        if not (key or options["fingerprint"]):
            self.stdout.write(
                "Compare that fingerprint with the newsroom's published one (or pass --key or "
                "--fingerprint): anyone can sign a bundle with a key of their own."
            )
        self._timestamps(signature, manifest, pinned=roots is not None)

    def _timestamps(self, signature, manifest: dict, *, pinned: bool) -> None:
        stamps = signature.timestamps
        export = stamps.export if stamps is not None else None
        if export is None:
            self.stdout.write(f"Export: {timestamps.NO_TIMESTAMP}.")
        else:
            self.stdout.write(
                f"Export timestamped by {export.tsa} at {export.at.isoformat()} "
                f"(serial {export.serial}): manifest.json.sig existed then."
            )
        checkpoints = manifest["activity"].get("checkpoints") or []
        stamped = sum(1 for c in checkpoints if isinstance(c, dict) and c.get("timestamp"))
        items = [e for e in manifest["evidence"] if e.get("sha256")]
        self.stdout.write(
            f"Trusted timestamps verified: {stamped} of {len(checkpoints)} checkpoint(s), "
            f"{stamps.items if stamps else 0} of {len(items)} original(s) at ingest "
            f"(the others: {timestamps.NO_TIMESTAMP})."
        )
        if stamps is not None and stamps.roots and (export or stamped or stamps.items):
            where = "the roots given" if pinned else "the roots the bundle carries"
            self.stdout.write(
                f"TSA root(s) checked against ({where}): SHA-256 {', '.join(stamps.roots)}"
                + ("" if pinned else " — compare with the TSA's published root, or pass --tsa-ca.")
            )
