"""Request callbacks cannot be turned against the network: the static rules, and at send time a resolved,
checked and pinned address, shown with real sockets (a raw HTTP listener on loopback) wherever they can."""

from __future__ import annotations

import asyncio
import json
import socket
import ssl
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from shared.events import channels
from shared.events.callbacks import CallbackPolicy, CallbackRefused, system_resolver
from shared.events.cloudevent import build_event
from shared.events.completion import send_completion

SECRET = "whsec-test-0123456789"
HOST = "hooks.example.test"
PUBLIC = "93.184.216.34"


def sample_event() -> dict[str, Any]:
    return build_event({"request_id": "PRIV-7", "type": "export", "status": "succeeded"})


@dataclass
class Received:
    request_line: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Listener:
    """A raw HTTP/1.1 endpoint on a real socket: counts connections, keeps each request, answers the
    next of ``statuses`` (the last one repeats) and closes the connection, so each attempt connects anew."""

    statuses: Sequence[int] = (204,)
    host: str = "127.0.0.1"
    port: int = 0
    location: str = ""
    tls: ssl.SSLContext | None = None
    connections: int = 0
    requests: list[Received] = field(default_factory=list)

    async def __aenter__(self) -> Listener:
        self._server = await asyncio.start_server(self._serve, self.host, self.port, ssl=self.tls)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *_: object) -> None:
        self._server.close()
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
            headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in head[1:] if line)}
            body = await reader.readexactly(int(headers.get("content-length", "0")))
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()
            return
        self.requests.append(Received(head[0], headers, body))
        status = self.statuses[min(len(self.requests), len(self.statuses)) - 1]
        location = f"Location: {self.location}\r\n" if self.location else ""
        writer.write(f"HTTP/1.1 {status} X\r\n{location}Content-Length: 0\r\nConnection: close\r\n\r\n".encode())
        await writer.drain()
        writer.close()


class Resolver:
    """Answers each call with the next list of addresses (the last one repeats) and counts the calls."""

    def __init__(self, *answers: list[str] | Exception) -> None:
        self.answers = answers
        self.calls: list[tuple[str, int]] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        self.calls.append((host, port))
        answer = self.answers[min(len(self.calls), len(self.answers)) - 1]
        if isinstance(answer, Exception):
            raise answer
        return answer


async def no_sleep(_: float) -> None:
    return None


def never_called(request: httpx.Request) -> httpx.Response:
    raise AssertionError(f"a connection was attempted to {request.url.host}")


GOOD = [
    "https://hooks.example.com/dsr",
    "https://hooks.example.com:8443/dsr?tenant=contoso",
    "HTTPS://Hooks.Example.COM./dsr",
    f"https://{PUBLIC}/hook",
    "https://[2606:4700:4700::1111]:8443/hook",
]

BAD = [
    ("https://127.0.0.1/hook", "not a public address"),
    ("https://127.0.0.1./hook", "not a public address"),
    ("https://[::1]/hook", "not a public address"),
    ("https://169.254.169.254/metadata/instance", "not a public address"),
    ("https://10.0.0.1/hook", "not a public address"),
    ("https://172.16.5.4/hook", "not a public address"),
    ("https://192.168.1.1/hook", "not a public address"),
    ("https://100.64.0.1/hook", "not a public address"),
    ("https://0.0.0.0/hook", "not a public address"),
    ("https://224.0.0.251/hook", "not a public address"),
    ("https://0x7f000001/hook", "not a public address"),
    ("https://2130706433/hook", "not a public address"),
    ("https://0x7f.1/hook", "not a public address"),
    ("https://0177.0.0.1/hook", "not a public address"),
    ("https://127.1/hook", "not a public address"),
    ("https://[::ffff:127.0.0.1]/hook", "not a public address"),
    ("https://[::ffff:a9fe:a9fe]/hook", "not a public address"),
    ("https://[2002:7f00:1::]/hook", "not a public address"),
    ("https://[64:ff9b::a00:1]/hook", "not a public address"),
    ("https://[fd00::1]/hook", "not a public address"),
    ("https://[fe80::1]/hook", "not a public address"),
    ("https://999.1.1.1/hook", "numeric host"),
    ("https://localhost/hook", "local-only"),
    ("https://localhost:10000/devstoreaccount1", "local-only"),
    ("https://api.localhost/hook", "local-only"),
    ("https://printer.local/hook", "local-only"),
    ("https://metadata.google.internal/hook", "local-only"),
    ("http://hooks.example.com/hook", "https"),
    ("ftp://hooks.example.com/hook", "scheme"),
    ("https://user:pass@hooks.example.com/hook", "userinfo"),
    ("https://hooks.example.com@127.0.0.1/hook", "userinfo"),
    ("https:///hook", "no host"),
    ("https://hooks.example.com/hook#section", "fragment"),
    ("https://hooks.example.com:99999/hook", "port"),
    ("https://hooks.exa\\mple.com/hook", "not a valid ASCII name"),
    ("https://hooks.exämple.com/hook", "not a valid ASCII name"),
    ("https://hooks.example.com/a b", "whitespace"),
    ("https://hooks.example.com/" + "a" * 2048, "longer than 2048"),
]


