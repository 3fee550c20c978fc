"""What a test does when a service it needs (Redis, a worker, Chromium, a program) is missing:
in CI (`CI=true`) it fails, so nothing passes by being skipped; on a laptop it skips, saying so."""

import os

import pytest

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def unavailable(reason: str):
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: this test must run)")
    pytest.skip(reason)
