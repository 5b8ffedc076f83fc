"""Guarding a request's ``callback.webhook`` so that it cannot be turned against the service's own network.

The callback URL comes from whoever files the request, and what is POSTed there is a signed event with a
72-hour link to the person's exported data. Left alone it is a server-side request forgery: a POST to
loopback, Azurite, the instance metadata endpoint or anything inside the VNet. So the URL is checked twice:

- statically at intake (``CallbackPolicy.check_url``): https only, no credentials or fragment, an allowed
  host, and a literal address (in any spelling a resolver accepts) must be public;
- at send time (``CallbackPolicy.resolve``): every DNS answer must be public, and the connection goes to
  the address just checked (no second lookup that a rebinding DNS server could answer differently), with
  the real host name in ``Host`` and in TLS (SNI and certificate verification).

Settings:
- ``CVDSR_CALLBACK_HOSTS``: comma-separated allow-list of host names; ``*.example.com`` matches any
  subdomain of example.com (not example.com itself). Unset or empty: any public host.
- ``CVDSR_CALLBACK_DEV_HOSTS``: comma-separated hosts for development (e.g. ``127.0.0.1,localhost``); for
  these only, plain http and loopback/private addresses are allowed. Default: none.

The operator's own ``CVDSR_WEBHOOK_URL`` is trusted configuration and is not checked here.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from shared.settings import app_settings

from .channels import WebhookError

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[Sequence[str]]]
"""``(host, port) -> addresses``; :func:`system_resolver` unless a test injects another."""

MAX_URL_LENGTH = 2048
_HOST_NAME = re.compile(r"[a-z0-9_-]+(\.[a-z0-9_-]+)*")  # ASCII only: an IDN must come in its xn-- form
_NUMERIC_LABEL = re.compile(r"0x[0-9a-f]*|[0-9]+")
_LOCAL_NAMES = ("localhost", "localhost.localdomain")
_LOCAL_SUFFIXES = (".localhost", ".local", ".internal", ".localdomain", ".home.arpa")
# Not public although Python's is_global may say otherwise for some of them (or for an embedding of them).
_NOT_PUBLIC = tuple(
    ipaddress.ip_network(network)
    for network in ("169.254.0.0/16", "100.64.0.0/10", "fc00::/7", "fe80::/10", "fec0::/10")
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class CallbackRefused(WebhookError):
    """The callback breaks the policy; never retried. The message is the rule only: no URL, host or address
    (it ends up in logs and in the request's delivery result)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def is_public(address: Address) -> bool:
    """Globally routable unicast. An IPv6 address embedding an IPv4 one (mapped, 6to4, Teredo, NAT64) is
    judged by that one too, since the packet ends up there."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = [address.ipv4_mapped, address.sixtofour, address.teredo[1] if address.teredo else None]
        if address in _NAT64:
            embedded.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
        if any(inner is not None and not is_public(inner) for inner in embedded):
            return False
    return address.is_global and not (
        address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or address.is_loopback
        or address.is_link_local
        or any(address in network for network in _NOT_PUBLIC)
    )


def literal_address(host: str) -> Address | None:
    """``host`` as an IP address, also in the IPv4 shorthands resolvers accept (``0x7f.1``, ``2130706433``,
    ``0177.0.0.1``), so that none of them passes as a name. Raises ``ValueError`` for a host that ends in a
    number but is no valid address (as the WHATWG URL standard does)."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if not _NUMERIC_LABEL.fullmatch(host.rsplit(".", 1)[-1]):
        return None
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        raise ValueError("not an IPv4 address") from None


def _canonical(host: str) -> str:
    """Lower case, no brackets or trailing dot; an address in its standard spelling."""
    host = host.strip().lower().removeprefix("[").removesuffix("]").rstrip(".")
    try:
        address = literal_address(host)
    except ValueError:
        return host
    return str(address) if address is not None else host


def host_list(value: str) -> frozenset[str]:
    """A comma-separated list of hosts (``*.example.com`` for subdomains), as the policy compares them."""
    return frozenset(_canonical(entry) for entry in value.split(",") if entry.strip())


async def system_resolver(host: str, port: int) -> list[str]:
    """The event loop's ``getaddrinfo`` (in a worker thread), every address family, in its order."""
    answers = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(answer[4][0]) for answer in answers))


@dataclass(frozen=True)
class Target:
    """Where one attempt connects: ``url`` names the checked address; ``headers`` and ``extensions`` carry
    the real host name for HTTP (``Host``) and for TLS (httpcore's ``sni_hostname`` is used for SNI and for
    certificate verification)."""

    url: str
    address: str
    host_header: str
    sni_hostname: str | None

    @property
    def headers(self) -> dict[str, str]:
        return {"Host": self.host_header}

    @property
    def extensions(self) -> dict[str, Any]:
        return {"sni_hostname": self.sni_hostname} if self.sni_hostname else {}


