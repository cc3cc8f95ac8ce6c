"""The nginx edge as a local process: config rendered from the template, a development
certificate made with openssl, nginx run with its own prefix, pid and temp paths.

``python -m gateway.nginx run`` (what ``make run`` starts) renders into ``var/nginx``
and execs nginx in the foreground; tests use :class:`NginxProcess` on free ports.
Settings: ``EDGE_HTTP_PORT`` (8000), ``EDGE_HTTPS_PORT`` (8443), ``EDGE_BIND``,
``GATEWAY_ADDR`` (127.0.0.1:``GATEWAY_PORT``), ``EDGE_RATE_LIMIT`` (requests/s per
address), ``EDGE_BURST``, ``EDGE_MAX_BODY``, ``EDGE_WORKERS``, ``EDGE_RESOLVER``, ``EDGE_PROXY_BIND``.

``EDGE_RESOLVER`` (empty by default; the container image sets ``auto``) makes nginx look the
gateway's name up at request time through that DNS server (``auto``: the first nameserver
of /etc/resolv.conf) instead of once at start-up, so an edge started before the gateway's
name exists keeps running, answers 502 problem+json meanwhile, and heals by itself.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from flotilla.testing import port_open, wait_for

TEMPLATE = Path(__file__).with_name("nginx.conf.template")


def nginx_binary() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if not found:
        raise RuntimeError("nginx not found: run `make deps` (apt-get install nginx)")
    return found


@dataclass
class EdgeConfig:
    prefix: Path
    http_port: int = 8000
    https_port: int = 8443
    gateway: str = "127.0.0.1:8080"
    bind: str = "127.0.0.1"
    rate: int = 100
    burst: int = 200
    max_body: str = "1m"
    workers: str = "1"
    resolver: str = ""
    #: The source address for connections to the gateway (``proxy_bind``): under make run the
    #: edge connects from 127.0.0.2, the one address the gateway trusts X-Forwarded-For from.
    proxy_bind: str = ""
    tls_dir: Path | None = field(default=None)

    @classmethod
    def from_env(cls, prefix: Path) -> EdgeConfig:
        env = os.environ
        return cls(prefix=prefix, http_port=int(env.get("EDGE_HTTP_PORT", "8000")),
                   https_port=int(env.get("EDGE_HTTPS_PORT", "8443")),
                   gateway=env.get("GATEWAY_ADDR", f"127.0.0.1:{env.get('GATEWAY_PORT', '8080')}"),
                   bind=env.get("EDGE_BIND", "127.0.0.1"), rate=int(env.get("EDGE_RATE_LIMIT", "100")),
                   burst=int(env.get("EDGE_BURST", "200")), max_body=env.get("EDGE_MAX_BODY", "1m"),
                   workers=env.get("EDGE_WORKERS", "1"), resolver=env.get("EDGE_RESOLVER", ""),
                   proxy_bind=env.get("EDGE_PROXY_BIND", ""))


def dev_certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for localhost (made once; kept for 30 days)."""
    directory.mkdir(parents=True, exist_ok=True)
    cert, key = directory / "dev.crt", directory / "dev.key"
    if not cert.exists() or not key.exists():
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30",
                        "-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost",
                        "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                       check=True, capture_output=True)
        key.chmod(0o600)
    return cert, key


def nameservers(path: Path = Path("/etc/resolv.conf")) -> list[str]:
    """The nameservers of a resolv.conf, as nginx's ``resolver`` spells them."""
    servers: list[str] = []
    for line in path.read_text().splitlines() if path.exists() else []:
        words = line.split()
        if len(words) >= 2 and words[0] == "nameserver":
            servers.append(f"[{words[1]}]" if ":" in words[1] else words[1])
    return servers


