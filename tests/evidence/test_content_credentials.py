"""Content Credentials (C2PA) read at processing time, from images signed in the test with
c2pa-python's Builder and a certificate chain made with `cryptography` (tests/c2pa_signing.py):
valid, tampered after signing, made by a generative model, with an ingredient, and with a
damaged manifest (recorded as invalid, never a failed photo)."""

import io

import pytest
from django.test import Client
from django.urls import reverse

from api.serializers import credentials_json
from evidence.imaging.credentials import credentials_text, read_credentials
from evidence.models import Photo, PhotoFlag
from evidence.services.evidence import photo_ingest
from tests.api.conftest import token_client
from tests.c2pa_signing import (
    ISSUER,
    SIGNER,
    SIGNER_ORGANISATION,
    broken_manifest,
    signed_jpeg,
    tampered,
)
from tests.factories import ProtectedSourceFactory
from tests.images import jpeg_bytes, upload

pytestmark = pytest.mark.django_db


@pytest.fixture
def process(django_capture_on_commit_callbacks, personas):
    def run(data: bytes) -> Photo:
        with django_capture_on_commit_callbacks(execute=True):
            evidence, _ = photo_ingest(
                actor=personas.reporter, case=personas.case, file=upload(data, "signed.jpg")
            )
        return Photo.objects.get(pk=evidence.pk)

    return run


def _flags(photo: Photo) -> dict[str, str]:
    return dict(photo.flags.values_list("code", "message"))


def test_a_camera_signed_photo_is_read_whole_and_raises_no_credentials_flag(process):
    parent = jpeg_bytes(seed=4, size=(320, 240))
    photo = process(signed_jpeg(jpeg_bytes(seed=3), ingredient=parent))
    assert photo.status == Photo.Status.READY
    assert photo.content_credentials == {
        "validation": "valid",
        "problems": [],
        "claim_generator": "Casefile tests 1.0",
        "title": "signed.jpg",
        "signer": SIGNER,
        "signer_organisation": SIGNER_ORGANISATION,
        "certificate_issuer": ISSUER,
        "signed_at": None,
        "actions": [
            {
                "action": "c2pa.created",
                "label": "created",
                "software": "Camera",
                "digital_source_type": "digitalCapture",
                "when": None,
            }
        ],
        "ai_generated": False,
        "ai_words": "",
        "ingredients": [
            {"title": "parent.jpg", "format": "image/jpeg", "relationship": "parentOf"}
        ],
        "manifests": 1,
    }
    flags = _flags(photo)
    assert PhotoFlag.Code.AI_GENERATED not in flags
    assert PhotoFlag.Code.CREDENTIALS_INVALID not in flags
    assert credentials_text(photo.content_credentials) == (
        f"Content Credentials: signed by {SIGNER} (certificate issued by {ISSUER}); "
        "says: created (by Casefile tests 1.0)."
    )


def test_an_ai_generated_picture_is_flagged_in_plain_words(process):
    photo = process(signed_jpeg(jpeg_bytes(seed=5), ai=True))
    credentials = photo.content_credentials
    assert credentials["ai_generated"] is True
    assert credentials["actions"][0]["digital_source_type"] == "trainedAlgorithmicMedia"
    assert _flags(photo)[PhotoFlag.Code.AI_GENERATED] == (
        "The file's Content Credentials say the picture was created with a generative AI tool: "
        "it may not show a real scene."
    )
    assert "says: created with a generative AI tool" in credentials_text(credentials)
    assert credentials_json(credentials)["summary"] == credentials_text(credentials)


def test_a_picture_changed_after_signing_is_flagged_invalid(process):
    photo = process(tampered(signed_jpeg(jpeg_bytes(seed=6), ai=True)))
    assert photo.status == Photo.Status.READY
    credentials = photo.content_credentials
    assert credentials["validation"] == "invalid"
    assert any("assertion.dataHash.mismatch" in p for p in credentials["problems"])
    flags = _flags(photo)
    assert flags[PhotoFlag.Code.CREDENTIALS_INVALID].startswith(
        "The file carries Content Credentials that fail validation"
    )
    # What invalid credentials say is still reported, with the caveat.
    assert "not proven" in flags[PhotoFlag.Code.AI_GENERATED]


def test_a_damaged_manifest_is_recorded_invalid_and_never_fails_the_photo(process):
    photo = process(broken_manifest(signed_jpeg(jpeg_bytes(seed=7))))
    assert photo.status == Photo.Status.READY
    assert photo.content_credentials["validation"] == "invalid"
    assert photo.content_credentials["problems"][0].startswith(
        "The Content Credentials cannot be read:"
    )
    assert PhotoFlag.Code.CREDENTIALS_INVALID in _flags(photo)
    assert credentials_text(photo.content_credentials) == (
        "Content Credentials: present but unreadable."
    )


def test_a_photo_without_credentials_records_none(process):
    photo = process(jpeg_bytes(seed=8))
    assert photo.content_credentials is None
    assert read_credentials(io.BytesIO(b"\xff\xd8\xff\xe0junk"), content_type="image/jpeg") is None


@pytest.mark.parametrize(
    "junk", [b"", b"\xff\xd8\xff", b"\xff\xd8\xff\xebc2pa", b"%PDF-1.4 c2pa" + b"\x00" * 200]
)
def test_reading_never_raises(junk):
    found = read_credentials(io.BytesIO(junk), content_type="image/jpeg")
    assert found is None or found["validation"] == "invalid"


def test_who_signed_a_protected_sources_photo_is_withheld_below_editor(
    django_capture_on_commit_callbacks, personas
):
    """A personal signing certificate names a person: for a protected source, the signer,
    their organisation, the issuer and the file's names are the editors' and owners' only, on
    the page and in the API, as the byline is."""
    source = ProtectedSourceFactory(case=personas.case, created_by=personas.editor)
    with django_capture_on_commit_callbacks(execute=True):
        evidence, _ = photo_ingest(
            actor=personas.reporter,
            case=personas.case,
            file=upload(signed_jpeg(jpeg_bytes(seed=3)), "signed.jpg"),
            source=source,
        )
    names = [SIGNER.encode(), SIGNER_ORGANISATION.encode(), ISSUER.encode()]
    for role in ("viewer", "reporter", "editor"):
        api = token_client(personas.by_role(role)).get(f"/api/v1/evidence/{evidence.pk}/")
        page = Client()
        page.force_login(personas.by_role(role))
        html = page.get(reverse("web:evidence_detail", args=[evidence.pk]))
        credentials = api.json()["content_credentials"]
        if role == "editor":
            assert credentials["signer"] == SIGNER and not credentials["identity_withheld"]
            assert all(name in html.content for name in names[:1])
        else:
            assert credentials["identity_withheld"] and credentials["validation"] == "valid"
            assert credentials["summary"].startswith("Content Credentials: signed by a signer")
            for body in (api.content, html.content):
                assert [name for name in names if name in body] == []
