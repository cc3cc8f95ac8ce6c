"""Catalog as `make run` serves it: migrated, seeded, gunicorn with several workers."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from openapi_spec_validator import validate

from flotilla.testing import metric_value, wait_for
from flotilla.testing.processes import GunicornProcess


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GunicornProcess]:
    data = tmp_path_factory.mktemp("catalog")
    env = {"CATALOG_DATABASE_URL": f"sqlite:///{data / 'catalog.db'}", "LOG_FORMAT": "console"}
    for command in ("migrate", "seed"):
        subprocess.run([sys.executable, "-m", "catalog.cli", command], check=True,
                       env={**os.environ, **env}, capture_output=True)
    server = GunicornProcess("catalog:create_app()", env=env, workers=3).start()
    yield server
    server.stop()


def test_seeded_products_are_served(served):
    body = requests.get(f"{served.base_url}/products", timeout=5).json()
    assert len(body["items"]) == 12
    assert requests.get(f"{served.base_url}/health/ready", timeout=5).status_code == 200


def test_metrics_count_requests_across_all_workers(served):
    url = f"{served.base_url}/products?limit=1"
    metrics_dir = Path(served.metrics_dir)
    before = metric_value(requests.get(f"{served.base_url}/metrics", timeout=5).text,
                     "flask_http_request_total", method="GET", status="200")
    sent = 0

    def workers_with_samples() -> int:
        return len({re.sub(r"\D", "", p.name) for p in metrics_dir.glob("counter_*.db")})

    with ThreadPoolExecutor(max_workers=8) as pool:
        while sent < 2000 and (sent < 50 or workers_with_samples() < 2):
            statuses = list(pool.map(lambda _: requests.get(url, timeout=5).status_code, range(25)))
            assert statuses == [200] * 25
            sent += 25
    assert workers_with_samples() >= 2, "every request landed on one worker"
    text = wait_for(lambda: requests.get(f"{served.base_url}/metrics", timeout=5).text, what="metrics")
    counted = metric_value(text, "flask_http_request_total", method="GET", status="200") - before
    print(f"\nsent {sent} requests over {workers_with_samples()} workers; /metrics counted {counted:.0f}")
    assert counted == sent


def test_metrics_label_paths_by_template_not_by_id(served):
    product = requests.get(f"{served.base_url}/products?limit=1", timeout=5).json()["items"][0]
    requests.get(f"{served.base_url}/products/{product['id']}", timeout=5)
    text = requests.get(f"{served.base_url}/metrics", timeout=5).text
    assert 'url_rule="/products/<uuid:product_id>"' in text
    assert product["id"] not in text


def test_openapi_document_is_valid_openapi_3_1(served):
    document = requests.get(f"{served.base_url}/openapi.json", timeout=5).json()
    assert document["openapi"].startswith("3.1")
    validate(document)  # raises on an invalid document
    assert {"/products", "/products/{product_id}", "/products/{product_id}/stock"} <= set(document["paths"])
