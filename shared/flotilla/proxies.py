"""Client addresses from ``X-Forwarded-*`` only when the socket peer is a trusted proxy.

Like nginx's ``set_real_ip_from``: a request whose peer address is in the configured
networks has its forwarded headers applied (``hops`` of them, by werkzeug's ProxyFix);
from anyone else they are removed and the peer address stands, so a client that reaches a
service directly cannot choose the address its limits are counted under. Each trusted hop
only appends to ``X-Forwarded-For`` what it got from a peer it trusted itself, so checking
the immediate peer is enough.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from werkzeug.middleware.proxy_fix import ProxyFix

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
LOOPBACK = "127.0.0.1,::1"
FORWARDED = ("HTTP_FORWARDED", "HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_PROTO",
             "HTTP_X_FORWARDED_HOST", "HTTP_X_FORWARDED_PORT", "HTTP_X_FORWARDED_PREFIX",
             "HTTP_X_REAL_IP")


def parse_networks(value: str | Iterable[str]) -> tuple[Network, ...]:
    """``"127.0.0.1, 10.0.0.0/8"`` -> networks; raises ``ValueError`` on a bad entry."""
    items = value.split(",") if isinstance(value, str) else value
    return tuple(ipaddress.ip_network(item.strip(), strict=False) for item in items if item.strip())


def is_trusted(address: str | None, networks: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address((address or "").split("%")[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return any(ip in net for net in networks if net.version == ip.version)


class TrustedProxies:
    """WSGI middleware: ProxyFix for trusted peers, forwarded headers dropped for the rest."""

    def __init__(self, app: WSGIApplication, networks: tuple[Network, ...], hops: int,
                 forwarded_host: bool = False) -> None:
        self.app = app
        self.networks = networks
        n_host = hops if forwarded_host else 0
        self.fixed = ProxyFix(app, x_for=hops, x_proto=hops, x_host=n_host)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Any:
        if is_trusted(environ.get("REMOTE_ADDR"), self.networks):
            environ["flotilla.trusted_peer"] = True
            return self.fixed(environ, start_response)
        environ["flotilla.trusted_peer"] = False
        for key in FORWARDED:
            environ.pop(key, None)
        return self.app(environ, start_response)


def install(app: Any, networks: str, hops: int, forwarded_host: bool = False) -> None:
    """Wrap ``app.wsgi_app`` when there are hops to trust; never trust anyone otherwise."""
    if hops:
        app.wsgi_app = TrustedProxies(app.wsgi_app, parse_networks(networks), hops, forwarded_host)
