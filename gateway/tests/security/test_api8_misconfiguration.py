"""OWASP API8:2023 Security Misconfiguration: debug off, no tracebacks on crafted errors, the
security headers on every answer of the edge (the gateway's and nginx's own errors alike),
``Cache-Control: no-store`` on authenticated answers, HSTS on TLS, and on the TLS port only
TLS 1.2+ with forward-secret cipher suites."""

from __future__ import annotations

import socket
import ssl
import uuid

import pytest
import requests

pytestmark = pytest.mark.slow

REQUIRED = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}
LEAKS = ("Traceback", "File \"/", "werkzeug", "sqlalchemy", "psycopg", "<html", "Werkzeug Debugger")


def _raw(port: int, payload: bytes) -> tuple[int, dict[str, str], str]:
    """One request written as bytes (what requests cannot send); the answer parsed minimally."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(payload)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        length = int(headers.get("content-length", "0"))
        while len(body) < length:
            chunk = sock.recv(65536)
            if not chunk:
                break
            body += chunk
    return int(lines[0].split()[1]), headers, body.decode("utf-8", "replace")


def crafted(stack) -> list[tuple[str, requests.Response]]:
    """Answers of every kind: gateway successes, service errors passed through, gateway errors,
    nginx's own errors (unknown path, body too large, header too large, bad method)."""
    api, c, http = stack.api, stack.customer, stack.http
    edge = stack.edge.base_url
    return [
        ("public read", http.get(f"{api}/products?limit=2", timeout=10)),
        ("authenticated read", http.get(f"{api}/users/me", headers=c.auth, timeout=10)),
        ("authenticated list", http.get(f"{api}/orders", headers=c.auth, timeout=10)),
        ("document", http.get(f"{edge}/openapi.json", timeout=10)),
        ("docs page", http.get(f"{edge}/docs", timeout=10)),
        ("service 404", http.get(f"{api}/products/{uuid.uuid4()}", timeout=10)),
        ("service 422 bad uuid", http.get(f"{api}/orders/not-a-uuid", headers=c.auth, timeout=10)),
        ("service 422 bad json", http.post(f"{api}/orders", data=b'{"items": [', timeout=10,
                                           headers={**c.auth, "Content-Type": "application/json",
                                                    "Idempotency-Key": uuid.uuid4().hex})),
        ("service 415", http.post(f"{api}/auth/login", data=b"<x/>", timeout=10,
                                  headers={"Content-Type": "application/xml"})),
        ("gateway 401 bad token", http.get(f"{api}/orders", headers={"Authorization": "Bearer x.y.z"},
                                           timeout=10)),
        ("gateway 404 unknown route", http.get(f"{api}/nothing-here", timeout=10)),
        ("gateway 405", http.request("TRACE", f"{api}/products", timeout=10)),
        ("edge 404", http.get(f"{edge}/metrics", timeout=10)),
        ("edge 413", http.post(f"{api}/orders", data=b"x" * 200_000, headers=c.auth, timeout=10)),
        ("edge 431", http.get(f"{api}/products", headers={"X-Big": "a" * 9000}, timeout=10)),
    ]


def test_every_answer_carries_the_security_headers_and_leaks_nothing(stack):
    answers = crafted(stack)
    status, headers, body = _raw(stack.edge.config.http_port, b"GARBAGE\r\n\r\n")  # nginx's 400
    missing = []
    for name, response in answers:
        for header, value in REQUIRED.items():
            if response.headers.get(header) != value:
                missing.append(f"{name} ({response.status_code}): {header}")
        csp = response.headers.get("Content-Security-Policy", "")
        if "frame-ancestors 'none'" not in csp and response.headers.get("X-Frame-Options") != "DENY":
            missing.append(f"{name} ({response.status_code}): framing allowed")
        if response.status_code >= 400:
            if not response.headers.get("Content-Type", "").startswith("application/problem+json"):
                missing.append(f"{name} ({response.status_code}): {response.headers.get('Content-Type')}")
            missing += [f"{name}: body has {leak!r}" for leak in LEAKS if leak in response.text]
        assert response.status_code != 500, name
    assert status == 400 and headers.get("x-content-type-options") == "nosniff"
    assert '"status":400' in body and not any(leak in body for leak in LEAKS)
    assert headers.get("content-type", "").startswith("application/problem+json")
    statuses = {name: r.status_code for name, r in answers}
    assert statuses["edge 413"] == 413 and statuses["edge 431"] == 431 and statuses["edge 404"] == 404
    assert missing == []


def test_authenticated_answers_are_never_stored(stack):
    c = stack.customer
    for path in ("/users/me", "/orders", f"/products/{stack.product['id']}"):
        response = stack.http.get(stack.api + path, headers=c.auth, timeout=10)
        assert response.status_code == 200
        assert response.headers.get("Cache-Control") == "no-store", path
    for service in ("users", "orders"):  # and on the services' own ports
        path = "/users/me" if service == "users" else "/orders"
        response = stack.http.get(stack.url(service) + path, headers=c.auth, timeout=10)
        assert response.status_code == 200 and response.headers.get("Cache-Control") == "no-store"
        assert response.headers.get("X-Content-Type-Options") == "nosniff"


def test_debug_is_off_everywhere(apps):
    for name, app in apps.items():
        assert app.debug is False, name
        assert app.config.get("PROPAGATE_EXCEPTIONS") in (None, False), name


def _tls(stack, **options) -> ssl.SSLSocket:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    if "ciphers" in options:
        context.set_ciphers(options["ciphers"])
    context.minimum_version = options.get("minimum", ssl.TLSVersion.MINIMUM_SUPPORTED)
    context.maximum_version = options.get("maximum", ssl.TLSVersion.MAXIMUM_SUPPORTED)
    sock = socket.create_connection(("127.0.0.1", stack.edge.config.https_port), timeout=10)
    try:
        return context.wrap_socket(sock, server_hostname="localhost")
    except BaseException:
        sock.close()
        raise


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1])
def test_tls_before_1_2_is_refused(stack, version):
    with pytest.raises((ssl.SSLError, ConnectionResetError)):
        _tls(stack, minimum=version, maximum=version, ciphers="ALL:@SECLEVEL=0").close()


@pytest.mark.parametrize("cipher", ["AES128-GCM-SHA256", "AES256-SHA256", "AES128-SHA"])
def test_tls_1_2_without_forward_secrecy_is_refused(stack, cipher):
    with pytest.raises((ssl.SSLError, ConnectionResetError)):
        _tls(stack, maximum=ssl.TLSVersion.TLSv1_2, ciphers=f"{cipher}:@SECLEVEL=0").close()


def test_the_tls_port_negotiates_only_forward_secret_suites_and_sends_hsts(stack):
    with _tls(stack, minimum=ssl.TLSVersion.TLSv1_2, maximum=ssl.TLSVersion.TLSv1_2) as tls:
        name, version, _ = tls.cipher()  # type: ignore[misc]
        assert version == "TLSv1.2" and name.startswith("ECDHE-")
    with _tls(stack) as tls:
        assert tls.version() == "TLSv1.3"
    for url in (f"{stack.edge.tls_url}/api/v1/products?limit=1", f"{stack.edge.tls_url}/nothing"):
        response = requests.get(url, verify=False, timeout=10)  # noqa: S501 (the dev certificate)
        assert response.headers.get("Strict-Transport-Security", "").startswith("max-age="), url
    plain = requests.get(f"{stack.edge.base_url}/nothing", timeout=10)
    assert "Strict-Transport-Security" not in plain.headers
