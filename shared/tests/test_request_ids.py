"""X-Request-ID: kept from the caller when sane, made up otherwise, on every log line."""

from __future__ import annotations

import json
import logging

import pytest

from flotilla.logs import RequestIdFilter, configure_logging


def test_a_callers_request_id_is_returned(client):
    response = client.get("/health/live", headers={"X-Request-ID": "abc-123"})
    assert response.headers["X-Request-ID"] == "abc-123"


@pytest.mark.parametrize("bad", ["x" * 200, "has spaces", "line\nbreak"])
def test_an_unsafe_request_id_is_replaced(client, bad):
    response = client.get("/health/live", headers={"X-Request-ID": bad.replace("\n", "%0A")})
    rid = response.headers["X-Request-ID"]
    assert rid != bad and len(rid) == 32


def test_each_request_without_an_id_gets_a_new_one(client):
    first = client.get("/health/live").headers["X-Request-ID"]
    second = client.get("/health/live").headers["X-Request-ID"]
    assert first != second


def test_every_log_line_of_a_request_carries_its_id(client, capsys):
    configure_logging("INFO", "json", service="kit-test")
    client.get("/boom", headers={"X-Request-ID": "trace-me-1"})
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    mine = [line for line in lines if line.get("request_id") == "trace-me-1"]
    assert {line["name"] for line in mine} >= {"flotilla.problems", "flotilla.access"}
    assert all(line["service"] == "kit-test" for line in lines)


def test_console_format_is_readable(capsys):
    configure_logging("INFO", "console")
    logging.getLogger("demo").info("hello")
    err = capsys.readouterr().err
    assert "INFO" in err and "demo [- -] hello" in err  # [request id, trace id]


def test_the_filter_leaves_an_explicit_id_alone():
    record = logging.LogRecord("n", logging.INFO, __file__, 1, "m", None, None)
    record.request_id = "given"
    RequestIdFilter().filter(record)
    assert record.request_id == "given"
