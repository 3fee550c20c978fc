"""The fast path of a token's check (`cases.tsp`): a token signed by a TSA certificate that
already passed rfc3161-client's full check has only its own signature, imprint and time
checked. It must never accept what the full check refuses."""

from __future__ import annotations

import hashlib

import pytest
from cryptography import x509

import cases.timestamps as timestamps
from cases import tsp
from tests.tsa import TestTsa


@pytest.fixture(scope="module")
def authority(tmp_path_factory):
    return TestTsa(tmp_path_factory.mktemp("tsa"))


@pytest.fixture
def roots(authority):
    timestamps._PROVEN.known.clear()
    return x509.load_pem_x509_certificates(authority.ca_file.read_bytes())


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode()).digest()


def test_a_proven_tsa_s_next_token_is_checked_without_the_full_check(authority, roots, monkeypatch):
    first, second = authority.reply_for(_digest("one")), authority.reply_for(_digest("two"))
    assert timestamps.token_problems(first, digest=_digest("one"), roots=roots) == []
    assert len(timestamps._PROVEN.known) == 1

    def full_check(*args, **kwargs):
        raise AssertionError("the full check ran")

    monkeypatch.setattr(timestamps, "_token_problems", full_check)
    assert timestamps.token_problems(second, digest=_digest("two"), roots=roots) == []


def test_without_a_proven_certificate_the_full_check_decides(authority, roots, monkeypatch):
    token = authority.reply_for(_digest("one"))
    calls = []
    real = timestamps._token_problems
    monkeypatch.setattr(
        timestamps, "_token_problems", lambda *a, **k: calls.append(1) or real(*a, **k)
    )
    assert timestamps.token_problems(token, digest=_digest("one"), roots=roots) == []
    assert calls == [1]


def test_every_damaged_byte_is_refused_as_the_full_check_refuses_it(authority, roots):
    """Each byte of a genuine token flipped in turn, its TSA proven beforehand: the fast path
    accepts a damaged token exactly when the full check does (a byte outside what is signed,
    like the reply's status text, may be harmless), and refuses it with the full check's
    words otherwise."""
    proven = authority.reply_for(_digest("proven"))
    assert timestamps.token_problems(proven, digest=_digest("proven"), roots=roots) == []
    token = authority.reply_for(_digest("this"))
    for at in range(len(token)):
        damaged = bytearray(token)
        damaged[at] ^= 0x01
        damaged = bytes(damaged)
        fast = timestamps.token_problems(damaged, digest=_digest("this"), roots=roots)
        full = timestamps._token_problems(damaged, digest=_digest("this"), roots=roots, nonce=None)
        assert (fast == []) == (full == []), at
        assert fast == full, at


def test_a_token_over_another_digest_or_from_another_tsa_is_refused(authority, roots, tmp_path):
    proven = authority.reply_for(_digest("proven"))
    assert timestamps.token_problems(proven, digest=_digest("proven"), roots=roots) == []
    other = authority.reply_for(_digest("other"))
    found = timestamps.token_problems(other, digest=_digest("this"), roots=roots)
    assert found and "it timestamps the digest" in found[0]
    # A rogue TSA with the same names: its certificate is not the proven one.
    rogue = TestTsa(tmp_path / "rogue").reply_for(_digest("this"))
    found = timestamps.token_problems(rogue, digest=_digest("this"), roots=roots)
    assert found and "its signature does not verify" in found[0]


def test_a_proven_certificate_counts_only_with_the_roots_it_was_proven_against(
    authority, roots, tmp_path
):
    proven = authority.reply_for(_digest("proven"))
    assert timestamps.token_problems(proven, digest=_digest("proven"), roots=roots) == []
    token = tsp.parse(authority.reply_for(_digest("this")))
    assert token is not None
    carried = [timestamps._certificate(c) for c in token.certificates]
    other_roots = x509.load_pem_x509_certificates(
        TestTsa(tmp_path / "other", ca_name="Other Root CA").ca_file.read_bytes()
    )
    assert timestamps._PROVEN.holds(
        token, timestamps._certificate, *timestamps._trust(roots, carried)
    )
    assert not timestamps._PROVEN.holds(
        token, timestamps._certificate, *timestamps._trust(other_roots, carried)
    )


def test_what_the_fast_reading_cannot_read_goes_to_the_full_check():
    assert tsp.parse(b"") is None
    assert tsp.parse(b"\x30\x80\x00\x00") is None  # an indefinite length: BER, not DER
    assert tsp.parse(b"\x30\x81\x01\x00") is None  # a length not in its shortest form
