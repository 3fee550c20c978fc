"""Originals and derivatives on S3-compatible storage: a real S3 server (moto in server mode)
on loopback; uploads, processing, downloads and exports go through it."""

import hashlib
import io
import uuid
import zipfile

import boto3
import pytest
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError
from django.core.files.uploadedfile import SimpleUploadedFile

from config.storage import S3_BACKEND, default_storage_from_env
from evidence.models import Evidence
from tests.api.conftest import token_client
from tests.images import jpeg_bytes

CREDENTIALS = {"STORAGE_ACCESS_KEY": "casefile-test", "STORAGE_SECRET_KEY": "casefile-test"}


def s3_env(endpoint: str, bucket: str) -> dict[str, str]:
    return {
        "STORAGE_BUCKET": bucket,
        "STORAGE_ENDPOINT_URL": endpoint,
        "STORAGE_REGION": "us-east-1",
        "STORAGE_ADDRESSING_STYLE": "path",
        **CREDENTIALS,
    }


def s3_client(endpoint: str):
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=CREDENTIALS["STORAGE_ACCESS_KEY"],
        aws_secret_access_key=CREDENTIALS["STORAGE_SECRET_KEY"],
    )


@pytest.fixture
def bucket(moto_server, settings):
    """A fresh bucket, and the app's default storage pointed at it."""
    name = f"casefile-{uuid.uuid4().hex[:12]}"
    client = s3_client(moto_server)
    client.create_bucket(Bucket=name)
    settings.STORAGES = {
        **settings.STORAGES,
        "default": default_storage_from_env(s3_env(moto_server, name)),
    }
    return client, name


def keys(client, bucket_name: str) -> list[str]:
    listing = client.list_objects_v2(Bucket=bucket_name)
    return sorted(item["Key"] for item in listing.get("Contents", []))


def upload_photo(personas, django_capture_on_commit_callbacks, data: bytes):
    reporter = token_client(personas.reporter)
    with django_capture_on_commit_callbacks(execute=True):
        response = reporter.post(
            f"/api/v1/cases/{personas.case.pk}/evidence/",
            {"kind": "photo", "file": SimpleUploadedFile("dandong.jpg", data), "title": "Train"},
            format="multipart",
        )
    assert response.status_code == 201, response.content
    return Evidence.objects.get(pk=response.json()["id"])


def test_without_a_bucket_files_stay_on_the_local_disk():
    assert default_storage_from_env({}) == {
        "BACKEND": "django.core.files.storage.FileSystemStorage"
    }


def test_with_a_bucket_files_go_to_s3_privately_and_urls_are_signed():
    config = default_storage_from_env({"STORAGE_BUCKET": "newsroom", **CREDENTIALS})
    assert config["BACKEND"] == S3_BACKEND
    options = config["OPTIONS"]
    assert options["default_acl"] is None  # never public-read; the bucket's own (private) ACL
    assert options["querystring_auth"] is True
    assert options["querystring_expire"] == 300
    assert options["file_overwrite"] is False


def test_an_upload_is_processed_and_downloaded_through_s3(
    personas, bucket, django_capture_on_commit_callbacks
):
    client, bucket_name = bucket
    data = jpeg_bytes(seed=3, taken_at="2024:05:14 10:12:00", make="Canon", model="EOS R6")
    evidence = upload_photo(personas, django_capture_on_commit_callbacks, data)

    sha256 = hashlib.sha256(data).hexdigest()
    assert evidence.sha256 == sha256
    stored = keys(client, bucket_name)
    assert evidence.original.name in stored
    # The original in the bucket is byte for byte what was uploaded.
    body = client.get_object(Bucket=bucket_name, Key=evidence.original.name)["Body"].read()
    assert body == data

    # The worker's processing read the original from S3 and wrote derivatives back to it.
    photo = evidence.photo
    photo.refresh_from_db()
    assert photo.status == "ready", photo.failure_reason
    assert photo.thumbnail.name in stored and photo.preview.name in stored
    assert photo.camera_make == "Canon"

    # An editor downloads the original through the app's permission-checked view.
    response = token_client(personas.editor).get(f"/api/v1/evidence/{evidence.pk}/original/")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == data
    assert response["Content-Disposition"].startswith("attachment")


def test_originals_in_s3_are_not_public(personas, bucket, django_capture_on_commit_callbacks):
    from django.core.files.storage import default_storage

    client, bucket_name = bucket
    evidence = upload_photo(personas, django_capture_on_commit_callbacks, jpeg_bytes(seed=4))
    grants = client.get_object_acl(Bucket=bucket_name, Key=evidence.original.name)["Grants"]
    public = [g for g in grants if "AllUsers" in g["Grantee"].get("URI", "")]
    assert public == []
    url = default_storage.url(evidence.original.name)
    assert "X-Amz-Signature=" in url and "X-Amz-Expires=300" in url
    # A client without credentials is refused by the S3 server itself.
    anonymous = boto3.client(
        "s3",
        endpoint_url=client.meta.endpoint_url,
        region_name="us-east-1",
        config=Config(signature_version=UNSIGNED),
    )
    with pytest.raises(ClientError) as refused:
        anonymous.get_object(Bucket=bucket_name, Key=evidence.original.name)
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


@pytest.mark.parametrize("role,status", [("viewer", 403), ("outsider", 404), ("reporter", 403)])
def test_originals_in_s3_are_refused_below_editor(
    personas, bucket, django_capture_on_commit_callbacks, role, status
):
    evidence = upload_photo(personas, django_capture_on_commit_callbacks, jpeg_bytes(seed=5))
    response = token_client(personas.by_role(role)).get(f"/api/v1/evidence/{evidence.pk}/original/")
    assert response.status_code == status


def test_a_case_export_is_written_to_and_read_from_s3(
    personas, bucket, django_capture_on_commit_callbacks
):
    client, bucket_name = bucket
    data = jpeg_bytes(seed=6)
    evidence = upload_photo(personas, django_capture_on_commit_callbacks, data)
    owner = token_client(personas.owner)
    with django_capture_on_commit_callbacks(execute=True):
        response = owner.post(
            f"/api/v1/cases/{personas.case.pk}/exports/",
            {"originals": True, "reveal_protected": False},
            format="json",
        )
    assert response.status_code == 202, response.content
    export = owner.get(f"/api/v1/exports/{response.json()['id']}/").json()
    assert export["status"] == "ready", export
    from evidence.models import Export

    stored = Export.objects.get(pk=export["id"]).file.name
    assert stored in keys(client, bucket_name)

    download = owner.get(export["download_url"])
    assert download.status_code == 200
    bundle = zipfile.ZipFile(io.BytesIO(b"".join(download.streaming_content)))
    contents = {name: bundle.read(name) for name in bundle.namelist()}
    assert data in contents.values()
    manifest = next(name for name in contents if name.endswith("manifest.json"))
    assert evidence.sha256 in contents[manifest].decode()
    # An outsider cannot fetch the bundle from the bucket through the app.
    assert token_client(personas.outsider).get(export["download_url"]).status_code == 404


def test_readyz_checks_the_bucket_itself(client, db, moto_server, bucket, settings):
    assert client.get("/readyz").status_code == 200
    settings.STORAGES = {
        **settings.STORAGES,
        "default": default_storage_from_env(s3_env(moto_server, "no-such-bucket-here")),
    }
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["down"] == ["storage"]
