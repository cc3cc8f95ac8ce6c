"""With ``DISCOVERY=consul`` a worker registers its health and metrics server in Consul as
``<service>-worker`` (what compose's Prometheus discovers, deploy/prometheus/compose.yml), its
check passes once it is ready, and it deregisters when it stops."""

from __future__ import annotations

import signal

from flotilla.testing import wait_for
from flotilla.testing.fake_consul import FakeConsul


def test_a_worker_registers_as_service_worker_and_deregisters_on_stop(make_ledger) -> None:
    consul = FakeConsul().start()
    try:
        ledger = make_ledger()
        worker = ledger.start_worker(DISCOVERY="consul", CONSUL_HTTP_ADDR=consul.address,
                                     CONSUL_CHECK_INTERVAL="1s").wait_ready()
        name = f"{ledger.service}-worker"
        wait_for(lambda: consul.health(name, passing=True), timeout=20, what="a passing registration")
        [entry] = consul.health(name, passing=True)
        assert entry["Service"]["Address"] == "127.0.0.1" and entry["Service"]["Port"] == worker.port
        assert entry["Service"]["ID"] == f"{name}-127.0.0.1-{worker.port}"
        check = f"service:{entry['Service']['ID']}"
        assert [c["CheckID"] for c in entry["Checks"]] == ["serfHealth", check]
        assert consul.checks[check]["_http"] == f"http://127.0.0.1:{worker.port}/health/ready"
        assert not consul.health(ledger.service, passing=False)  # never mistaken for the api

        assert worker.stop(signal.SIGTERM) == 0
        assert not consul.health(name, passing=False), worker.logs()
    finally:
        consul.stop()
