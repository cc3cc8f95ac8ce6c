"""A fake Consul agent: the HTTP endpoints Flotilla uses, on loopback, for tests.

No Consul binary can be installed here, so the ``consul`` discovery backend is tested
against this server. It behaves as Consul 1.x does for these endpoints:

- ``PUT /v1/agent/service/register`` (keys case-insensitive; 400 without a name),
  with HTTP checks that this fake really runs at their ``Interval`` (2xx passing,
  429 warning, anything else critical; new checks start critical) and
  ``DeregisterCriticalServiceAfter`` honoured;
- ``PUT /v1/agent/service/deregister/<id>`` (404 for an unknown id);
- ``GET /v1/agent/services``, ``GET /v1/agent/self`` (its datacenter), ``GET /v1/status/leader``;
- ``GET /v1/catalog/services`` (name -> tags, blocking queries as below), what Prometheus'
  ``consul_sd_configs`` watches;
- ``GET /v1/health/service/<name>`` with ``passing``, and blocking queries
  (``index`` + ``wait``), answering ``X-Consul-Index``, ``X-Consul-KnownLeader``,
  ``X-Consul-LastContact``; wrong methods 405, unknown paths 404.
"""

from __future__ import annotations

import json
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from flotilla.testing import free_port

NODE = {"ID": "00000000-0000-0000-0000-000000000001", "Node": "fake-node", "Address": "127.0.0.1",
        "Datacenter": "dc1", "TaggedAddresses": {}, "Meta": {}}
_UNITS = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def duration(text: str | None, default: float) -> float:
    if not text:
        return default
    parts = re.findall(r"([\d.]+)(ns|us|ms|s|m|h)", text)
    return sum(float(n) * _UNITS[u] for n, u in parts) if parts else default


class FakeConsul:
    def __init__(self) -> None:
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.services: dict[str, dict[str, Any]] = {}
        self.checks: dict[str, dict[str, Any]] = {}
        self.index = 1
        self.changed = threading.Condition()
        self.requests: list[tuple[str, str]] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), _handler_for(self))
        self._server.daemon_threads = True
        self._stop = threading.Event()

    def start(self) -> FakeConsul:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        threading.Thread(target=self._run_checks, daemon=True).start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._server.shutdown()
        self._server.server_close()

    def bump(self) -> None:
        with self.changed:
            self.index += 1
            self.changed.notify_all()

    # -- the agent's state ---------------------------------------------------------
    def register(self, payload: dict[str, Any]) -> None:
        p = {k.lower(): v for k, v in payload.items()}
        name = p.get("name")
        if not name:
            raise ValueError("Missing service name")
        sid = p.get("id") or name
        self.services[sid] = {"ID": sid, "Service": name, "Tags": p.get("tags") or [],
                              "Address": p.get("address") or "", "Port": p.get("port") or 0,
                              "Meta": p.get("meta") or {}}
        for key in [k for k, c in self.checks.items() if c["ServiceID"] == sid]:
            del self.checks[key]
        checks = list(p.get("checks") or []) + ([p["check"]] if p.get("check") else [])
        for n, check in enumerate(checks, 1):
            c = {k.lower(): v for k, v in check.items()}
            cid = f"service:{sid}" + (f":{n}" if len(checks) > 1 else "")
            self.checks[cid] = {
                "CheckID": cid, "Name": f"Service '{name}' check", "Status": "critical",
                "ServiceID": sid, "ServiceName": name, "Output": "", "Node": NODE["Node"],
                "_http": c.get("http"), "_interval": duration(c.get("interval"), 10.0),
                "_timeout": duration(c.get("timeout"), 10.0), "_next": 0.0, "_critical_since": time.time(),
                "_deregister": duration(c.get("deregistercriticalserviceafter"), 0.0) or None}
        self.bump()

    def deregister(self, sid: str) -> bool:
        if sid not in self.services:
            return False
        del self.services[sid]
        for key in [k for k, c in self.checks.items() if c["ServiceID"] == sid]:
            del self.checks[key]
        self.bump()
        return True

    def health(self, name: str, passing: bool) -> list[dict[str, Any]]:
        serf = {"CheckID": "serfHealth", "Name": "Serf Health Status", "Status": "passing",
                "ServiceID": "", "ServiceName": "", "Output": "Agent alive and reachable",
                "Node": NODE["Node"]}
        out = []
        for sid, svc in list(self.services.items()):
            if svc["Service"] != name:
                continue
            checks = [serf] + [{k: v for k, v in c.items() if not k.startswith("_")}
                               for c in list(self.checks.values()) if c["ServiceID"] == sid]
            if passing and any(c["Status"] != "passing" for c in checks):
                continue
            out.append({"Node": NODE, "Service": svc, "Checks": checks})
        return out

    def _run_checks(self) -> None:
        while not self._stop.wait(0.05):
            now = time.time()
            for check in list(self.checks.values()):
                if check["_http"] and check["_next"] <= now:
                    check["_next"] = now + check["_interval"]
                    self._probe(check)
                if (check["Status"] == "critical" and check["_deregister"]
                        and now - check["_critical_since"] >= check["_deregister"]):
                    self.deregister(check["ServiceID"])

    def _probe(self, check: dict[str, Any]) -> None:
        try:
            with urllib.request.urlopen(check["_http"], timeout=check["_timeout"]) as resp:  # noqa: S310
                code = resp.status
        except urllib.error.HTTPError as exc:
            code = exc.code
        except Exception as exc:
            code, check["Output"] = 0, f"Get {check['_http']}: {exc}"
        status = "passing" if 200 <= code < 300 else "warning" if code == 429 else "critical"
        if code:
            check["Output"] = f"HTTP GET {check['_http']}: {code} Output: "
        if status != check["Status"]:
            if status == "critical":
                check["_critical_since"] = time.time()
            check["Status"] = status
            self.bump()


