"""The CI's supply-chain gate: how pip-audit's report is judged, and bandit over our code."""

import importlib.util
import subprocess

import pytest

from tests.deploy.conftest import ROOT, require_program


@pytest.fixture(scope="module")
def judge():
    spec = importlib.util.spec_from_file_location(
        "pip_audit_check", ROOT / ".ci/pip_audit_check.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.judge


def dep(name, version="1.0", vulns=(), skip=None):
    entry = {"name": name, "version": version, "vulns": list(vulns)}
    if skip:
        entry = {"name": name, "skip_reason": skip}
    return entry


def test_a_known_vulnerability_fails_and_names_the_fix(judge):
    report = {
        "dependencies": [
            dep("django", "5.2.0", [{"id": "PYSEC-2099-1", "fix_versions": ["5.2.1"]}]),
            dep("celery"),
        ]
    }
    code, lines = judge(report, strict=False)
    assert code == 1
    assert "VULNERABLE django==5.2.0: PYSEC-2099-1 (fixed in: 5.2.1)" in lines


def test_clean_pins_pass(judge):
    code, lines = judge({"dependencies": [dep("django"), dep("celery")]}, strict=True)
    assert code == 0
    assert "2 audited, 0 with known vulnerabilities" in lines[-1]


def test_no_vulnerability_data_is_said_plainly_and_fails_only_when_strict(judge):
    report = {"dependencies": [dep("django", skip="not found"), dep("celery", skip="not found")]}
    code, lines = judge(report, strict=False)
    assert code == 0
    assert any(line.startswith("NOT AUDITED") for line in lines)
    assert judge(report, strict=True)[0] == 1


def test_bandit_finds_nothing_of_medium_or_high_severity_in_our_code():
    bandit = require_program("bandit")
    result = subprocess.run(  # noqa: S603
        [bandit, "-q", "-r", "cases", "evidence", "api", "web", "config", "-ll"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
