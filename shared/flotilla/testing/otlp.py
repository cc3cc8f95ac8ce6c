"""An OTLP/HTTP trace receiver on loopback, for tests: what a collector would be sent.

``OtlpReceiver().start()`` listens on a free port; point ``OTEL_EXPORTER_OTLP_ENDPOINT`` at
``receiver.url`` and read ``receiver.spans`` (service name, span name, kind, trace id, span
id, parent span id).
Requests that are not protobuf ``POST /v1/traces`` are answered 415 and counted in
``rejected``.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import NamedTuple

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest


class Span(NamedTuple):
    service: str
    name: str
    kind: int
    trace_id: str
    span_id: str = ""
    parent_span_id: str = ""  # empty for a trace's root


class _Server(ThreadingHTTPServer):
    receiver: OtlpReceiver


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        ok = self.path == "/v1/traces" and self.headers.get("Content-Type") == "application/x-protobuf"
        if ok:
            self.server.receiver.record(ExportTraceServiceRequest.FromString(body))
        else:
            self.server.receiver.rejected += 1
        self.send_response(200 if ok else 415)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


class OtlpReceiver:
    def __init__(self) -> None:
        self.spans: list[Span] = []
        self.rejected = 0
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.receiver = self
        self.port = self._server.server_port
        self.url = f"http://127.0.0.1:{self.port}"

    def record(self, request: ExportTraceServiceRequest) -> None:
        for resource_spans in request.resource_spans:
            attrs = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
            for scope in resource_spans.scope_spans:
                for span in scope.spans:
                    self.spans.append(Span(attrs.get("service.name", "?"), span.name, span.kind,
                                           span.trace_id.hex(), span.span_id.hex(),
                                           span.parent_span_id.hex()))

    def start(self) -> OtlpReceiver:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
