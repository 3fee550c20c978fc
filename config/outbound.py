"""Where Casefile's own outgoing requests may go (link capture, webhooks).

Both fetch addresses that users type. Neither may reach this machine, the private network, the
cloud metadata service or any other address that is not on the public internet, unless the host
and port are named in an allow list (tests, an intranet). The check is on the *resolved*
addresses: a public name that resolves to 127.0.0.1 is refused like 127.0.0.1 itself. A caller
connects to the addresses `resolve` returned, so a second lookup cannot swap them (DNS rebinding).
"""

import ipaddress
import socket
from urllib.parse import urlsplit

SCHEMES = ("http", "https")
DEFAULT_PORTS = {"http": 80, "https": 443}


class AddressRefused(Exception):
    """A request Casefile will not make; the message is a sentence a reporter understands."""


def allow_list(value: str) -> frozenset[tuple[str, int]]:
    """`"host:port,host:port"` (a setting such as CASEFILE_CAPTURE_ALLOW_HOSTS) as pairs."""
    pairs = set()
    for item in value.split(","):
        item = item.strip()
        if not item:
            continue
        host, sep, port = item.rpartition(":")
        if not sep or not port.isdigit():
            raise ValueError(f"{item!r} is not host:port")
        pairs.add((host.strip("[]").lower(), int(port)))
    return frozenset(pairs)


def address_allowed(address: str) -> bool:
    """Whether an IP address is on the public internet (not loopback, private, link-local,
    multicast, reserved, shared, unspecified or documentation space)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


Allowed = frozenset[tuple[str, int]]


def resolve(host: str, port: int, *, allowed: Allowed = frozenset()) -> list[str]:
    """The addresses to connect to for host:port, every one of them allowed, or AddressRefused."""
    host = host.strip("[]").lower()
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise AddressRefused(f"Host not found: {host}.") from None
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    if (host, port) in allowed:
        return addresses
    refused = [address for address in addresses if not address_allowed(address)]
    if refused:
        raise AddressRefused(
            f"Address not allowed: {host} is {refused[0]}, which is not on the public internet "
            "(this machine, a private network or a reserved range)."
        )
    return addresses


def split_url(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of an http or https URL, or AddressRefused."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise AddressRefused("The address is not a valid URL.") from None
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise AddressRefused("Only http and https addresses can be fetched.")
    if not parts.hostname:
        raise AddressRefused("The address names no host.")
    return scheme, parts.hostname, port or DEFAULT_PORTS[scheme]


def check_url(url: str, *, allowed: Allowed = frozenset()) -> list[str]:
    """The addresses a request to `url` may connect to, or AddressRefused naming why not."""
    _, host, port = split_url(url)
    return resolve(host, port, allowed=allowed)
