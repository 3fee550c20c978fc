"""The newsroom's signing key: generate one, or show the public half and its fingerprint."""

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError

from cases import signing


class Command(BaseCommand):
    help = (
        "generate: write a new Ed25519 signing key to CASEFILE_SIGNING_KEY_FILE (default "
        "MEDIA_ROOT/signing-key.pem), readable by its owner only; never overwrites one. "
        "show: print the public key (PEM) and its fingerprint, the SHA-256 of the raw 32-byte "
        "public key in hex, which outsiders compare with a bundle's."
    )

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["generate", "show"])

    def handle(self, *args, action: str, **options):
        if action == "generate":
            path = signing.key_path()
            try:
                key = signing.key_generate(path)
            except FileExistsError:
                raise CommandError(
                    f"{path} exists: a key is never overwritten (every checkpoint and bundle it "
                    "signed would no longer verify). Move it away first if you mean to."
                ) from None
            self.stdout.write(f"Wrote a new signing key to {path}.")
        else:
            try:
                key = signing.signing_key()
            except ImproperlyConfigured as exc:
                raise CommandError(str(exc)) from None
        public = key.public_key()
        self.stdout.write(f"fingerprint {signing.fingerprint(public)}")
        self.stdout.write(signing.public_pem(public).decode(), ending="")