@pytest.mark.parametrize("url", GOOD)
def test_public_https_urls_pass_the_static_check(url: str) -> None:
    assert CallbackPolicy().check_url(url) is None


@pytest.mark.parametrize(("url", "rule"), BAD)
def test_the_static_check_names_the_rule_and_never_the_url(url: str, rule: str) -> None:
    reason = CallbackPolicy().check_url(url)
    assert reason is not None
    assert rule in reason
    host = urlsplit(url).hostname or ""
    assert url not in reason
    assert len(host) < 3 or host not in reason.lower(), "the reason must not echo the host"
    assert not any(char.isdigit() for char in reason.replace("2048", "")), "nor any address"


def test_allow_list_with_exact_hosts_and_wildcards() -> None:
    policy = CallbackPolicy.from_settings({"CVDSR_CALLBACK_HOSTS": " hooks.partner.com , *.example.com"})
    assert policy.hosts == frozenset({"hooks.partner.com", "*.example.com"})
    for url in ("https://hooks.partner.com/x", "https://a.example.com/x", "https://a.b.example.com:8443/x"):
        assert policy.check_url(url) is None, url
    for url in (
        "https://example.com/x",  # the wildcard is for subdomains only
        "https://evil-example.com/x",
        "https://hooks.partner.com.evil.test/x",
        "https://other.partner.com/x",
        f"https://{PUBLIC}/x",
    ):
        assert policy.check_url(url) == "the host is not on the callback allow-list", url


def test_dev_hosts_allow_http_and_private_addresses_for_those_hosts_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CVDSR_CALLBACK_DEV_HOSTS", "127.0.0.1,localhost,[::1]")
    policy = CallbackPolicy.from_settings()  # os.environ
    assert policy.dev_hosts == frozenset({"127.0.0.1", "localhost", "::1"})
    for url in ("http://127.0.0.1:7071/hook", "http://localhost:7071/hook", "http://[::1]:7071/hook"):
        assert policy.check_url(url) is None, url
    assert policy.check_url("http://10.0.0.1/hook") is not None
    assert policy.check_url("https://10.0.0.1/hook") == "the address is not a public address"
    assert policy.check_url("http://api.localhost/hook") is not None
    assert CallbackPolicy.from_settings({}) == CallbackPolicy()
    assert (
        CallbackPolicy.from_settings({"CVDSR_CALLBACK_HOSTS": "", "CVDSR_CALLBACK_DEV_HOSTS": ""}) == CallbackPolicy()
    )


def test_a_refusal_is_a_webhook_error() -> None:
    assert issubclass(CallbackRefused, channels.WebhookError)


async def test_a_name_resolving_to_loopback_is_refused_before_connecting() -> None:
    resolver = Resolver(["127.0.0.1"])
    async with Listener() as listener:
        with pytest.raises(CallbackRefused) as caught:
            await channels.send_webhook(
                f"https://{HOST}:{listener.port}/hook",
                SECRET,
                sample_event(),
                policy=CallbackPolicy(),
                resolver=resolver,
                sleep=no_sleep,
            )
    assert listener.connections == 0
    assert resolver.calls == [(HOST, listener.port)], "refused once, not retried"
    assert caught.value.reason == "the host resolves to an address that is not public"
    assert HOST not in str(caught.value)
    assert "127.0.0.1" not in str(caught.value)


