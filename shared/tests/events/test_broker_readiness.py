"""A service's /health/ready checks the broker when AMQP_URL is set."""

from __future__ import annotations

from flotilla.app import create_service_app
from flotilla.settings import KitSettings
from flotilla.testing import free_port


def _ready(amqp_url: str | None) -> tuple[int, dict]:
    app = create_service_app("kit-broker", KitSettings(amqp_url=amqp_url, log_format="console"))
    response = app.test_client().get("/health/ready")
    return response.status_code, response.json


def test_ready_checks_the_broker_when_configured(rabbitmq_server):
    assert _ready(rabbitmq_server.url) == (200, {"status": "ok", "checks": {"broker": "ok"}})
    status, body = _ready(f"amqp://guest:guest@127.0.0.1:{free_port()}/%2F")
    assert status == 503 and body["checks"]["broker"].startswith("failing")
    assert "broker" not in _ready(None)[1]["checks"]
