"""The gateway finding catalog through Consul (the fake agent): instances register themselves,
the gateway reads passing ones, and a killed instance drops out when its check fails."""

from __future__ import annotations

import pytest

from flotilla.discovery import DiscoverySettings
from flotilla.discovery.consul import ConsulDiscovery
from flotilla.testing import wait_for
from flotilla.testing.fake_consul import FakeConsul
from flotilla.testing.processes import GunicornProcess
from gateway import create_app
from gateway.config import GatewaySettings

pytestmark = pytest.mark.slow


def test_gateway_follows_catalog_instances_registered_in_consul(catalog_db, kill):
    agent = FakeConsul().start()
    env = {"CATALOG_DATABASE_URL": catalog_db, "LOG_LEVEL": "WARNING", "DISCOVERY": "consul",
           "CONSUL_HTTP_ADDR": agent.address, "CONSUL_CHECK_INTERVAL": "200ms"}
    pair = [GunicornProcess("catalog:create_app()", env=env, workers=1).start() for _ in range(2)]
    try:
        discovery = ConsulDiscovery(DiscoverySettings(discovery="consul", consul_http_addr=agent.address,
                                                      cache_seconds=0.2))
        app = create_app(GatewaySettings(log_format="console", authenticate=False), discovery)
        client = app.test_client()
        wait_for(lambda: len(discovery.instances("catalog")) == 2, timeout=10, what="two passing instances")
        assert all(client.get("/api/v1/products?limit=1").status_code == 200 for _ in range(10))
        kill(pair[1])
        wait_for(lambda: len(discovery.instances("catalog")) == 1, timeout=10,
                 what="the killed instance's check to fail")
        statuses = [client.get("/api/v1/products?limit=1").status_code for _ in range(20)]
        assert statuses == [200] * 20
        assert [i.url for i in discovery.instances("catalog")] == [pair[0].base_url]
    finally:
        for server in pair:
            server.stop()
        agent.stop()
