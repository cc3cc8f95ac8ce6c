"""A scriptable upstream HTTP server on loopback, for tests of clients and the gateway.

``FakeUpstream`` serves a Flask app in a thread (werkzeug, threaded) and counts the
requests it saw. Built-in routes: ``/health/ready``, ``/echo/...`` (answers what it
received), ``/slow`` (``?seconds=``), ``/fail`` (``?status=``, default 500). Tests add
their own routes on ``.app`` before ``start()``.
"""

from __future__ import annotations

import collections
import threading
import time

from flask import Flask, Response, jsonify, request
from werkzeug.serving import BaseWSGIServer, make_server

from flotilla.testing import free_port


class FakeUpstream:
    def __init__(self, name: str = "upstream") -> None:
        self.name = name
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.hits: collections.Counter[str] = collections.Counter()
        self.seen: list[tuple[str, str, dict[str, str]]] = []
        self.ready_status = 200
        self._lock = threading.Lock()
        self.app = app = Flask(name)

        @app.before_request
        def _count() -> None:
            with self._lock:
                self.hits[f"{request.method} {request.path}"] += 1
                self.seen.append((request.method, request.full_path, dict(request.headers)))

        @app.get("/health/ready")
        def ready() -> Response:
            response = jsonify(status="ok" if self.ready_status == 200 else "unavailable")
            response.status_code = self.ready_status
            return response

        @app.route("/echo/<path:rest>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
        def echo(rest: str) -> Response:
            return jsonify(upstream=name, method=request.method, path=request.path,
                           query=request.query_string.decode(), headers=dict(request.headers),
                           body=request.get_data(as_text=True))

        @app.route("/slow", methods=["GET", "POST"])
        def slow() -> Response:
            time.sleep(float(request.args.get("seconds", "1")))
            return jsonify(upstream=name)

        @app.route("/fail", methods=["GET", "POST", "PUT"])
        def fail() -> Response:
            status = int(request.args.get("status", "500"))
            return Response('{"title": "failing on purpose"}', status=status,
                            mimetype="application/problem+json")

        self._server: BaseWSGIServer | None = None

    def count(self, method: str, path: str) -> int:
        return self.hits[f"{method} {path}"]

    def start(self) -> FakeUpstream:
        server = self._server = make_server("127.0.0.1", self.port, self.app, threaded=True)
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
