"""The static and DNS backends."""

from __future__ import annotations

from flotilla.discovery import DiscoverySettings, from_settings
from flotilla.discovery.dns import DnsDiscovery
from flotilla.discovery.static import StaticDiscovery


def test_static_reads_svc_url_lists_and_defaults_to_the_dev_ports():
    disc = StaticDiscovery.from_environment({
        "CATALOG_URL": "http://10.0.0.1:8082/, http://10.0.0.2:8082",
        "CATALOG_DATABASE_URL": "postgresql://db/catalog", "USERS_PORT": "9081",
    })
    assert [i.url for i in disc.instances("catalog")] == ["http://10.0.0.1:8082", "http://10.0.0.2:8082"]
    assert [i.url for i in disc.instances("orders")] == ["http://127.0.0.1:8083"]
    assert [i.url for i in disc.instances("users")] == ["http://127.0.0.1:9081"]  # make run's port
    assert disc.instances("catalog_database") == []
    assert disc.instances("nothing") == []


def test_static_is_the_default_backend(monkeypatch):
    monkeypatch.delenv("DISCOVERY", raising=False)
    assert isinstance(from_settings(), StaticDiscovery)


def test_dns_resolves_a_service_name_to_one_instance_per_address(monkeypatch):
    monkeypatch.setenv("LOCALHOST_SERVICE_PORT", "8082")
    disc = from_settings(DiscoverySettings(discovery="dns"))
    assert isinstance(disc, DnsDiscovery)
    urls = {i.url for i in disc.instances("localhost")}
    assert "http://127.0.0.1:8082" in urls
    assert all(u.endswith(":8082") for u in urls)


def test_dns_appends_the_cluster_domain():
    disc = DnsDiscovery(DiscoverySettings(discovery="dns", dns_domain="flotilla.svc.cluster.local."))
    assert disc.hostname("catalog") == "catalog.flotilla.svc.cluster.local"
