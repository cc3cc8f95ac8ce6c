"""Control and bidi-override characters are refused (422 naming the field); names are NFC."""

from __future__ import annotations

import uuid

import pytest

BAD = ["nul\x00byte", "bell\x07", "esc\x1b[31m", "c1\x85x", "del\x7fx", "rtl\u202eevil", "iso\u2066x"]


@pytest.mark.parametrize("bad", BAD)
def test_register_refuses_control_characters_in_the_name(client, bad):
    response = client.post("/auth/register", json={
        "email": f"u-{uuid.uuid4().hex[:8]}@example.org", "password": "long enough pw", "name": bad})
    assert response.status_code == 422, response.json
    assert response.content_type == "application/problem+json"
    assert [e["field"] for e in response.json["errors"]] == ["body.name"] or \
        "name" in str(response.json["errors"])


@pytest.mark.parametrize("bad", ["a\x00b@example.org", "a\u202eb@example.org", "a\x01@example.org"])
def test_register_and_login_refuse_control_characters_in_the_email(client, bad):
    response = client.post("/auth/register", json={"email": bad, "password": "long enough pw", "name": "A"})
    assert response.status_code == 422
    assert "email" in str(response.json["errors"])
    response = client.post("/auth/login", json={"email": bad, "password": "long enough pw"})
    assert response.status_code == 422
    assert "email" in str(response.json["errors"])


def test_names_are_stored_nfc(client):
    decomposed = "Jose\u0301"  # e + combining acute
    response = client.post("/auth/register", json={
        "email": f"u-{uuid.uuid4().hex[:8]}@example.org", "password": "long enough pw", "name": decomposed})
    assert response.status_code == 201
    assert response.json["name"] == "Jos\u00e9"
