"""Tracing: off without OTEL_EXPORTER_OTLP_ENDPOINT (the SDK is not even imported), and on
with it: two kit apps on loopback (in one process), one calling the other through the kit's httpx client,
export their spans as OTLP/HTTP to a receiver in the test, in the caller's trace; the
trace id is on the log lines."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from flotilla.testing.otlp import OtlpReceiver

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
INCOMING = f"00-{TRACE_ID}-00f067aa0ba902b7-01"

SCRIPT = r'''
import json, sys, threading
from werkzeug.serving import make_server
from flask import jsonify
from flotilla.app import create_service_app
from flotilla.logs import configure_logging
from flotilla.settings import KitSettings
from flotilla.http import make_http_client
import logging

configure_logging("INFO", "json", service="front")
back = create_service_app("back", KitSettings())
front = create_service_app("front", KitSettings())
http = make_http_client()

@back.get("/inner")
def inner():
    logging.getLogger("back").info("inner handled")
    return jsonify(ok=True)

servers = [make_server("127.0.0.1", 0, app, threaded=True) for app in (back, front)]
for s in servers:
    threading.Thread(target=s.serve_forever, daemon=True).start()
back_url = f"http://127.0.0.1:{servers[0].server_port}"

@front.get("/outer")
def outer():
    return jsonify(http.get(back_url + "/inner").json())

import httpx  # an outside caller (the edge, a client): not the kit's instrumented client
answer = httpx.get(f"http://127.0.0.1:{servers[1].server_port}/outer",
                   headers={"traceparent": sys.argv[1]})
assert answer.status_code == 200, answer.text
from flotilla import tracing
print(json.dumps({"on": tracing.enabled(),
                  "sdk_imported": any(m.startswith("opentelemetry") for m in sys.modules)}))
if tracing.enabled():
    from opentelemetry import trace
    trace.get_tracer_provider().force_flush()
for s in servers:
    s.shutdown()
'''


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    server = OtlpReceiver().start()
    yield server
    assert server.rejected == 0  # every export was a protobuf POST /v1/traces
    server.stop()


def run(env: dict[str, str]) -> tuple[dict[str, bool], list[dict[str, str]]]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    result = subprocess.run([sys.executable, "-c", SCRIPT, INCOMING],
                            env={**clean, **env, "LOG_FORMAT": "json"}, capture_output=True, text=True,
                            timeout=60, cwd=Path(__file__).parent, check=False)
    assert result.returncode == 0, result.stderr
    logs = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    return json.loads(result.stdout.strip().splitlines()[-1]), logs


def test_off_without_an_endpoint_imports_nothing_and_logs_the_incoming_trace_id() -> None:
    state, logs = run({})
    assert state == {"on": False, "sdk_imported": False}
    inner = [r for r in logs if r["message"] == "inner handled"]
    assert inner and inner[0]["trace_id"] == "-"  # the kit's client sends no traceparent when off


def test_on_spans_of_both_apps_and_the_client_share_the_callers_trace(receiver: OtlpReceiver) -> None:
    state, logs = run({"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url,
                       "OTEL_BSP_SCHEDULE_DELAY": "100"})
    assert state["on"] is True
    # One tracer provider per process: both apps report the first one's service.name here;
    # under make run, compose or Kubernetes every process is one service.
    server, client = 2, 3  # SpanKind values in the protocol
    spans = sorted((s.name, s.kind) for s in receiver.spans)
    assert spans == [("GET", client), ("GET /inner", server), ("GET /outer", server)], receiver.spans
    assert {s.trace_id for s in receiver.spans} == {TRACE_ID}
    assert [r["trace_id"] for r in logs if r["message"] == "inner handled"] == [TRACE_ID]
