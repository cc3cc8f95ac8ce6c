"""Every error is problem+json with the request id; nothing leaks a traceback."""

from __future__ import annotations

import json
import logging

PROBLEM = "application/problem+json"


def _is_problem(response, status: int) -> dict:
    assert response.status_code == status
    assert response.content_type == PROBLEM
    body = response.json
    assert body["status"] == status
    assert body["request_id"] == response.headers["X-Request-ID"]
    assert {"type", "title", "detail", "instance"} <= body.keys()
    return body


def test_malformed_json_is_400(client):
    _is_problem(client.post("/things", data="{nope", content_type="application/json"), 400)


def test_wrong_types_are_422_with_each_field(client):
    body = _is_problem(client.post("/things", json={"name": 5, "count": "7", "extra": 1}), 422)
    assert sorted(e["field"] for e in body["errors"]) == ["count", "extra", "name"]


def test_missing_body_is_422(client):
    body = _is_problem(client.post("/things"), 422)
    assert body["errors"]


def test_unknown_route_is_404(client):
    _is_problem(client.get("/nowhere"), 404)


def test_wrong_method_is_405_with_allow(client):
    response = client.delete("/things")
    _is_problem(response, 405)
    assert "POST" in response.headers["Allow"]


def test_body_over_one_mib_is_413(client):
    big = json.dumps({"name": "x" * (1024 * 1024), "count": 1})
    _is_problem(client.post("/things", data=big, content_type="application/json"), 413)


def test_wrong_content_type_is_415(client):
    _is_problem(client.post("/things", data="name=a", content_type="text/plain"), 415)


def test_json_suffix_media_types_are_accepted(client):
    response = client.post("/things", data='{"name": "a", "count": 1}',
                           content_type="application/merge-patch+json")
    assert response.status_code == 200


def test_unexpected_error_is_500_without_internals(client, caplog):
    with caplog.at_level(logging.ERROR):
        response = client.get("/boom")
    body = _is_problem(response, 500)
    text = response.get_data(as_text=True)
    assert "hunter2" not in text and "Traceback" not in text and "Boom" not in text
    assert body["detail"] == "An unexpected error occurred; it has been logged."
    assert any("hunter2" in (r.exc_text or "") for r in caplog.records)


def test_service_exception_table_maps_status(client):
    body = _is_problem(client.get("/mapped"), 409)
    assert body["detail"] == "that conflicts"
    assert body["type"].endswith("/mapped")