def upstream_directives(gateway: str, resolver: str,
                        resolv_conf: Path = Path("/etc/resolv.conf")) -> tuple[str, str]:
    """The ``upstream`` block (or a resolver) and the ``proxy_pass`` line for the gateway.

    Without a resolver the name is resolved once at start-up into a keep-alive pool (the
    fastest; what ``make run`` uses on loopback). With one, nginx resolves at request time
    (``valid=5s``): it starts whether or not the name exists yet. nginx's resolver applies
    no search domains: the name must resolve as written (compose's and podman's DNS answer
    bare container names; in Kubernetes spell the Service's full name).
    """
    if not resolver:
        block = (f"    upstream flotilla_gateway {{\n        server {gateway} max_fails=0;\n"
                 "        keepalive 64;\n        keepalive_requests 10000;\n"
                 "        keepalive_timeout 60s;\n    }")
        return block, "            proxy_pass http://flotilla_gateway;"
    servers = nameservers(resolv_conf) if resolver == "auto" else resolver.split()
    if not servers:
        raise RuntimeError(f"EDGE_RESOLVER={resolver!r}: no nameserver found in {resolv_conf}")
    block = f"    resolver {' '.join(servers)} valid=5s ipv6=off;\n    resolver_timeout 2s;"
    proxy = (f"            set $flotilla_gateway {gateway};\n"
             "            proxy_pass http://$flotilla_gateway;")
    return block, proxy


#: Every status nginx itself can answer with: (status sent, title, detail, Retry-After).
#: 494 (header too large) goes out as 431; 495-497 (TLS trouble) as 400.
EDGE_ERRORS: dict[int, tuple[int, str, str, str]] = {
    400: (400, "Bad Request", "The request is not valid HTTP.", ""),
    404: (404, "Not Found", "Nothing public lives at this path.", ""),
    405: (405, "Method Not Allowed", "This method is not allowed here.", ""),
    408: (408, "Request Timeout", "The request took too long to arrive.", ""),
    411: (411, "Length Required", "Send a Content-Length or a chunked body.", ""),
    413: (413, "Content Too Large", "The body is larger than @@MAX_BODY@@.", ""),
    414: (414, "URI Too Long", "The request line is too long.", ""),
    429: (429, "Too Many Requests", "Too many requests from this address; slow down.", "1"),
    494: (431, "Request Header Fields Too Large", "A request header is too large.", ""),
    495: (400, "Bad Request", "The client certificate is not valid.", ""),
    496: (400, "Bad Request", "A client certificate is required.", ""),
    497: (400, "Bad Request", "Plain HTTP was sent to the HTTPS port.", ""),
    500: (500, "Internal Server Error", "The edge failed to answer.", ""),
    501: (501, "Not Implemented", "This transfer coding or method is not supported.", ""),
    502: (502, "Bad Gateway", "The API gateway is not answering; try again shortly.", "2"),
    503: (503, "Service Unavailable", "The edge is overloaded; try again shortly.", "2"),
    504: (504, "Gateway Timeout", "The API gateway did not answer in time; try again.", "2"),
    505: (505, "HTTP Version Not Supported", "Use HTTP/1.0, 1.1 or 2.", ""),
}


#: The gateway's security headers (gateway.headers.SECURITY_HEADERS), on nginx's own answers
#: too; HSTS only on the TLS port ($edge_hsts is empty on plain HTTP, and nginx then sends none).
EDGE_SECURITY_HEADERS: dict[str, str] = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Content-Security-Policy": "\"default-src 'none'; frame-ancestors 'none'\"",
    "Cache-Control": "no-store",
    "Strict-Transport-Security": "$edge_hsts",
}
EDGE_HEADERS = "".join(f"            add_header {name} {value} always;\n"
                       for name, value in EDGE_SECURITY_HEADERS.items())


def _slug(title: str) -> str:
    return title.lower().replace(" ", "-")


