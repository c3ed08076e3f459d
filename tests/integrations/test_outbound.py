"""The SSRF guard of outbound calls, with real sockets on 127.0.0.0/8 only.

Public names are mapped to addresses by a patched `socket.getaddrinfo`; every `connect` is
recorded and anything outside loopback fails the test before a packet leaves the machine.
127.0.0.2 stands in for "a public server" where a test needs one: the guard is told to treat
exactly that address as public.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
import responses

from core import outbound
from core.errors import PermanentError
from core.outbound import OutboundError, OutboundRefused, outbound_fetch, outbound_session
from integrations.emporix.adapters import EmporixOrderSource, logo_bytes, site_cache
from integrations.emporix.client import EmporixClient, clear_token_cache
from jobs.models import JobOrder
from jobs.services import job_create_manual
from tenants.models import Tenant
from tests import factories
from tests.integrations import emporix_payloads as p
from tests.pipeline import drive

pytestmark = pytest.mark.django_db

LOGO = b"\x89PNG\r\n\x1a\n" + b"logo" * 100
PUBLIC_STAND_IN = "127.0.0.2"


# --- a tiny local web server ------------------------------------------------------------------------
class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.do_GET()

    def do_GET(self) -> None:
        self.server.hits.append(self.path)
        if self.path == "/logo":
            self._answer(200, LOGO)
        elif self.path.startswith("/to/"):  # /to/<absolute url>
            self.send_response(302)
            self.send_header("Location", self.path[len("/to/") :])
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif self.path.startswith("/hop/"):  # /hop/<n>: n redirects, then the logo
            left = int(self.path.rsplit("/", 1)[1])
            if left == 0:
                self._answer(200, LOGO)
            else:
                self.send_response(302)
                self.send_header("Location", f"/hop/{left - 1}")
                self.send_header("Content-Length", "0")
                self.end_headers()
        elif self.path == "/drip-body":  # headers at once, then a byte every 0.2 s, no length
            self.send_response(200)
            self.send_header("Connection", "close")
            self.end_headers()
            self._drip(b"x" * 10_000)
        elif self.path == "/drip-headers":  # the status line and headers a byte every 0.2 s
            self._drip(b"HTTP/1.1 200 OK\r\n" + b"X-Slow: " + b"y" * 10_000 + b"\r\n\r\n")
        else:
            self._answer(404, b"")

    def _answer(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _drip(self, data: bytes) -> None:
        for byte in data:
            if self.server.stopping.wait(0.2):
                return
            try:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
            except OSError:
                return


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, host: str, context: ssl.SSLContext | None = None) -> None:
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        super().__init__((host, 0), _Handler)
        if context is not None:
            self.socket = context.wrap_socket(self.socket, server_side=True)
        self.hits: list[str] = []
        self.stopping = threading.Event()
        self.port = self.server_address[1]
        self.host = host

    def url(self, path: str, *, name: str | None = None, scheme: str = "http") -> str:
        host = name or (f"[{self.host}]" if ":" in self.host else self.host)
        return f"{scheme}://{host}:{self.port}{path}"


@pytest.fixture
def serve() -> Iterator[Callable[..., _Server]]:
    servers: list[_Server] = []

    def start(host: str = "127.0.0.1", context: ssl.SSLContext | None = None) -> _Server:
        server = _Server(host, context)
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stopping.set()
        server.shutdown()
        server.server_close()


# --- the network under test control ---------------------------------------------------------------------
@pytest.fixture(autouse=True)
def _guard_on(settings):
    settings.OUTBOUND_ALLOW_PRIVATE_NETWORKS = False  # the production default
    settings.EMPORIX_LOGO_DEADLINE = 10
    clear_token_cache()
    site_cache.clear()
    yield
    clear_token_cache()
    site_cache.clear()


@pytest.fixture(autouse=True)
def connects(monkeypatch) -> list[str]:
    """Every socket connect of the test; only loopback is ever let through."""
    attempts: list[str] = []
    real_connect = socket.socket.connect

    def connect(self: socket.socket, address: Any) -> None:
        ip = ipaddress.ip_address(str(address[0]).split("%")[0])
        attempts.append(str(ip))
        if not ip.is_loopback:
            raise AssertionError(f"the test tried to connect to {ip}")
        real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    return attempts


@pytest.fixture
def dns(monkeypatch) -> dict[str, list[str]]:
    """name -> addresses, answered by getaddrinfo; other names go to the real resolver."""
    table: dict[str, list[str]] = {}
    lookups: list[str] = []
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, port: Any, family: int = 0, type: int = 0, *args: Any, **kw: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else str(host)
        if name not in table:
            return real(host, port, family, type, *args, **kw)
        lookups.append(name)
        answers = []
        for address in table[name]:
            v6 = ":" in address
            sockaddr = (address, int(port), 0, 0) if v6 else (address, int(port))
            answers.append((socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_STREAM, 6, "", sockaddr))
        return answers

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    table["__lookups__"] = lookups  # read by tests that count lookups
    return table


@pytest.fixture
def public_stand_in(monkeypatch) -> None:
    real = outbound.address_refusal
    monkeypatch.setattr(
        outbound,
        "address_refusal",
        lambda ip: None if str(ip) == PUBLIC_STAND_IN else real(ip),
    )


def fetch(url: str, **kwargs: Any) -> bytes:
    return outbound_fetch(url, max_bytes=1_000_000, deadline_seconds=10, timeout=(2, 5), **kwargs)


# --- addresses ------------------------------------------------------------------------------------------
def test_loopback_server_is_refused_without_the_flag_and_reached_with_it(serve, settings, connects):
    server = serve()

    assert logo_bytes(server.url("/logo")) is None  # the invoice goes out without the logo
    with pytest.raises(OutboundRefused, match=r"127\.0\.0\.1 resolves to 127\.0\.0\.1, a loopback address"):
        fetch(server.url("/logo"))
    assert server.hits == [] and connects == []

    settings.OUTBOUND_ALLOW_PRIVATE_NETWORKS = True
    site_cache.clear()
    assert logo_bytes(server.url("/logo")) == LOGO
    assert server.hits == ["/logo"]


@pytest.mark.parametrize(
    "address",
    [
        "10.0.0.5",
        "172.16.3.4",
        "192.168.1.10",
        "169.254.169.254",  # cloud metadata
        "127.0.0.53",
        "0.0.0.0",
        "0.1.2.3",
        "100.64.0.1",  # RFC 6598 shared
        "224.0.0.251",  # multicast
        "240.0.0.1",  # reserved
        "192.0.2.10",  # documentation, not globally reachable
        "::1",
        "::",
        "fe80::1",
        "fd00::5",
        "ff02::1",
        "::ffff:127.0.0.1",  # IPv4-mapped loopback
        "::ffff:169.254.169.254",
        "64:ff9b::a00:5",  # NAT64 of 10.0.0.5
        "2002:a00:5::1",  # 6to4 of 10.0.0.5
    ],
)
def test_a_name_resolving_to_a_non_public_address_is_refused_before_connecting(dns, connects, address):
    dns["logo.example"] = [address]
    with pytest.raises(OutboundRefused, match=r"logo\.example resolves to .*, a .* address"):
        fetch("http://logo.example/logo.png")
    assert connects == []


def test_one_bad_address_among_good_ones_is_enough_to_refuse(dns, connects, public_stand_in):
    dns["logo.example"] = [PUBLIC_STAND_IN, "10.0.0.5"]
    with pytest.raises(OutboundRefused, match=r"10\.0\.0\.5, a private address"):
        fetch("http://logo.example/logo.png")
    assert connects == []


def test_the_checked_address_is_the_one_connected_to_and_dns_is_asked_once(
    serve, dns, connects, public_stand_in
):
    server = serve(PUBLIC_STAND_IN)
    dns["logo.example"] = [PUBLIC_STAND_IN]

    assert fetch(server.url("/logo", name="logo.example")) == LOGO
    assert connects == [PUBLIC_STAND_IN] and dns["__lookups__"] == ["logo.example"]


def _tls_server_context(tmp_path: Path, name: str) -> tuple[ssl.SSLContext, Path, list[str]]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    sni: list[str] = []
    context.sni_callback = lambda _sock, server_name, _ctx: sni.append(server_name) or None  # type: ignore[func-returns-value]
    return context, cert_file, sni


def test_tls_keeps_the_host_name_for_sni_and_certificate_checks(
    serve, dns, connects, public_stand_in, tmp_path
):
    context, cert_file, sni = _tls_server_context(tmp_path, "logo.example")
    server = serve(PUBLIC_STAND_IN, context)
    dns["logo.example"] = [PUBLIC_STAND_IN]

    with outbound_session() as session:
        response = session.get(
            server.url("/logo", name="logo.example", scheme="https"), verify=str(cert_file)
        )
    assert response.content == LOGO
    assert sni == ["logo.example"] and connects == [PUBLIC_STAND_IN]


# --- redirects --------------------------------------------------------------------------------------------
def test_a_redirect_from_a_public_server_to_loopback_is_refused(serve, connects, public_stand_in):
    public = serve(PUBLIC_STAND_IN)
    internal = serve("127.0.0.1")

    with pytest.raises(OutboundRefused, match="loopback"):
        fetch(public.url("/to/" + internal.url("/logo")))
    assert logo_bytes(public.url("/to/" + internal.url("/logo"))) is None
    assert internal.hits == []  # never reached
    assert len(public.hits) == 2


def test_a_redirect_to_a_name_resolving_to_the_metadata_service_is_refused(
    serve, dns, connects, public_stand_in
):
    public = serve(PUBLIC_STAND_IN)
    dns["metadata.example"] = ["169.254.169.254"]

    with pytest.raises(OutboundRefused, match=r"169\.254\.169\.254, a link-local address"):
        fetch(public.url("/to/http://metadata.example/latest/meta-data/"))
    assert connects == [PUBLIC_STAND_IN]


def test_at_most_three_redirects_are_followed(serve, settings):
    settings.OUTBOUND_ALLOW_PRIVATE_NETWORKS = True  # the limit holds with the flag too
    server = serve()

    assert fetch(server.url("/hop/3")) == LOGO
    server.hits.clear()
    with pytest.raises(requests.TooManyRedirects):
        fetch(server.url("/hop/4"))
    assert server.hits == ["/hop/4", "/hop/3", "/hop/2", "/hop/1"]  # /hop/0 never asked for
    assert logo_bytes(server.url("/hop/4")) is None


def test_a_redirect_from_https_to_http_is_refused():
    with responses.RequestsMock() as mock:
        mock.get(
            "https://cdn.example.com/logo.png", status=302, headers={"Location": "http://cdn.example.com/x"}
        )
        with pytest.raises(OutboundRefused, match="redirects from https to http"):
            fetch("https://cdn.example.com/logo.png")
        assert len(mock.calls) == 1


def test_proxies_from_the_environment_are_not_used(serve, settings, monkeypatch):
    settings.OUTBOUND_ALLOW_PRIVATE_NETWORKS = True
    server = serve()
    monkeypatch.setenv("HTTP_PROXY", "http://10.9.9.9:3128")  # would be refused by `connects`
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)

    assert fetch(server.url("/logo")) == LOGO


# --- the logo's overall deadline ----------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["/drip-body", "/drip-headers"])
def test_a_logo_dripping_a_byte_at_a_time_is_cut_off_at_the_overall_deadline(serve, settings, caplog, path):
    settings.OUTBOUND_ALLOW_PRIVATE_NETWORKS = True
    settings.EMPORIX_LOGO_DEADLINE = 1
    settings.EMPORIX_READ_TIMEOUT = 20  # each byte comes well within the per-read timeout
    server = serve()

    started = time.monotonic()
    assert logo_bytes(server.url(path)) is None
    elapsed = time.monotonic() - started

    assert 0.9 < elapsed < 4, elapsed  # the deadline, not the 20 s read timeout nor the 2000 s drip
    assert "no complete answer within 1 s" in caplog.text


def test_a_logo_larger_than_the_limit_is_not_used(serve, settings):
    settings.OUTBOUND_ALLOW_PRIVATE_NETWORKS = True
    settings.EMPORIX_LOGO_MAX_BYTES = 100
    server = serve()
    with pytest.raises(OutboundError, match="larger than 100 bytes"):
        outbound_fetch(server.url("/logo"), max_bytes=100, deadline_seconds=5, timeout=(2, 5))
    assert logo_bytes(server.url("/logo")) is None


# --- the Emporix client -----------------------------------------------------------------------------------------
@pytest.fixture
def internal_shop(db, dns):
    dns["emporix.internal.example"] = ["10.20.30.40"]
    return factories.tenant_make(
        "shop",
        backend=Tenant.Backend.EMPORIX,
        emporix_base_url="https://emporix.internal.example",
        emporix_client_id="invoice-service",
        emporix_client_secret="s3cr3t",
    )


def test_emporix_base_url_resolving_to_a_private_address_is_never_called(internal_shop, connects):
    source = EmporixOrderSource(internal_shop, EmporixClient(internal_shop))
    with pytest.raises(PermanentError) as error:
        source.get_order("DEMO-1001")
    assert error.value.message == (
        "Emporix OAuth was not called: emporix.internal.example resolves to 10.20.30.40, a private address."
    )
    assert connects == []


def test_job_on_a_tenant_whose_emporix_url_is_internal_fails_with_that_reason(internal_shop, connects):
    job = drive(job_create_manual(tenant=internal_shop, order_ids=["DEMO-1001"]))
    row = JobOrder.objects.get(job=job, order_id="DEMO-1001")
    assert row.status == "FAILURE"
    assert "10.20.30.40, a private address" in row.message
    assert connects == []


def test_emporix_redirect_to_loopback_is_refused(
    serve, dns, connects, public_stand_in, tmp_path, monkeypatch
):
    context, cert_file, _sni = _tls_server_context(tmp_path, "emporix.example")
    public = serve(PUBLIC_STAND_IN, context)
    internal = serve("127.0.0.1")
    dns["emporix.example"] = [PUBLIC_STAND_IN]
    # a valid https base URL on a public address, whose answer redirects to loopback
    tenant = factories.tenant_make(
        "shop",
        backend=Tenant.Backend.EMPORIX,
        emporix_base_url=public.url(
            "/to/" + internal.url("", scheme="https"), name="emporix.example", scheme="https"
        ),
        emporix_client_id="invoice-service",
        emporix_client_secret="s3cr3t",
    )
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert_file))  # trust the test certificate
    client = EmporixClient(tenant)

    with pytest.raises(PermanentError, match=r"127\.0\.0\.1 resolves to 127\.0\.0\.1, a loopback address"):
        client.token()
    assert public.hits == [f"/to/https://127.0.0.1:{internal.port}/oauth/token"]
    assert internal.hits == [] and connects == [PUBLIC_STAND_IN]


def test_emporix_base_url_over_http_is_refused_at_request_time_too():
    tenant = factories.tenant_make(
        "shop",
        backend=Tenant.Backend.EMPORIX,
        emporix_base_url=p.BASE_URL,
        emporix_client_id="invoice-service",
        emporix_client_secret="s3cr3t",
    )
    Tenant.objects.filter(pk=tenant.pk).update(emporix_base_url="http://api.emporix.io")  # bypasses clean()
    tenant.refresh_from_db()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        with pytest.raises(PermanentError, match="base URL of tenant shop must use https; nothing was sent"):
            EmporixClient(tenant).token()
        assert len(mock.calls) == 0
