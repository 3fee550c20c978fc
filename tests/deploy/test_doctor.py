"""`manage.py doctor` says in plain words what a deployment is missing."""

import shutil
import uuid

import boto3
import pytest

from config.tesseract import tesseract_status
from tests.deploy.conftest import REDIS_DB, free_port, manage, production_env
from tests.deploy.test_storage import CREDENTIALS, s3_client, s3_env
from tests.needs import unavailable
from tests.tsa import TestTsa, closed_port_url


def doctor(env):
    result = manage("doctor", "--timeout", "1", env=env, timeout=180)
    return result.returncode, result.stdout


@pytest.fixture(scope="module")
def migrated_database(tmp_path_factory):
    """One migrated SQLite database and one collectstatic, shared by the tests (both take a
    while); each test gets its own copy of the database."""
    folder = tmp_path_factory.mktemp("migrated")
    env = production_env(folder, STATIC_ROOT=str(folder / "static"))
    for args in (("migrate", "--noinput"), ("collectstatic", "--noinput")):
        result = manage(*args, env=env, timeout=300)
        assert result.returncode == 0, result.stderr
    return folder


@pytest.fixture
def migrated_env(tmp_path, migrated_database):
    def make(**overrides):
        shutil.copy(migrated_database / "prod.sqlite3", tmp_path / "prod.sqlite3")
        overrides.setdefault("STATIC_ROOT", str(migrated_database / "static"))
        return production_env(tmp_path, **overrides)

    return make


def test_doctor_names_pending_migrations_and_how_to_apply_them(tmp_path):
    code, out = doctor(production_env(tmp_path))
    assert code == 1
    assert "migration(s) not applied" in out
    assert "Run: python manage.py migrate" in out


def test_doctor_explains_a_one_machine_setup_without_failing_it(migrated_env):
    code, out = doctor(migrated_env())
    assert code == 0, out
    assert "Django's deployment checklist passes." in out
    assert "The database is SQLite" in out
    assert "No broker (REDIS_URL is not set)" in out
    assert "Files are on this machine's disk" in out
    assert "no user accounts yet" in out
    assert "Every migration is applied." in out
    assert "Static files are collected." in out
    assert "No timestamp authority configured (CASEFILE_TSA_URL)" in out


def test_doctor_reports_an_unreachable_broker(migrated_env):
    dead = f"redis://127.0.0.1:{free_port()}/{REDIS_DB}"
    code, out = doctor(migrated_env(REDIS_URL=dead))
    assert code == 1
    assert "FAIL Cannot reach the broker" in out
    assert "REDIS_URL" in out


def test_doctor_reports_queues_without_workers(migrated_env, redis_server):
    url, _ = redis_server  # a private Redis: no worker of anyone else's answers there
    code, out = doctor(migrated_env(REDIS_URL=url))
    assert code == 1
    assert "The broker (Redis) answers." in out
    assert "No Celery worker answers" in out


def test_doctor_reports_weak_production_settings(migrated_env):
    env = migrated_env(SECURE_SSL_REDIRECT="0", CSRF_TRUSTED_ORIGINS="")
    code, out = doctor(env)
    assert "security.W008" in out
    assert "CSRF_TRUSTED_ORIGINS is empty" in out


def test_doctor_fails_a_server_without_a_signing_key_and_says_how_to_make_one(migrated_env):
    code, out = doctor(migrated_env())
    assert "ok   Signing key " in out  # production_env's key, by its fingerprint
    code, out = doctor(migrated_env(CASEFILE_SIGNING_KEY=None))
    assert code == 1
    assert "FAIL No signing key: exports and checkpoints cannot be signed" in out
    assert "casefile_key generate" in out


def test_doctor_checks_the_bucket_and_that_it_is_private(migrated_env, moto_server):
    bucket = f"casefile-{uuid.uuid4().hex[:12]}"
    s3_client(moto_server).create_bucket(Bucket=bucket)
    code, out = doctor(migrated_env(**s3_env(moto_server, bucket)))
    assert f"ok   Files can be written to and read from bucket '{bucket}'" in out
    assert "refuses anonymous reads" in out
    assert "Files are on this machine's disk" not in out
    # The probe file is cleaned up.
    assert "Contents" not in s3_client(moto_server).list_objects_v2(Bucket=bucket)


def test_doctor_reports_a_missing_bucket(migrated_env, moto_server):
    code, out = doctor(migrated_env(**s3_env(moto_server, "no-such-bucket-here")))
    assert code == 1
    assert "FAIL Cannot write and read a file in bucket 'no-such-bucket-here'" in out
    assert "STORAGE_BUCKET" in out


def test_doctor_needs_no_credentials_in_its_output(migrated_env, moto_server):
    bucket = f"casefile-{uuid.uuid4().hex[:12]}"
    boto3.client(
        "s3",
        endpoint_url=moto_server,
        region_name="us-east-1",
        aws_access_key_id=CREDENTIALS["STORAGE_ACCESS_KEY"],
        aws_secret_access_key=CREDENTIALS["STORAGE_SECRET_KEY"],
    ).create_bucket(Bucket=bucket)
    env = migrated_env(**s3_env(moto_server, bucket))
    _, out = doctor(env)
    assert env["SECRET_KEY"] not in out


def test_doctor_reports_static_files_that_were_never_collected(migrated_env, tmp_path):
    code, out = doctor(migrated_env(STATIC_ROOT=str(tmp_path / "empty-static")))
    assert code == 1
    assert "Static files are not collected" in out
    assert "collectstatic" in out


def test_doctor_reports_the_timestamp_authority_reachable_or_not(migrated_env, tmp_path):
    with TestTsa(tmp_path / "tsa") as tsa:
        url = tsa.url
        code, out = doctor(
            migrated_env(CASEFILE_TSA_URL=url, CASEFILE_TSA_CA_FILE=str(tsa.ca_file))
        )
    assert code == 0, out
    assert f"Timestamp authority {url} reachable: a token from Casefile Test TSA at " in out
    assert "checked against CASEFILE_TSA_CA_FILE (1 certificate(s))" in out
    down = closed_port_url()
    code, out = doctor(migrated_env(CASEFILE_TSA_URL=down))
    assert code == 0, out
    assert f"Timestamp authority configured but not usable now: the TSA at {down} cannot" in out


def test_doctor_says_whether_tesseract_reads_text_and_warns_when_it_is_absent(migrated_env):
    if not tesseract_status().available:
        unavailable(tesseract_status().problem)
    code, out = doctor(migrated_env())
    assert code == 0, out
    assert "Text in pictures (OCR)" in out
    assert "ok   tesseract 5" in out and "chi_sim" in out and "kor" in out
    # A wrong path (as where Tesseract is not installed): a warning that names the fix, and
    # nothing fails (each photo says its text was skipped).
    code, out = doctor(migrated_env(CASEFILE_TESSERACT_CMD="/nonexistent/tesseract"))
    assert code == 0, out
    assert "warn Tesseract is not installed here (no program '/nonexistent/tesseract')" in out
    assert "make tesseract" in out
    code, out = doctor(migrated_env(CASEFILE_OCR_LANGUAGES="eng+xyz"))
    assert "asks for xyz, not installed: install tesseract-ocr-xyz" in out
