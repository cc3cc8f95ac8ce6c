"""make run's readiness report and the broker address CLIs find through var/run.env."""

from __future__ import annotations

import http.server
import io
import logging
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from pythonjsonlogger.json import JsonFormatter

from flotilla import runner
from flotilla.events.settings import DEFAULT_AMQP_URL, EventSettings
from flotilla.logs import configure_logging
from flotilla.testing import free_port


class _Ready(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/health/ready" else 503)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[int]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Ready)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield httpd.server_address[1]
    httpd.shutdown()


def test_probe_http_and_tcp(server: int) -> None:
    ok = runner.Check("a", "", f"http://127.0.0.1:{server}/health/ready")
    failing = runner.Check("b", "", f"http://127.0.0.1:{server}/other")
    closed = runner.Check("c", "", f"tcp://127.0.0.1:{free_port()}")
    assert runner.probe(ok) == (True, "HTTP 200")
    assert runner.probe(failing) == (False, "HTTP 503")
    assert runner.probe(closed) == (False, "ConnectionRefusedError")
    assert runner.probe(runner.Check("t", "", f"tcp://127.0.0.1:{server}"))[0]


def test_checks_follow_the_port_variables() -> None:
    checks = {c.name: c for c in runner.checks({"CATALOG_PORT": "1234", "CATALOG_WORKER_PORT": "2345"})}
    assert checks["catalog"].probe == "http://127.0.0.1:1234/health/ready"
    assert checks["catalog-worker"].probe == "http://127.0.0.1:2345/health/ready"
    assert {"users", "orders", "gateway", "edge (nginx)", "rabbitmq", "redis"} <= checks.keys()
    console = runner.checks({"GATEWAY_PORT": "8765"})
    assert [(c.url, c.probe) for c in console if c.name == "console"] == [
        ("http://127.0.0.1:8765/console/", "http://127.0.0.1:8765/console/login")]
    assert "http://127.0.0.1:8765/console/" in runner.try_commands({"GATEWAY_PORT": "8765"})


def test_main_names_what_is_not_ready(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
                                      server: int) -> None:
    monkeypatch.setattr(runner, "checks", lambda: [
        runner.Check("up", "http://up", f"http://127.0.0.1:{server}/health/ready"),
        runner.Check("down", "http://down", f"tcp://127.0.0.1:{free_port()}")])
    assert runner.main(["--once"]) == 1
    out = capsys.readouterr().out
    assert "NOT ready: down" in out
    assert "up    http://up    ready" in out
    monkeypatch.setattr(runner, "checks", lambda: [
        runner.Check("up", "http://up", f"http://127.0.0.1:{server}/health/ready")])
    assert runner.main(["--timeout", "5"]) == 0
    assert "Flotilla is ready" in capsys.readouterr().out


def test_cli_broker_from_run_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("AMQP_URL", raising=False)
    monkeypatch.delenv("RABBITMQ_PORT", raising=False)
    assert EventSettings().amqp_url == DEFAULT_AMQP_URL
    (tmp_path / "var").mkdir()
    (tmp_path / "var/run.env").write_text("RABBITMQ_PORT=5999\nAMQP_URL=amqp://guest:guest@127.0.0.1:5999/%2F\n")
    assert EventSettings().amqp_url.endswith(":5999/%2F")
    monkeypatch.setenv("AMQP_URL", "amqp://given/%2F")
    assert EventSettings().amqp_url == "amqp://given/%2F"


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_log_format_follows_the_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        monkeypatch.delenv("LOG_FORMAT", raising=False)
        monkeypatch.setattr(sys, "stderr", _Terminal())
        configure_logging("INFO", "json")
        assert not isinstance(root.handlers[0].formatter, JsonFormatter)
        monkeypatch.setenv("LOG_FORMAT", "json")
        configure_logging("INFO", "json")
        assert isinstance(root.handlers[0].formatter, JsonFormatter)
        monkeypatch.delenv("LOG_FORMAT")
        monkeypatch.setattr(sys, "stderr", io.StringIO())
        configure_logging("INFO", "json")
        assert isinstance(root.handlers[0].formatter, JsonFormatter)
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
