"""config.outbound: the one rule for where link capture and webhooks may connect."""

import pytest

from config.outbound import AddressRefused, address_allowed, allow_list, check_url


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",  # noqa: S104 (an address refused, not bound)
        "224.0.0.1",
        "240.0.0.1",
        "::1",
        "fe80::1",
        "fd00:ec2::254",
        "::ffff:127.0.0.1",
        "192.0.2.1",
    ],
)
def test_addresses_off_the_public_internet_are_refused(address):
    assert address_allowed(address) is False


@pytest.mark.parametrize("address", ["93.184.215.14", "1.1.1.1", "2606:4700:4700::1111"])
def test_public_addresses_are_allowed(address):
    assert address_allowed(address) is True


@pytest.mark.parametrize(
    "url, words",
    [
        ("http://127.0.0.1:8000/", "Address not allowed"),
        ("http://localhost/", "Address not allowed"),
        ("http://[::1]/", "Address not allowed"),
        ("http://169.254.169.254/latest/meta-data/", "Address not allowed"),
        ("ftp://example.org/", "Only http and https"),
        ("file:///etc/passwd", "Only http and https"),
        ("http:///nohost", "names no host"),
        ("http://example.org:99999/", "not a valid URL"),
        ("http://no-such-host.invalid/", "Host not found"),
    ],
)
def test_refusals_say_why(url, words):
    with pytest.raises(AddressRefused, match=words):
        check_url(url)


def test_the_allow_list_lets_a_named_host_and_port_through_and_no_other_port():
    allowed = allow_list("127.0.0.1:8123, localhost:9000")
    assert check_url("http://127.0.0.1:8123/page", allowed=allowed) == ["127.0.0.1"]
    with pytest.raises(AddressRefused):
        check_url("http://127.0.0.1:8124/page", allowed=allowed)


def test_a_malformed_allow_list_is_an_error_not_an_open_door():
    with pytest.raises(ValueError):
        allow_list("127.0.0.1")
