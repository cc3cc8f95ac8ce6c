"""Settings fail fast with a clear message; readiness reflects the database."""

from __future__ import annotations

import pytest

from flotilla.app import create_service_app, init_database
from flotilla.db import normalise_url
from flotilla.settings import ConfigError, KitSettings, load_settings
from flotilla.testing import free_port


def test_a_bad_setting_names_the_variable(monkeypatch):
    monkeypatch.setenv("LOG_LEVEL", "LOUD")
    monkeypatch.setenv("MAX_BODY_BYTES", "-1")
    with pytest.raises(ConfigError) as err:
        load_settings(KitSettings)
    message = str(err.value)
    assert "LOG_LEVEL" in message and "'LOUD'" in message
    assert "MAX_BODY_BYTES" in message


def test_settings_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("LOG_FORMAT", "console")
    assert load_settings(KitSettings).log_format == "console"


def test_ready_is_200_when_the_database_answers(client):
    response = client.get("/health/ready")
    assert response.status_code == 200
    assert response.json["checks"] == {"database": "ok"}


def test_ready_is_503_when_the_database_does_not():
    app = create_service_app("kit-test", KitSettings())
    init_database(app, f"postgresql://postgres@127.0.0.1:{free_port()}/nothing-listens-here")
    response = app.test_client().get("/health/ready")
    assert response.status_code == 503
    assert response.json["checks"] == {"database": "failing: OperationalError"}
    assert app.test_client().get("/health/live").status_code == 200


def test_postgres_urls_mean_psycopg3():
    assert normalise_url("postgresql://u:p@h/db").startswith("postgresql+psycopg://")
    assert normalise_url("postgres://u@h/db").startswith("postgresql+psycopg://")
    assert normalise_url("sqlite:///x.db") == "sqlite:///x.db"
