"""Outbound HTTP to addresses taken from configuration or upstream data (SSRF guard).

The tenant's Emporix base URL is typed in by an admin and a logo URL comes from Emporix site
settings: neither may make this service call into its own network (databases, the cloud
metadata service at 169.254.169.254, admin ports on localhost). So every connection made
through `outbound_session()`:

- resolves the host itself and refuses it if ANY resolved address is loopback, private,
  link-local, multicast, reserved, unspecified, shared (RFC 6598) or otherwise not public;
  IPv4 addresses embedded in IPv6 (mapped, 6to4, NAT64) are judged as the IPv4 address;
- then connects to exactly that checked address (no second lookup, so DNS rebinding cannot
  swap it), while TLS SNI, certificate checks and the Host header keep using the host name;
- follows at most MAX_REDIRECTS redirects, whose connections are checked the same way, and
  refuses a redirect from https to http;
- ignores HTTP(S)_PROXY from the environment: through a proxy the address actually reached
  could not be checked.

OUTBOUND_ALLOW_PRIVATE_NETWORKS=1 (local and test setups only) turns the address check off and
allows an http base URL; redirect limits and the downgrade refusal stay.

The check sits in urllib3's connection (`_new_conn`), below `HTTPAdapter.send`, so tests that
mock HTTP with `responses` never reach it and need no DNS.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
from django.conf import settings
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import (
    ConnectTimeoutError,
    LocationParseError,
    NameResolutionError,
    NewConnectionError,
)
from urllib3.util.connection import allowed_gai_family
from urllib3.util.timeout import _DEFAULT_TIMEOUT

MAX_REDIRECTS = 3

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_THIS_NETWORK = ipaddress.ip_network("0.0.0.0/8")  # RFC 1122 3.2.1.3: "this host on this network"
_SHARED = ipaddress.ip_network("100.64.0.0/10")  # RFC 6598 carrier-grade NAT
_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # RFC 6052 well-known prefix


class OutboundError(Exception):
    """An outbound call was stopped by this module (not by the network or the server).

    Deliberately not an OSError (nor a requests.RequestException, which is one): urllib3 would
    wrap an OSError raised while connecting into a retry/connection error and lose the reason.
    """


class OutboundRefused(OutboundError):
    """The target address, scheme or redirect is not allowed."""


def allow_private_networks() -> bool:
    return bool(getattr(settings, "OUTBOUND_ALLOW_PRIVATE_NETWORKS", False))


def address_refusal(ip: IPAddress) -> str | None:
    """Why this address must not be called, or None for a public address."""
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is None and ip in _NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:
            return address_refusal(embedded)
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_loopback:
        return "loopback"
    if ip in _THIS_NETWORK:
        return "this-network (0.0.0.0/8)"
    if ip.is_link_local:  # includes the cloud metadata service 169.254.169.254
        return "link-local"
    if ip in _SHARED:
        return "shared (100.64.0.0/10)"
    if ip.is_private:
        return "private"
    if ip.is_multicast:
        return "multicast"
    if ip.is_reserved:
        return "reserved"
    if not ip.is_global:
        return "non-public"
    return None


def _parse_ip(value: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(value.strip("[]"))
    except ValueError:
        return None


# --- base URL of a tenant ---------------------------------------------------------------------------
def base_url_problem(url: str) -> str | None:
    """What is wrong with an Emporix base URL, or None. No DNS lookup: that happens per connection."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 -- raises ValueError for a bad port
    except ValueError:
        return "is not a valid URL"
    schemes = ("https", "http") if allow_private_networks() else ("https",)
    if parts.scheme.lower() not in schemes:
        return "must use https"
    if not parts.hostname:
        return "has no host"
    if parts.username or parts.password:
        return "must not contain a user name or password"
    if parts.query or parts.fragment:
        return "must not have a query or fragment"
    ip = _parse_ip(parts.hostname)
    if ip is not None and not allow_private_networks():
        reason = address_refusal(ip)
        if reason:
            return f"points to a {reason} address ({ip})"
    return None


# --- overall deadline -----------------------------------------------------------------------------
_local = threading.local()


