"""Production settings: `check --deploy` in a production-like environment, and what start-up
refuses. Each case runs manage.py in a subprocess with only the variables it sets."""

import ast

import pytest

from tests.deploy.conftest import manage, production_env


def test_check_deploy_passes_with_a_production_environment(tmp_path):
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=production_env(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_check_deploy_passes_behind_a_tls_proxy(tmp_path):
    env = production_env(tmp_path, USE_X_FORWARDED_PROTO="1", TRUSTED_PROXY_COUNT="1")
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=env)
    assert result.returncode == 0, result.stdout + result.stderr


def test_start_up_refuses_a_missing_secret_key(tmp_path):
    env = production_env(tmp_path)
    del env["SECRET_KEY"]
    result = manage("check", "--deploy", env=env)
    assert result.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is off" in result.stderr


def test_start_up_refuses_the_development_secret_key(tmp_path):
    from config.settings import DEVELOPMENT_SECRET_KEY

    result = manage("check", env=production_env(tmp_path, SECRET_KEY=DEVELOPMENT_SECRET_KEY))
    assert result.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is off" in result.stderr


@pytest.mark.parametrize("weak", ["changeme", "a" * 60, "django-insecure-" + "x1y2z3" * 10])
def test_start_up_refuses_a_weak_secret_key(tmp_path, weak):
    result = manage("check", env=production_env(tmp_path, SECRET_KEY=weak))
    assert result.returncode != 0
    assert "SECRET_KEY is too weak" in result.stderr


def test_start_up_refuses_missing_allowed_hosts(tmp_path):
    env = production_env(tmp_path)
    del env["ALLOWED_HOSTS"]
    result = manage("check", env=env)
    assert result.returncode != 0
    assert "ALLOWED_HOSTS must be set when DEBUG is off" in result.stderr


def test_check_deploy_warns_when_https_protections_are_turned_off(tmp_path):
    env = production_env(tmp_path, SECURE_SSL_REDIRECT="0", SECURE_COOKIES="0")
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=env)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "security.W008" in output  # SSL redirect
    assert "security.W012" in output  # session cookie not secure


def _settings_values(tmp_path, *names: str, **env_overrides) -> dict[str, str]:
    """The settings as a production process sees them (one subprocess for all the names)."""
    env = production_env(tmp_path, **env_overrides)
    code = "from django.conf import settings\n" + "\n".join(
        f"print(repr(str(settings.{name})))" for name in names
    )
    result = manage("shell", "-c", code, env=env)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()[-len(names) :]
    return {name: ast.literal_eval(line) for name, line in zip(names, lines, strict=True)}


def _settings_value(tmp_path, name: str, **env_overrides) -> str:
    return _settings_values(tmp_path, name, **env_overrides)[name]


def test_forwarded_proto_is_trusted_only_when_configured(tmp_path):
    assert _settings_value(tmp_path, "SECURE_PROXY_SSL_HEADER") == "None"
    trusted = _settings_value(tmp_path, "SECURE_PROXY_SSL_HEADER", USE_X_FORWARDED_PROTO="1")
    assert trusted == "('HTTP_X_FORWARDED_PROTO', 'https')"


def test_production_cookies_are_secure_http_only_and_same_site(tmp_path):
    values = _settings_values(
        tmp_path,
        "SESSION_COOKIE_SECURE",
        "CSRF_COOKIE_SECURE",
        "SESSION_COOKIE_HTTPONLY",
        "SESSION_COOKIE_SAMESITE",
        "CSRF_COOKIE_SAMESITE",
    )
    assert values == {
        "SESSION_COOKIE_SECURE": "True",
        "CSRF_COOKIE_SECURE": "True",
        "SESSION_COOKIE_HTTPONLY": "True",
        "SESSION_COOKIE_SAMESITE": "Lax",
        "CSRF_COOKIE_SAMESITE": "Lax",
    }


def test_session_idle_timeout_is_a_setting(tmp_path):
    values = _settings_values(
        tmp_path, "SESSION_COOKIE_AGE", "SESSION_SAVE_EVERY_REQUEST", SESSION_IDLE_TIMEOUT="900"
    )
    assert values == {"SESSION_COOKIE_AGE": "900", "SESSION_SAVE_EVERY_REQUEST": "True"}


def test_export_retention_is_a_setting_of_at_least_a_day(tmp_path):
    assert _settings_value(tmp_path, "CASEFILE_EXPORT_RETENTION_DAYS") == "7"
    days = _settings_value(
        tmp_path, "CASEFILE_EXPORT_RETENTION_DAYS", CASEFILE_EXPORT_RETENTION_DAYS="30"
    )
    assert days == "30"
    result = manage("check", env=production_env(tmp_path, CASEFILE_EXPORT_RETENTION_DAYS="0"))
    assert result.returncode != 0
    assert "CASEFILE_EXPORT_RETENTION_DAYS must be at least 1" in result.stderr


def test_empty_variables_mean_the_default_and_never_switch_a_protection_off(tmp_path):
    # docker-compose passes unset variables as empty strings (`${SECURE_COOKIES:-}`).
    blanks = {
        name: ""
        for name in (
            "SECURE_COOKIES",
            "SECURE_SSL_REDIRECT",
            "SECURE_HSTS_SECONDS",
            "SECURE_HSTS_INCLUDE_SUBDOMAINS",
            "SECURE_HSTS_PRELOAD",
            "USE_X_FORWARDED_PROTO",
            "SESSION_IDLE_TIMEOUT",
            "LOGIN_FAILURE_LIMIT",
        )
    }
    env = production_env(tmp_path, **blanks)
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert _settings_value(tmp_path, "SESSION_COOKIE_SECURE", **blanks) == "True"


def test_env_example_lists_every_variable_the_settings_read():
    import re

    from tests.deploy.conftest import ROOT

    pattern = re.compile(
        r"(?:os\.environ\.get|os\.environ\[|env_bool|env_int|env_list|env\.get|_int\(env,)"
        r'\s*\(?\s*"([A-Z][A-Z0-9_]*)"'
    )
    read = set()
    for path in ("config/settings.py", "config/storage.py"):
        read |= set(pattern.findall((ROOT / path).read_text()))
    listed = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", (ROOT / ".env.example").read_text(), re.M))
    # Knobs that only the test suite turns are not part of a deployment.
    missing = {name for name in read - listed if "_TEST_" not in name}
    assert not missing, f"add these to .env.example: {sorted(missing)}"
    assert {"STORAGE_BUCKET", "SESSION_IDLE_TIMEOUT", "LOGIN_FAILURE_LIMIT"} <= read
