"""Security headers and cookies as a browser sees them: the app runs under gunicorn in a
subprocess with a production environment (DEBUG off, behind a TLS proxy that sets
X-Forwarded-Proto), and the tests talk HTTP to it."""

import http.client
import json
import subprocess
from http.cookies import SimpleCookie
from urllib.parse import urlencode

import pytest

from tests.deploy.conftest import (
    ROOT,
    free_port,
    manage,
    production_env,
    require_program,
    stop,
    wait_for_port,
)

HOST = "casefile.example.org"
PASSWORD = "correct horse battery staple"  # noqa: S105


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("prod")
    env = production_env(
        tmp_path,
        USE_X_FORWARDED_PROTO="1",
        LOG_LEVEL="WARNING",
        STATIC_ROOT=str(tmp_path / "static"),
    )
    for args in (
        ("collectstatic", "--noinput"),
        ("migrate", "--noinput"),
        (
            "shell",
            "-c",
            "from django.contrib.auth import get_user_model; "
            f"get_user_model().objects.create_user('olivia', password='{PASSWORD}')",
        ),
    ):
        result = manage(*args, env=env, timeout=300)
        assert result.returncode == 0, result.stderr
    gunicorn = require_program("gunicorn")
    port = free_port()
    process = subprocess.Popen(  # noqa: S603
        [
            gunicorn,
            "config.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "--log-config-json",
            "config/gunicorn-logging.json",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, process, timeout=60)
        yield port
    finally:
        stop(process)


def request(port, method, path, *, https=True, headers=None, body=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    all_headers = {"Host": HOST}
    if https:
        all_headers["X-Forwarded-Proto"] = "https"
    all_headers.update(headers or {})
    conn.request(method, path, body=body, headers=all_headers)
    response = conn.getresponse()
    content = response.read()
    conn.close()
    return response, content


def cookies_of(response) -> SimpleCookie:
    jar = SimpleCookie()
    for value in response.headers.get_all("Set-Cookie") or []:
        jar.load(value)
    return jar


def assert_security_headers(response):
    assert response.headers["Strict-Transport-Security"] == (
        "max-age=31536000; includeSubDomains; preload"
    )
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["X-Request-ID"]


def assert_strict_csp(response):
    csp = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp
    assert "unsafe-eval" not in csp


def test_login_page_has_hsts_csp_and_no_framing(server):
    response, _ = request(server, "GET", "/login/")
    assert response.status == 200
    assert_security_headers(response)
    assert_strict_csp(response)
    assert response.headers["X-Frame-Options"] == "DENY"


def test_api_responses_carry_the_security_headers(server):
    body = json.dumps({"username": "nobody", "password": "wrong"})
    response, content = request(
        server,
        "POST",
        "/api/v1/auth/token/",
        headers={"Content-Type": "application/json"},
        body=body,
    )
    assert response.status in (400, 401)
    assert response.headers["Content-Type"].startswith("application/json")
    assert_security_headers(response)
    assert_strict_csp(response)


def test_plain_http_is_redirected_to_https(server):
    response, _ = request(server, "GET", "/login/", https=False)
    assert response.status == 301
    assert response.headers["Location"] == f"https://{HOST}/login/"


def test_probes_answer_over_plain_http_with_security_headers(server):
    response, content = request(server, "GET", "/healthz", https=False)
    assert response.status == 200
    assert json.loads(content) == {"status": "ok"}
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_signing_in_sets_a_secure_http_only_same_site_session_cookie(server):
    response, _ = request(server, "GET", "/login/")
    csrf = cookies_of(response)["csrftoken"]
    assert csrf["secure"] is True
    assert csrf["samesite"] == "Lax"

    form = urlencode(
        {"username": "olivia", "password": PASSWORD, "csrfmiddlewaretoken": csrf.value}
    )
    response, _ = request(
        server,
        "POST",
        "/login/",
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Cookie": f"csrftoken={csrf.value}",
            "Referer": f"https://{HOST}/login/",
        },
        body=form,
    )
    assert response.status == 302, response.headers
    session = cookies_of(response)["sessionid"]
    assert session["secure"] is True
    assert session["httponly"] is True
    assert session["samesite"] == "Lax"


def test_errors_never_show_a_traceback(server):
    for path, https, host in (
        ("/no-such-page/", True, HOST),
        ("/api/v1/no-such-thing/", True, HOST),
        ("/login/", True, "evil.example.com"),  # a host outside ALLOWED_HOSTS
    ):
        response, content = request(server, "GET", path, https=https, headers={"Host": host})
        assert response.status in (400, 404), (path, response.status)
        text = content.decode("utf-8", "replace")
        assert "Traceback" not in text
        assert "DEBUG = True" not in text
        assert "SECRET_KEY" not in text


def test_the_server_runs_with_debug_off(server):
    # Guards the tests above: they mean something only if this is the production setup.
    response, content = request(server, "GET", "/no-such-page/")
    assert response.status == 404
    assert b"seeing this error because you have" not in content
    assert b"Using the URLconf defined in" not in content