def _handler_for(agent: FakeConsul) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def _send(self, code: int, body: Any = None, text: str | None = None) -> None:
            data = (text if text is not None else json.dumps(body)).encode()
            self.send_response(code)
            self.send_header("Content-Type", "text/plain; charset=utf-8" if text is not None
                             else "application/json")
            self.send_header("Content-Length", str(len(data)))
            if body is not None:
                self.send_header("X-Consul-Index", str(agent.index))
                self.send_header("X-Consul-KnownLeader", "true")
                self.send_header("X-Consul-LastContact", "0")
            self.end_headers()
            self.wfile.write(data)

        def _route(self, method: str) -> None:
            if agent._stop.is_set():  # stopped: kept-alive connections die too, as in an outage
                self.close_connection = True
                return
            url = urllib.parse.urlsplit(self.path)
            query = dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True))
            agent.requests.append((method, self.path))
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            path = url.path

            def block() -> None:  # a blocking query: until the index passes the caller's
                if "index" in query:
                    wanted = int(query["index"] or 0)
                    wait = min(duration(query.get("wait"), 300.0), 600.0)
                    with agent.changed:
                        agent.changed.wait_for(lambda: agent.index > wanted, timeout=wait)

            if path == "/v1/agent/service/register":
                if method != "PUT":
                    return self._send(405, text="method not allowed")
                try:
                    agent.register(json.loads(raw or b"{}"))
                except (ValueError, AttributeError) as exc:
                    return self._send(400, text=f"Invalid service: {exc}")
                return self._send(200, text="")
            if path.startswith("/v1/agent/service/deregister/"):
                if method != "PUT":
                    return self._send(405, text="method not allowed")
                sid = urllib.parse.unquote(path.rsplit("/", 1)[1])
                if agent.deregister(sid):
                    return self._send(200, text="")
                return self._send(404, text=f'Unknown service ID "{sid}". Ensure that the service ID '
                                            "is passed, not the service name.")
            if method != "GET":
                return self._send(405, text="method not allowed")
            if path == "/v1/agent/services":
                return self._send(200, agent.services)
            if path == "/v1/agent/self":
                about = {"Config": {"Datacenter": NODE["Datacenter"], "NodeName": NODE["Node"]},
                         "Member": {"Name": NODE["Node"], "Addr": NODE["Address"]}, "Meta": {}}
                return self._send(200, about)
            if path == "/v1/catalog/services":
                block()
                catalog: dict[str, list[str]] = {}
                for svc in list(agent.services.values()):
                    tags = catalog.setdefault(svc["Service"], [])
                    tags += [t for t in svc["Tags"] if t not in tags]
                return self._send(200, catalog)
            if path == "/v1/status/leader":
                return self._send(200, "127.0.0.1:8300")
            if path.startswith("/v1/health/service/"):
                name = urllib.parse.unquote(path.rsplit("/", 1)[1])
                block()
                passing = "passing" in query and query["passing"].lower() not in ("0", "false")
                return self._send(200, agent.health(name, passing))
            return self._send(404, text="404 page not found")

        def do_GET(self) -> None:
            self._route("GET")

        def do_PUT(self) -> None:
            self._route("PUT")

        def do_POST(self) -> None:
            self._route("POST")

        def do_DELETE(self) -> None:
            self._route("DELETE")

    return Handler
