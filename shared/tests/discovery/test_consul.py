"""The consul backend against the fake Consul agent (a real HTTP server; no Consul binary here)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import consul
import pytest
import requests

from flotilla.discovery import DiscoveryError, DiscoverySettings
from flotilla.discovery.consul import ConsulDiscovery, ConsulRegistration
from flotilla.testing import wait_for
from flotilla.testing.fake_consul import FakeConsul
from flotilla.testing.processes import GunicornProcess
from flotilla.testing.upstream import FakeUpstream


@pytest.fixture
def agent() -> Iterator[FakeConsul]:
    fake = FakeConsul().start()
    yield fake
    fake.stop()


def settings(agent: FakeConsul, **kw) -> DiscoverySettings:
    return DiscoverySettings(discovery="consul", consul_http_addr=f"http://{agent.address}",
                             check_interval="100ms", cache_seconds=0, **kw)


def test_fake_answers_like_consul_status_codes_and_index_headers(agent):
    base = f"http://{agent.address}/v1"
    assert requests.put(f"{base}/agent/service/register", data="{}", timeout=2).status_code == 400
    assert requests.put(f"{base}/agent/service/deregister/nope", timeout=2).status_code == 404
    assert requests.get(f"{base}/agent/service/register", timeout=2).status_code == 405
    r = requests.get(f"{base}/health/service/catalog?passing=1", timeout=2)
    assert r.status_code == 200 and r.json() == [] and int(r.headers["X-Consul-Index"]) >= 1
    c = consul.Consul(host="127.0.0.1", port=agent.port)
    index, _ = c.health.service("catalog")
    c.agent.service.register("catalog", service_id="c1", address="127.0.0.1", port=1)
    new_index, entries = c.health.service("catalog", index=index, wait="2s")
    assert int(new_index) > int(index) and entries[0]["Service"]["ID"] == "c1"


def test_only_instances_whose_check_passes_are_returned(agent, tmp_path):
    good, bad = FakeUpstream("good").start(), FakeUpstream("bad").start()
    bad.ready_status = 503
    try:
        for up in (good, bad):
            ConsulRegistration(settings(agent), "catalog", "127.0.0.1", up.port).register()
        disc = ConsulDiscovery(settings(agent))
        found = wait_for(lambda: disc.instances("catalog"), timeout=5, what="a passing instance")
        assert [i.url for i in found] == [good.url]
        bad.ready_status = 200
        wait_for(lambda: len(disc.instances("catalog")) == 2, timeout=5, what="both passing")
        good.ready_status = 500
        wait_for(lambda: [i.url for i in disc.instances("catalog")] == [bad.url], timeout=5,
                 what="the failing one to drop out")
    finally:
        good.stop()
        bad.stop()


def test_deregistration_removes_the_instance(agent):
    up = FakeUpstream().start()
    try:
        reg = ConsulRegistration(settings(agent), "catalog", "127.0.0.1", up.port)
        reg.register()
        disc = ConsulDiscovery(settings(agent))
        wait_for(lambda: disc.instances("catalog"), timeout=5, what="registered")
        reg.deregister()
        assert disc.instances("catalog") == []
        reg.deregister()  # a second time: Consul says 404, we log and go on
    finally:
        up.stop()


def test_cached_answers_survive_a_consul_outage(agent):
    up = FakeUpstream().start()
    try:
        ConsulRegistration(settings(agent), "catalog", "127.0.0.1", up.port).register()
        disc = ConsulDiscovery(settings(agent))
        found = wait_for(lambda: disc.instances("catalog"), timeout=5, what="registered")
        agent.stop()
        assert disc.instances("catalog") == found
        with pytest.raises(DiscoveryError):
            disc.instances("orders")
    finally:
        up.stop()


def test_a_gunicorn_served_service_registers_on_start_and_deregisters_on_stop(agent, tmp_path):
    env = {**os.environ, "DISCOVERY": "consul", "CONSUL_HTTP_ADDR": agent.address,
           "CONSUL_CHECK_INTERVAL": "200ms", "LOG_FORMAT": "console",
           "CATALOG_DATABASE_URL": f"sqlite:///{tmp_path / 'catalog.db'}"}
    server = GunicornProcess("catalog:create_app()", env=env, workers=1).start()
    disc = ConsulDiscovery(settings(agent))
    try:
        found = wait_for(lambda: disc.instances("catalog"), timeout=10, what="catalog registered")
        assert found[0].url == server.base_url
        assert found[0].id == f"catalog-127.0.0.1-{server.port}"
    finally:
        server.stop()
    assert agent.services == {}