async def test_a_dev_host_connects_to_the_checked_address_with_the_real_host_header() -> None:
    """hooks.example.test exists only in the stub; a POST arriving proves the connection went to its answer."""
    resolver = Resolver(["127.0.0.1"])
    policy = CallbackPolicy.from_settings({"CVDSR_CALLBACK_DEV_HOSTS": HOST})
    async with Listener() as listener:
        url = f"http://{HOST}:{listener.port}/hook?tenant=contoso"
        status = await channels.send_webhook(url, SECRET, sample_event(), policy=policy, resolver=resolver)
    assert status == 204
    [received] = listener.requests
    assert received.request_line == "POST /hook?tenant=contoso HTTP/1.1"
    assert received.headers["host"] == f"{HOST}:{listener.port}"
    ok = channels.verify(
        SECRET, received.headers["x-cvdsr-timestamp"], received.body, received.headers["x-cvdsr-signature"]
    )
    assert ok
    assert json.loads(received.body)["subject"] == "PRIV-7"


async def test_the_system_resolver_is_used_by_default() -> None:
    assert set(await system_resolver("localhost", 80)) & {"127.0.0.1", "::1"}
    policy = CallbackPolicy(dev_hosts=frozenset({"localhost"}))
    async with Listener() as listener:
        status = await channels.send_webhook(
            f"http://localhost:{listener.port}/hook", SECRET, sample_event(), policy=policy
        )
    assert status == 204
    assert listener.requests[0].headers["host"] == f"localhost:{listener.port}"


async def test_rebinding_each_attempt_connects_to_the_address_it_checked() -> None:
    """Public on the first lookup, loopback on the second. A mock transport (a public address cannot be
    served here) records where each attempt went: the first to the public address it checked, under the
    real name for Host and TLS; the second is refused without a request."""
    resolver = Resolver([PUBLIC], ["127.0.0.1"])
    seen: list[tuple[str, str, Any]] = []

    def busy(request: httpx.Request) -> httpx.Response:
        seen.append((str(request.url), request.headers["host"], request.extensions.get("sni_hostname")))
        return httpx.Response(503)

    with pytest.raises(CallbackRefused):
        await channels.send_webhook(
            f"https://{HOST}/hook",
            SECRET,
            sample_event(),
            policy=CallbackPolicy(),
            resolver=resolver,
            transport=httpx.MockTransport(busy),
            sleep=no_sleep,
        )
    assert seen == [(f"https://{PUBLIC}/hook", HOST, HOST)]
    assert len(resolver.calls) == 2


async def test_rebinding_between_attempts_over_real_sockets() -> None:
    """The same per-attempt pinning with two real listeners (a dev host may resolve to loopback):
    127.0.0.1 answers 503, then the name rebinds to 127.0.0.2, which gets the retry."""
    resolver = Resolver(["127.0.0.1"], ["127.0.0.2"])
    policy = CallbackPolicy(dev_hosts=frozenset({HOST}))
    async with Listener(statuses=(503,)) as first:
        async with Listener(host="127.0.0.2", port=first.port) as second:
            url = f"http://{HOST}:{first.port}/hook"
            status = await channels.send_webhook(
                url, SECRET, sample_event(), policy=policy, resolver=resolver, sleep=no_sleep
            )
    assert status == 204
    assert (len(first.requests), len(second.requests)) == (1, 1)
    assert {r.headers["host"] for r in first.requests + second.requests} == {f"{HOST}:{first.port}"}


async def test_a_redirect_is_a_failure_and_is_not_followed() -> None:
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    async with Listener() as elsewhere:
        async with Listener(statuses=(302,), location=f"http://127.0.0.1:{elsewhere.port}/stolen") as listener:
            with pytest.raises(channels.WebhookError, match="HTTP 302") as caught:
                await channels.send_webhook(
                    f"http://{HOST}:{listener.port}/hook",
                    SECRET,
                    sample_event(),
                    policy=CallbackPolicy(dev_hosts=frozenset({HOST})),
                    resolver=Resolver(["127.0.0.1"]),
                    sleep=sleep,
                )
    assert not isinstance(caught.value, CallbackRefused)
    assert len(listener.requests) == 1
    assert sleeps == []
    assert elsewhere.connections == 0


async def test_one_private_address_among_several_refuses_the_host() -> None:
    for answers in ([PUBLIC, "10.0.0.7"], ["::ffff:169.254.169.254", PUBLIC], [PUBLIC, "fd12::1"]):
        resolver = Resolver(answers)
        with pytest.raises(CallbackRefused, match="not public"):
            await channels.send_webhook(
                f"https://{HOST}/hook",
                SECRET,
                sample_event(),
                policy=CallbackPolicy(),
                resolver=resolver,
                transport=httpx.MockTransport(never_called),
            )
        assert len(resolver.calls) == 1