def problem_locations() -> tuple[str, str]:
    """``error_page`` lines and one internal location per status nginx can produce.

    The bodies are fixed text: nothing from the request is interpolated but the request id,
    which the ``$edge_request_id`` map limits to ``[A-Za-z0-9._:-]``, so they are always valid
    JSON with exactly the documented members.
    """
    pages, locations = [], []
    for code, (status, title, detail, retry_after) in EDGE_ERRORS.items():
        pages.append(f"        error_page {code} ={status} /_edge_problem/{code};")
        body = json.dumps({"type": f"https://flotilla.dev/problems/{_slug(title)}", "title": title,
                           "status": status, "detail": detail,
                           "instance": "urn:flotilla:request:EDGE_RID", "request_id": "EDGE_RID"},
                          separators=(",", ":")).replace("EDGE_RID", "$edge_request_id")
        retry = f"            add_header Retry-After {retry_after} always;\n" if retry_after else ""
        # A URI, not a named location: errors met while reading the request line have no URI
        # for a named location to keep.
        locations.append(f"        location = /_edge_problem/{code} {{\n            internal;\n"
                         "            default_type application/problem+json;\n" + retry +
                         "            add_header X-Request-ID $edge_request_id always;\n" + EDGE_HEADERS +
                         f"            return {status} '{body}';\n        }}\n")
    return "\n".join(pages), "\n".join(locations)


def render(config: EdgeConfig) -> Path:
    prefix = config.prefix.resolve()
    for sub in ("conf", "logs", "tmp"):
        (prefix / sub).mkdir(parents=True, exist_ok=True)
    cert, key = dev_certificate(config.tls_dir or prefix / "tls")
    # As root, workers drop to nobody: they only need to reach the temp paths.
    user = "user nobody nogroup;" if os.geteuid() == 0 else ""
    if user:
        for path in (prefix, prefix / "tmp"):
            path.chmod(0o755)
    upstream, proxy_pass = upstream_directives(config.gateway, config.resolver)
    error_pages, problem_blocks = problem_locations()
    values = {"ERROR_PAGES": error_pages, "PROBLEM_LOCATIONS": problem_blocks,
              "UPSTREAM": upstream, "PROXY_PASS": proxy_pass,
              "PROXY_BIND": f"proxy_bind {config.proxy_bind};" if config.proxy_bind else "",
              "USER": user, "WORKERS": config.workers, "PREFIX": str(prefix),
              "MAX_BODY": config.max_body, "RATE": str(config.rate), "BURST": str(config.burst),
              "GATEWAY": config.gateway, "BIND": config.bind, "HTTP_PORT": str(config.http_port),
              "HTTPS_PORT": str(config.https_port), "CERT": str(cert), "KEY": str(key)}
    text = TEMPLATE.read_text()
    for name, value in values.items():
        text = text.replace(f"@@{name}@@", value)
    conf = prefix / "conf" / "nginx.conf"
    conf.write_text(text)
    return conf


def command(config: EdgeConfig, conf: Path) -> list[str]:
    prefix = str(config.prefix.resolve())
    return [nginx_binary(), "-p", prefix, "-e", f"{prefix}/logs/error.log", "-c", str(conf),
            "-g", "daemon off;"]


class NginxProcess:
    """nginx in the foreground as a child process (tests, benchmarks)."""

    def __init__(self, config: EdgeConfig) -> None:
        self.config = config
        self.base_url = f"http://127.0.0.1:{config.http_port}"
        self.tls_url = f"https://127.0.0.1:{config.https_port}"
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> NginxProcess:
        conf = render(self.config)
        cmd = command(self.config, conf)
        subprocess.run([*cmd[:-2], "-t"], check=True, capture_output=True)
        self._proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(lambda: self._proc is not None and self._proc.poll() is None
                 and port_open(self.config.http_port) and port_open(self.config.https_port),
                 timeout=10, what="nginx")
        return self

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.send_signal(signal.SIGQUIT)  # graceful: finish requests in flight
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()

    def error_log(self) -> str:
        path = self.config.prefix / "logs" / "error.log"
        return path.read_text() if path.exists() else ""


def main(argv: list[str] | None = None) -> None:
    """``python -m gateway.nginx run|render [PREFIX]`` (PREFIX defaults to var/nginx)."""
    args = sys.argv[1:] if argv is None else argv
    action = args[0] if args else "run"
    config = EdgeConfig.from_env(Path(args[1] if len(args) > 1 else "var/nginx"))
    conf = render(config)
    if action == "render":
        sys.stdout.write(f"{conf}\n")
        return
    cmd = command(config, conf)
    subprocess.run([*cmd[:-2], "-t"], check=True)
    os.execv(cmd[0], cmd)  # noqa: S606 (nginx replaces this process, so honcho supervises it)
