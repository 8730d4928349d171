"""SSRF guard for webhook URLs: only http(s), only public addresses.

A webhook URL is admin input, but the server fetching it sits inside the
network: a URL naming 127.0.0.1, 169.254.169.254 (cloud metadata), an RFC 1918
or CGNAT address, or a name that resolves to one would let the helpdesk be
used to reach internal services (osTicket CVE-2020-24881, frappe/press #7459).
So the host is resolved and every address checked, the connection is made to
the address that was checked (no second lookup a DNS-rebinding server could
answer differently), proxies from the environment are ignored and redirects
are never followed.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import threading
from typing import Any
from urllib.parse import urlsplit

import requests
from django.utils import translation
from django.utils.translation import gettext_lazy as _
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError
from urllib3.util import connection as urllib3_connection

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class UnsafeURL(ValueError):
    """The URL may not be fetched: wrong scheme, no host, or a private address.

    str() is English, for logs and the outbox's last_error; translated() is the
    same in the active language, for the admin's form."""

    def __init__(self, message: Any, **params: Any) -> None:
        self.message, self.params = message, params
        with translation.override("en"):
            super().__init__(self.translated())

    def translated(self) -> str:
        return str(self.message) % self.params


# IPv6 prefixes whose last 32 bits are an IPv4 address a gateway forwards
# to: NAT64's well-known prefix (RFC 6052; IPv6-only clouds route it through
# their NAT64 gateway, so 64:ff9b::a9fe:a9fe reaches 169.254.169.254) and the
# deprecated IPv4-compatible ::a.b.c.d.
_IPV4_EMBEDDING = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("::/96"))
# NAT64's local-use prefix (RFC 8215) maps to whatever the operator chose.
_NEVER = (ipaddress.ip_network("64:ff9b:1::/48"),)


def _is_public(ip: IPAddress) -> bool:
    if isinstance(ip, ipaddress.IPv6Address):
        # An IPv6 address can carry an IPv4 one (::ffff:127.0.0.1, 6to4,
        # Teredo, NAT64); judge the embedded address too.
        embedded = [ip.ipv4_mapped, ip.sixtofour, ip.teredo and ip.teredo[1]]
        if any(ip in network for network in _IPV4_EMBEDDING):
            embedded.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
        for inner in embedded:
            if inner is not None and not _is_public(inner):
                return False
        # Site-local (fec0::/10) is deprecated but still routed inside some
        # networks, and is_global does not count it out.
        if ip.is_site_local or any(ip in network for network in _NEVER):
            return False
    # is_global is False for loopback, RFC 1918, link-local, CGNAT
    # (100.64.0.0/10), 0.0.0.0/8, documentation and reserved ranges.
    return ip.is_global and not ip.is_multicast


def check_url(url: str) -> tuple[str, int]:
    """(host, port) of an http(s) URL, or UnsafeURL."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeURL(_("not a valid URL: %(error)s"), error=exc) from None
    if parts.scheme not in {"http", "https"}:
        raise UnsafeURL(_("only http and https URLs are allowed"))
    if not parts.hostname:
        raise UnsafeURL(_("the URL has no host"))
    return parts.hostname, port or (443 if parts.scheme == "https" else 80)


def resolve(host: str, port: int, *, allow_private: bool) -> list[str]:
    """Every address host resolves to, refusing the lot if any one is private.

    getaddrinfo also decodes the numeric spellings (2130706433, 0x7f000001,
    127.1), so they are checked as the address they really are.
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnsafeURL(_("cannot resolve %(host)r: %(error)s"), host=host, error=exc) from None
    addresses: list[str] = []
    for info in infos:
        text = str(info[4][0]).split("%", 1)[0]
        ip = ipaddress.ip_address(text)
        if not allow_private and not _is_public(ip):
            raise UnsafeURL(
                _("%(host)r resolves to a non-public address (%(ip)s)"), host=host, ip=ip
            )
        if text not in addresses:
            addresses.append(text)
    if not addresses:
        raise UnsafeURL(_("cannot resolve %(host)r"), host=host)
    return addresses


def check_target(url: str, *, allow_private: bool) -> list[str]:
    host, port = check_url(url)
    return resolve(host, port, allow_private=allow_private)


# However slowly a receiver trickles its answer, an attempt ends by then:
# requests' read timeout only bounds the gap between two bytes.
DEADLINE_SECONDS = 12.0


def _cut(sock: socket.socket) -> None:
    # OSError: already closed, the request finished in time.
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


class _PinnedConnectionMixin:
    """Connect only to addresses that passed the check, resolved once here,
    and cut the connection at DEADLINE_SECONDS."""

    allow_private = False
    host: str
    port: int
    timeout: Any
    source_address: Any
    socket_options: Any
    _dns_host: str

    def _new_conn(self) -> socket.socket:
        try:
            addresses = resolve(self._dns_host, self.port, allow_private=self.allow_private)
        except UnsafeURL as exc:
            raise NewConnectionError(self, f"refused: {exc}") from None  # type: ignore[arg-type]
        error: OSError | None = None
        for address in addresses:
            try:
                sock = urllib3_connection.create_connection(
                    (address, self.port),
                    self.timeout,
                    source_address=self.source_address,
                    socket_options=self.socket_options,
                )
            except TimeoutError as exc:
                raise ConnectTimeoutError(self, f"Connection to {self.host} timed out.") from exc
            except OSError as exc:
                error = exc
                continue
            watchdog = threading.Timer(DEADLINE_SECONDS, _cut, args=(sock,))
            watchdog.daemon = True
            watchdog.start()
            return sock
        raise NewConnectionError(self, f"Failed to establish a new connection: {error}")  # type: ignore[arg-type]


class _PinnedHTTPConnection(_PinnedConnectionMixin, HTTPConnection):
    pass


class _PinnedHTTPSConnection(_PinnedConnectionMixin, HTTPSConnection):
    pass


class _PrivateHTTPConnection(_PinnedConnectionMixin, HTTPConnection):
    allow_private = True


class _PrivateHTTPSConnection(_PinnedConnectionMixin, HTTPSConnection):
    allow_private = True


def _adapter(http_cls: type[HTTPConnection], https_cls: type[HTTPSConnection]) -> HTTPAdapter:
    class HTTPPool(HTTPConnectionPool):
        ConnectionCls = http_cls

    class HTTPSPool(HTTPSConnectionPool):
        ConnectionCls = https_cls

    class Adapter(HTTPAdapter):
        def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
            super().init_poolmanager(*args, **kwargs)
            self.poolmanager.pool_classes_by_scheme = {"http": HTTPPool, "https": HTTPSPool}

    return Adapter(max_retries=0)


def session(*, allow_private: bool) -> requests.Session:
    """A requests session that ignores proxy env vars, connects only to the
    addresses it checked (public ones, unless allow_private) and gives up
    after DEADLINE_SECONDS."""
    http = requests.Session()
    http.trust_env = False
    if allow_private:
        adapter = _adapter(_PrivateHTTPConnection, _PrivateHTTPSConnection)
    else:
        adapter = _adapter(_PinnedHTTPConnection, _PinnedHTTPSConnection)
    http.mount("http://", adapter)
    http.mount("https://", adapter)
    return http