async def test_a_failed_lookup_is_retried() -> None:
    resolver = Resolver(socket.gaierror(socket.EAI_AGAIN, "temporary failure"), ["127.0.0.1"])
    async with Listener() as listener:
        status = await channels.send_webhook(
            f"http://{HOST}:{listener.port}/hook",
            SECRET,
            sample_event(),
            policy=CallbackPolicy(dev_hosts=frozenset({HOST})),
            resolver=resolver,
            sleep=no_sleep,
        )
    assert status == 204
    assert len(resolver.calls) == 2
    assert len(listener.requests) == 1


def _tls_files(directory: Path, name: str) -> tuple[Path, Path, Path]:
    """A throw-away CA and a server certificate for ``name`` only: (ca, cert, key)."""
    x509 = pytest.importorskip("cryptography.x509")
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.now(UTC)

    def certificate(subject: str, key: Any, issuer: Any, issuer_key: Any, ca: bool) -> Any:
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(issuer)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(hours=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        )
        if ca:
            usage = x509.KeyUsage(False, False, False, False, False, True, True, False, False)
            builder = builder.add_extension(usage, critical=True)
        else:
            builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(subject)]), critical=False)
            builder = builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            builder = builder.add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False
            )
        return builder.sign(issuer_key, hashes.SHA256())

    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "cvdsr test CA")])
    ca = certificate("cvdsr test CA", ca_key, ca_name, ca_key, ca=True)
    leaf = certificate(name, key, ca_name, ca_key, ca=False)
    paths = directory / "ca.pem", directory / "cert.pem", directory / "key.pem"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return paths


@pytest.mark.parametrize(("certified", "delivered"), [(HOST, True), ("other.example.test", False)])
async def test_tls_to_the_pinned_address_uses_the_host_name_for_sni_and_verification(
    tmp_path: Path, certified: str, delivered: bool
) -> None:
    """The connection goes to 127.0.0.1, yet the server sees SNI hooks.example.test and the client accepts
    only a certificate for that name (a certificate for another name fails, as it must)."""
    ca, cert, key = _tls_files(tmp_path, certified)
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert, key)
    server_names: list[str | None] = []
    server.sni_callback = lambda _socket, name, _context: server_names.append(name)
    client = ssl.create_default_context(cafile=str(ca))
    policy = CallbackPolicy(dev_hosts=frozenset({HOST}))
    async with Listener(tls=server) as listener:
        sending = channels.send_webhook(
            f"https://{HOST}:{listener.port}/hook",
            SECRET,
            sample_event(),
            attempts=1,
            policy=policy,
            resolver=Resolver(["127.0.0.1"]),
            transport=httpx.AsyncHTTPTransport(verify=client),
        )
        if delivered:
            assert await sending == 204
            assert listener.requests[0].headers["host"] == f"{HOST}:{listener.port}"
        else:
            with pytest.raises(channels.WebhookError, match="ConnectError"):
                await sending
            assert listener.requests == []
    assert server_names
    assert set(server_names) == {HOST}


async def test_send_completion_refuses_a_loopback_callback_but_delivers_the_operators_webhook() -> None:
    async with Listener() as operator, Listener() as callback:
        environ = {
            "CVDSR_EVENTS_QUEUE": "none",
            "CVDSR_WEBHOOK_SECRET": SECRET,
            "CVDSR_WEBHOOK_URL": f"http://127.0.0.1:{operator.port}/operator",
        }
        request = {"callback": {"webhook": f"https://127.0.0.1:{callback.port}/hook"}}
        delivery = await send_completion(sample_event(), request, environ)
        plain = {"callback": {"webhook": f"http://127.0.0.1:{callback.port}/hook"}}
        refused_http = await send_completion(sample_event(), plain, environ)
    assert delivery == {"webhook": "sent", "webhook2": "error: refused: the address is not a public address"}
    assert refused_http["webhook2"] == "error: refused: plain http is allowed only for development hosts; use https"
    assert callback.connections == 0
    assert len(operator.requests) == 2
    assert operator.requests[0].request_line == "POST /operator HTTP/1.1"


async def test_send_completion_delivers_a_callback_to_a_dev_host() -> None:
    async with Listener() as callback:
        environ = {
            "CVDSR_EVENTS_QUEUE": "none",
            "CVDSR_WEBHOOK_SECRET": SECRET,
            "CVDSR_CALLBACK_DEV_HOSTS": "127.0.0.1",
        }
        request = {"callback": {"webhook": f"http://127.0.0.1:{callback.port}/hook"}}
        delivery = await send_completion(sample_event(), request, environ)
    assert delivery == {"webhook": "sent"}
    assert len(callback.requests) == 1
