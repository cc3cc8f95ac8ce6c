"""The public edge serves only the API and its documents, and every error it makes is problem+json."""

from __future__ import annotations

import json
import socket

import pytest
import requests

pytestmark = pytest.mark.slow

MEMBERS = {"type", "title", "status", "detail", "instance", "request_id"}


def raw(port: int, request: bytes) -> tuple[int, str, dict[str, object]]:
    """Send bytes as they are; return status, content type and the parsed body."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(request)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), headers["Content-Type"], json.loads(body)


@pytest.mark.parametrize("path", ["/metrics", "/health", "/health/ready", "/health/live", "/console"])
def test_operational_endpoints_are_not_on_the_edge(edge, gateway_proc, path):
    response = requests.get(edge.base_url + path, timeout=5)
    assert response.status_code == 404
    assert response.headers["Content-Type"] == "application/problem+json"
    assert set(response.json()) == MEMBERS
    if path != "/console":
        assert requests.get(gateway_proc.base_url + path, timeout=5).status_code in (200, 503)  # inside


def test_the_api_and_its_documents_are_on_the_edge(edge):
    assert requests.get(edge.base_url + "/api/v1/products?limit=1", timeout=5).status_code == 200
    assert requests.get(edge.base_url + "/docs", timeout=5).status_code == 200
    assert requests.get(edge.base_url + "/openapi.json", timeout=10).status_code == 200


def test_a_path_cannot_inject_members_into_the_edges_problems(edge):
    response = requests.post(edge.base_url + "/api/v1/x%22,%22injected%22:%22yes",
                             data=b"x" * (1024 * 1024 + 1), headers={"Content-Type": "application/json"},
                             timeout=5)
    assert response.status_code == 413
    assert set(json.loads(response.text)) == MEMBERS


@pytest.mark.parametrize(("request_bytes", "status"), [
    (b"GARBAGE\r\n\r\n", 400),
    (b"GET /api/v1/" + b"a" * 5000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
    (b"GET /api/v1/products HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 5000 + b"\r\n\r\n", 431),
    (b"POST /api/v1/products HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 501),
    (b"GET /api/v1/products HTTP/3.0\r\nHost: x\r\n\r\n", 505),
    (b"GET /api/v1/products HTTP/1.1\r\n\r\n", 400),  # no Host
])
def test_errors_below_the_application_are_problems_at_the_edge(edge, request_bytes, status):
    got, content_type, body = raw(edge.config.http_port, request_bytes)
    assert (got, content_type) == (status, "application/problem+json")
    assert set(body) == MEMBERS and body["status"] == status
