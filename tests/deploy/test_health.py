"""/healthz and /readyz: what a load balancer and an orchestrator ask."""

import pytest

from tests.deploy.conftest import REDIS_DB, free_port


@pytest.fixture
def media_dir(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.MEDIA_ROOT.mkdir()
    return settings.MEDIA_ROOT


def test_healthz_answers_while_the_process_is_up(client, db):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "no-store" in response["Cache-Control"]


def test_healthz_needs_no_allowed_host_and_no_login(client, db):
    # Orchestrators probe by the container's address, which is not in ALLOWED_HOSTS.
    response = client.get("/healthz", HTTP_HOST="10.0.3.7:8000")
    assert response.status_code == 200


def test_probes_leave_no_session_behind(client, db):
    from django.contrib.sessions.models import Session

    client.get("/healthz")
    client.get("/readyz")
    assert Session.objects.count() == 0
    assert "sessionid" not in client.cookies


def test_readyz_is_ready_when_database_broker_and_storage_answer(client, db, media_dir):
    response = client.get("/readyz")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "ready"
    assert set(response.json()["checks"]) == {"database", "broker", "cache", "storage"}


def test_readyz_reports_an_unreachable_broker_and_stays_ready(client, db, media_dir, settings):
    # Nothing listens on this port: the broker is down. Requests are still accepted (their
    # tasks wait in the outbox), so the app stays in the load balancer, degraded.
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{free_port()}/{REDIS_DB}"
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "degraded",
        "down": ["broker"],
        "message": "Ready, but broker unreachable: work is recorded and its tasks are sent "
        "once it is back.",
        "checks": {"database": "ok", "broker": "down", "cache": "ok", "storage": "ok"},
    }


def test_readyz_reports_a_redis_that_stopped(client, db, media_dir, settings, redis_server):
    url, process = redis_server
    settings.CELERY_BROKER_URL = url
    assert client.get("/readyz").status_code == 200

    process.terminate()
    process.wait(timeout=10)
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["down"] == ["broker"]


def test_readyz_reports_an_unreachable_shared_cache(client, db, media_dir, settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}/{REDIS_DB}",
        }
    }
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["down"] == ["cache"]


def test_readyz_reports_unusable_storage(client, db, settings, tmp_path):
    not_a_folder = tmp_path / "media"
    not_a_folder.write_text("a file where the media folder should be")
    settings.MEDIA_ROOT = not_a_folder
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["down"] == ["storage"]


def test_readyz_names_every_service_that_is_down_and_hides_the_details(
    client, db, settings, tmp_path
):
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{free_port()}/{REDIS_DB}"
    (tmp_path / "not-a-folder").write_text("")
    settings.MEDIA_ROOT = tmp_path / "not-a-folder"
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    assert response.json()["down"] == ["broker", "storage"]
    # Host names, ports and paths go to the log, not to an anonymous caller.
    assert "127.0.0.1" not in response.content.decode()
    assert str(tmp_path) not in response.content.decode()


def test_only_get_is_allowed_on_probes(client, db):
    assert client.post("/healthz").status_code == 405