class Deadline:
    """A wall-clock limit for everything done inside `outbound_deadline()` in this thread.

    Per-read socket timeouts cannot bound a server that sends one byte just before each
    timeout: at the deadline a timer shuts down every socket connected under it, which ends
    any read blocked on it (headers or body).
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.at = time.monotonic() + seconds
        self.expired = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def remaining(self) -> float:
        return self.at - time.monotonic()

    def watch(self, sock: object) -> None:
        # The socket itself, not the connection: a response read until the server closes takes
        # the socket over and the connection forgets it (http.client), yet it must be cut too.
        if isinstance(sock, socket.socket):
            with self._lock:
                self._sockets.append(sock)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            for sock in self._sockets:
                with contextlib.suppress(OSError):  # closed meanwhile: nothing to cut
                    # socket.socket's own shutdown, not SSLSocket's: that one also drops its
                    # TLS object, which the reading thread may be using right now.
                    socket.socket.shutdown(sock, socket.SHUT_RDWR)


@contextlib.contextmanager
def outbound_deadline(seconds: float) -> Iterator[Deadline]:
    deadline = Deadline(seconds)
    previous = getattr(_local, "deadline", None)
    _local.deadline = deadline
    deadline._timer.start()
    try:
        yield deadline
    finally:
        deadline._timer.cancel()
        _local.deadline = previous


# --- the guarded transport --------------------------------------------------------------------------
def _connect_checked(conn: HTTPConnection, timeout: Any) -> socket.socket:
    host = conn._dns_host.strip("[]")
    try:
        host.encode("idna")  # as urllib3's create_connection
    except UnicodeError:
        raise LocationParseError(f"'{host}', label empty or too long") from None
    infos = socket.getaddrinfo(host, conn.port, allowed_gai_family(), socket.SOCK_STREAM)
    if not allow_private_networks():
        for *_, sockaddr in infos:
            ip = ipaddress.ip_address(str(sockaddr[0]))
            reason = address_refusal(ip)
            if reason:
                raise OutboundRefused(f"{host} resolves to {ip}, a {reason} address")
    error: OSError | None = None
    for family, socktype, proto, _name, sockaddr in infos:
        sock = socket.socket(family, socktype, proto)
        try:
            for option in conn.socket_options or ():
                sock.setsockopt(*option)
            if timeout is not _DEFAULT_TIMEOUT:
                sock.settimeout(timeout)
            if conn.source_address:
                sock.bind(conn.source_address)
            sock.connect(sockaddr)  # the address checked above, not a fresh lookup
            return sock
        except OSError as exc:
            error = exc
            sock.close()
    raise error or OSError(f"no address found for {host}")


def _guarded_new_conn(conn: HTTPConnection) -> socket.socket:
    """urllib3's HTTPConnection._new_conn, with the address check and the deadline."""
    deadline: Deadline | None = getattr(_local, "deadline", None)
    timeout = conn.timeout
    if deadline is not None:
        remaining = max(deadline.remaining(), 0.001)
        timeout = remaining if timeout in (None, _DEFAULT_TIMEOUT) else min(float(timeout), remaining)
    try:
        sock = _connect_checked(conn, timeout)
    except socket.gaierror as exc:
        raise NameResolutionError(conn.host, conn, exc) from exc
    except TimeoutError as exc:
        raise ConnectTimeoutError(
            conn, f"Connection to {conn.host} timed out. (connect timeout={timeout})"
        ) from exc
    except OSError as exc:
        raise NewConnectionError(conn, f"Failed to establish a new connection: {exc}") from exc
    sys.audit("http.client.connect", conn, conn.host, conn.port)
    return sock


def _watch(sock: object) -> None:
    deadline: Deadline | None = getattr(_local, "deadline", None)
    if deadline is not None:
        deadline.watch(sock)


class _GuardedHTTPConnection(HTTPConnection):
    def _new_conn(self) -> socket.socket:
        return _guarded_new_conn(self)

    def connect(self) -> None:
        super().connect()
        _watch(self.sock)


class _GuardedHTTPSConnection(HTTPSConnection):
    def _new_conn(self) -> socket.socket:
        return _guarded_new_conn(self)

    def connect(self) -> None:
        super().connect()
        _watch(self.sock)  # the TLS socket, once the handshake is done


class _GuardedHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = _GuardedHTTPConnection


class _GuardedHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = _GuardedHTTPSConnection


class _GuardedAdapter(HTTPAdapter):
    # Not `send`: `responses` mocks HTTPAdapter.send, and the check belongs to the connection.
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _GuardedHTTPConnectionPool,
            "https": _GuardedHTTPSConnectionPool,
        }

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        raise OutboundRefused("outbound calls do not go through proxies (the target could not be checked)")


class _GuardedSession(requests.Session):
    def __init__(self) -> None:
        super().__init__()
        self.max_redirects = MAX_REDIRECTS
        adapter = _GuardedAdapter()
        self.mount("https://", adapter)
        self.mount("http://", adapter)

    def get_redirect_target(self, resp: requests.Response) -> str | None:
        target = super().get_redirect_target(resp)
        if target is not None:
            scheme = urlsplit(urljoin(resp.url, target)).scheme.lower()
            if urlsplit(resp.url).scheme.lower() == "https" and scheme != "https":
                raise OutboundRefused(f"{resp.url} redirects from https to {scheme}: not followed")
        return target

    def merge_environment_settings(
        self, url: str | bytes | None, proxies: Any, stream: Any, verify: Any, cert: Any
    ) -> Any:
        merged = super().merge_environment_settings(url, proxies, stream, verify, cert)
        merged["proxies"] = {}
        return merged

    def rebuild_proxies(self, prepared_request: requests.PreparedRequest, proxies: Any) -> dict[str, str]:
        return {}


def outbound_session() -> requests.Session:
    """A requests session whose every connection and redirect passes the checks above."""
    return _GuardedSession()


def outbound_fetch(
    url: str,
    *,
    max_bytes: int,
    deadline_seconds: float,
    timeout: tuple[float, float],
    headers: Mapping[str, str] | None = None,
) -> bytes:
    """GET a whole (small) resource within `deadline_seconds` overall and `max_bytes`.

    Raises OutboundError (refused, too large, too slow) or requests.RequestException.
    """
    too_slow = f"no complete answer within {deadline_seconds:g} s"
    with outbound_deadline(deadline_seconds) as deadline, outbound_session() as session:
        try:
            with session.get(url, timeout=timeout, stream=True, headers=headers) as response:
                response.raise_for_status()
                declared = response.headers.get("Content-Length", "")
                if declared.isdigit() and int(declared) > max_bytes:
                    raise OutboundError(f"larger than {max_bytes} bytes")
                chunks: list[bytes] = []
                size = 0
                for chunk in response.iter_content(64 * 1024):
                    size += len(chunk)
                    if size > max_bytes:
                        raise OutboundError(f"larger than {max_bytes} bytes")
                    chunks.append(chunk)
                    if deadline.expired:
                        raise OutboundError(too_slow)
        except requests.RequestException as exc:
            if deadline.expired:
                raise OutboundError(too_slow) from exc
            raise
        # A body without a length that was cut off at the deadline looks like a normal end.
        if deadline.expired:
            raise OutboundError(too_slow)
    return b"".join(chunks)
