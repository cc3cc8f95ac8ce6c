"""The kit's single request hooks keep what the exporter's hooks and the separate ones did:
metric names and labels, exclusions, security headers, request ids; and what they cache
stays bounded (docs/decisions/0171-request-hooks.md)."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

from flask import Response, after_this_request, jsonify
from prometheus_client import CollectorRegistry, generate_latest

from flotilla.context import new_request_id
from flotilla.db import Database
from flotilla.metrics import RequestMetrics
from flotilla.testing import metric_value


def scrape(client) -> str:
    return client.get("/metrics").get_data(as_text=True)


def test_request_metrics_keep_the_exporters_names_and_labels(client) -> None:
    for _ in range(3):
        assert client.post("/things", json={"name": "a", "count": 1}).status_code == 200
    client.get("/no-such-path")
    client.get("/health/live")
    text = scrape(client)
    assert metric_value(text, "flask_http_request_total", method="POST", status="200",
                        service="kit-test") == 3
    assert metric_value(text, "flask_http_request_duration_seconds_count", method="POST",
                        url_rule="/things", status="200", service="kit-test") == 3
    assert 'le="+Inf"' in text and "flask_exporter_info{" in text
    assert metric_value(text, "flask_http_request_duration_seconds_count", url_rule="None",
                        status="404") == 1
    assert "/health/live" not in text and 'url_rule="/metrics"' not in text


def test_errors_are_counted_with_their_status(client) -> None:
    assert client.get("/boom").status_code == 500
    assert client.get("/mapped").status_code == 409
    text = scrape(client)
    assert metric_value(text, "flask_http_request_total", status="500") == 1
    assert metric_value(text, "flask_http_request_total", status="409") == 1


def test_an_escaped_exception_is_counted_once() -> None:
    registry = CollectorRegistry()
    recorder = RequestMetrics(registry, "svc")
    recorder.failed("GET", "/x", 0.01)
    text = generate_latest(registry).decode()
    assert metric_value(text, "flask_http_request_exceptions_total", status="500", service="svc") == 1
    assert metric_value(text, "flask_http_request_total", status="500") == 1


def test_security_headers_and_request_id_on_every_answer(app, client) -> None:
    @app.get("/framed")
    def framed() -> Response:
        response = jsonify(ok=True)
        response.headers["Content-Security-Policy"] = "default-src 'self'"
        return response

    plain = client.get("/framed")
    assert plain.headers["X-Content-Type-Options"] == "nosniff"
    assert plain.headers["Referrer-Policy"] == "no-referrer"
    assert plain.headers.getlist("Content-Security-Policy") == ["default-src 'self'"]
    assert "Cache-Control" not in plain.headers
    assert re.fullmatch(r"[0-9a-f]{32}", plain.headers["X-Request-ID"])
    bearer = client.get("/framed", headers={"Authorization": "Bearer x", "X-Request-ID": "mine-1"})
    assert bearer.headers["Cache-Control"] == "no-store"
    assert bearer.headers["X-Request-ID"] == "mine-1"
    assert client.get("/nowhere").headers["X-Content-Type-Options"] == "nosniff"


def test_request_ids_are_uuid4_hex() -> None:
    for _ in range(200):
        rid = new_request_id()
        parsed = uuid.UUID(hex=rid)
        assert parsed.hex == rid and parsed.version == 4 and parsed.variant == uuid.RFC_4122


def test_per_request_callbacks_are_not_kept(app, client) -> None:
    @app.get("/later")
    def later() -> Response:
        @after_this_request
        def stamp(response: Response) -> Response:
            response.headers["X-Later"] = "1"
            return response

        return jsonify(ok=True)

    for _ in range(5):
        assert client.get("/later").headers["X-Later"] == "1"
    kept = app.ensure_sync.__closure__  # the cache lives in the closure of the wrapper
    caches = [cell.cell_contents for cell in kept if isinstance(cell.cell_contents, dict)]
    assert caches and all(not any(getattr(f, "__name__", "") == "stamp" for f in c) for c in caches)


def test_reads_of_a_sqlite_file_see_committed_writes(tmp_path: Path) -> None:
    from sqlalchemy import text

    db = Database(f"sqlite:///{tmp_path / 'r.db'}")
    with db.session(write=True) as session:
        session.execute(text("CREATE TABLE t (v INTEGER)"))
        session.execute(text("INSERT INTO t VALUES (1)"))
    with db.read() as conn:
        assert conn.execute(text("SELECT v FROM t")).scalar_one() == 1
    with db.session(write=True) as session:
        session.execute(text("UPDATE t SET v = 2"))
    with db.read() as conn:
        assert conn.execute(text("SELECT v FROM t")).scalar_one() == 2
    db.dispose()
    memory = Database("sqlite://")
    with memory.read() as conn:
        assert conn.execute(text("SELECT 1")).scalar_one() == 1
    memory.dispose()