@dataclass(frozen=True)
class _Checked:
    scheme: str
    host: str  # canonical
    port: int | None  # as written in the URL
    path: str
    query: str
    address: Address | None  # when the host is a literal address
    dev: bool


@dataclass(frozen=True)
class CallbackPolicy:
    """Which request callback URLs may be called (see the module docstring for the rules and settings)."""

    hosts: frozenset[str] = frozenset()
    dev_hosts: frozenset[str] = frozenset()

    @classmethod
    def from_settings(cls, environ: Mapping[str, str] | None = None) -> CallbackPolicy:
        settings = app_settings(environ)
        return cls(hosts=host_list(settings.callback_hosts), dev_hosts=host_list(settings.callback_dev_hosts))

    def check_url(self, url: str) -> str | None:
        """The static check (at intake, and again before each send): None, or the rule the URL breaks."""
        checked = self._examine(url)
        return checked if isinstance(checked, str) else None

    async def resolve(self, url: str, resolver: Resolver | None = None) -> Target:
        """Check ``url``, resolve its host once and pin the connection to that answer.

        Raises :class:`CallbackRefused` if the URL breaks a rule or any address is not public (a dev host
        may resolve anywhere); a failed lookup raises ``OSError`` (``socket.gaierror``), which is retryable.
        """
        checked = self._examine(url)
        if isinstance(checked, str):
            raise CallbackRefused(checked)
        if checked.address is not None:
            addresses: list[Address] = [checked.address]
        else:
            default_port = 443 if checked.scheme == "https" else 80
            answers = await (resolver or system_resolver)(checked.host, checked.port or default_port)
            try:
                addresses = [ipaddress.ip_address(answer) for answer in answers]
            except ValueError:
                raise CallbackRefused("the host resolved to something that is not an IP address") from None
            if not addresses:
                raise CallbackRefused("the host has no addresses")
            if not checked.dev and not all(is_public(address) for address in addresses):
                raise CallbackRefused("the host resolves to an address that is not public")
        # IPv4 first: outbound IPv6 is often unavailable on Functions hosts, and without a host name in the
        # URL there is no happy-eyeballs fallback to the other family.
        address = next((a for a in addresses if a.version == 4), addresses[0])
        port = "" if checked.port is None else f":{checked.port}"
        connect = f"[{address}]" if address.version == 6 else str(address)
        named = f"[{checked.host}]" if ":" in checked.host else checked.host
        return Target(
            url=urlunsplit((checked.scheme, connect + port, checked.path, checked.query, "")),
            address=str(address),
            host_header=named + port,
            sni_hostname=checked.host if checked.scheme == "https" and checked.address is None else None,
        )

    def _examine(self, url: str) -> _Checked | str:
        """The parsed URL, or the reason it is refused. Reasons name the rule, never the URL or a part of it."""
        if len(url) > MAX_URL_LENGTH:
            return f"the URL is longer than {MAX_URL_LENGTH} characters"
        if any(char.isspace() or ord(char) < 0x20 or ord(char) == 0x7F for char in url):
            return "the URL contains whitespace or control characters"
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            return "the URL or its port cannot be parsed"
        scheme = parts.scheme.lower()
        if scheme not in ("https", "http"):
            return "the scheme must be https"
        if "@" in parts.netloc:
            return "credentials (userinfo) in the URL are not allowed"
        if "#" in url:
            return "a fragment is not allowed"
        host = (parts.hostname or "").rstrip(".")
        if not host:
            return "the URL has no host"
        try:
            address = literal_address(host)
        except ValueError:
            return "a numeric host must be a valid IP address"
        if address is None and not _HOST_NAME.fullmatch(host):
            return "the host name is not a valid ASCII name (an IDN must use its xn-- form)"
        host = str(address) if address is not None else host
        dev = host in self.dev_hosts
        if scheme == "http" and not dev:
            return "plain http is allowed only for development hosts; use https"
        if self.hosts and not dev and not any(_matches(host, pattern) for pattern in self.hosts):
            return "the host is not on the callback allow-list"
        if not dev and address is not None and not is_public(address):
            return "the address is not a public address"
        if not dev and (host in _LOCAL_NAMES or host.endswith(_LOCAL_SUFFIXES)):
            return "local-only host names are not allowed"
        return _Checked(scheme, host, port, parts.path, parts.query, address, dev)


def _matches(host: str, pattern: str) -> bool:
    """``*.example.com`` matches any subdomain of example.com, not example.com itself; others match exactly."""
    return host.endswith(pattern[1:]) if pattern.startswith("*.") else host == pattern
