"""The operator console in headless Chromium against the whole platform: an order's
``order.placed`` fails catalog's handler (reservations are blocked in catalog's database) until
it is parked; the admin logs in, sees it in catalog's parking queue with its last error, the
cause is removed, the admin clicks Replay, the queue empties and the order is confirmed."""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from flotilla.events import ops
from flotilla.testing import wait_for

pytestmark = pytest.mark.slow

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"  # scripts/system-deps.sh test
BLOCK = ("CREATE TRIGGER console_e2e_hold BEFORE INSERT ON reservations "
         "BEGIN SELECT RAISE(ABORT, 'reservations on hold for maintenance'); END")


@pytest.fixture
def browser() -> Iterator[WebDriver]:
    profile = tempfile.mkdtemp(prefix="flotilla-chromium-")
    options = Options()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--disable-quic", "--disable-component-update",
                 "--disable-sync", "--disable-dev-shm-usage", f"--user-data-dir={profile}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def _catalog_db(data: Path, statement: str) -> None:
    conn = sqlite3.connect(data / "catalog.db", timeout=10)
    try:
        conn.execute(statement)
        conn.commit()
    finally:
        conn.close()


def _place_order(api: str) -> tuple[str, dict[str, str], str, int]:
    email, password = f"console-{uuid.uuid4().hex[:8]}@example.com", "correct horse battery staple"
    assert requests.post(f"{api}/auth/register", json={"email": email, "password": password, "name": "C"},
                         timeout=10).status_code == 201
    token = requests.post(f"{api}/auth/login", json={"email": email, "password": password},
                          timeout=10).json()["access_token"]
    auth = {"Authorization": f"Bearer {token}"}
    products = requests.get(f"{api}/products?limit=20", timeout=10).json()["items"]
    product = max(products, key=lambda p: p["stock"])
    placed = requests.post(f"{api}/orders", headers={**auth, "Idempotency-Key": uuid.uuid4().hex}, timeout=10,
                           json={"items": [{"product_id": product["id"], "quantity": 1}]})
    assert placed.status_code == 202, placed.text
    return placed.json()["id"], auth, product["id"], product["stock"]


def _parked_rows(driver: WebDriver) -> list[str]:
    return [row.get_attribute("data-message-id") or "" for row in
            driver.find_elements(By.CSS_SELECTOR, "#parking-catalog tr.parked")]


def test_log_in_see_a_parked_message_replay_it_and_see_it_applied(platform, rabbitmq_server, browser):
    assert platform.gateway is not None and platform.data is not None
    console = platform.gateway.base_url + "/console"
    api = platform.edge.base_url + "/api/v1"
    # Not on the public edge (decision 0160): there it is a 404 like /metrics.
    edge = requests.get(platform.edge.base_url + "/console/login", timeout=10)
    assert edge.status_code == 404 and edge.headers["Content-Type"].startswith("application/problem+json")

    _catalog_db(platform.data, BLOCK)
    try:
        order_id, auth, product_id, stock = _place_order(api)
        parked = wait_for(lambda: [p for p in ops.list_parked(rabbitmq_server.url, "catalog")
                                   if (p.event_type or "").startswith("order.placed")],
                          timeout=30, interval=0.2, what="order.placed parked in catalog.dlq")
    finally:
        _catalog_db(platform.data, "DROP TRIGGER IF EXISTS console_e2e_hold")  # the operator's fix
    assert requests.get(f"{api}/orders/{order_id}", headers=auth, timeout=10).json()["status"] == "pending"
    message_id = parked[0].message_id

    browser.get(console + "/")
    assert browser.current_url.endswith("/console/login")  # login required
    assert not browser.find_elements(By.TAG_NAME, "script")
    browser.find_element(By.ID, "email").send_keys(platform.admin[0])
    browser.find_element(By.ID, "password").send_keys(platform.admin[1])
    browser.find_element(By.ID, "login").click()
    wait_for(lambda: browser.find_elements(By.ID, "parking"), timeout=20, what="the dashboard")
    assert platform.admin[0] in browser.find_element(By.TAG_NAME, "header").text
    assert "ready" in browser.find_element(By.ID, "instances").text
    assert "catalog-worker" in browser.find_element(By.ID, "workers").text
    assert browser.find_element(By.ID, "audit-result").text.startswith("All ")

    assert message_id in _parked_rows(browser)
    row = browser.find_element(By.CSS_SELECTOR, f'#parking-catalog tr.parked[data-message-id="{message_id}"]')
    assert "reservations on hold for maintenance" in row.find_element(By.CLASS_NAME, "last-error").text
    row.find_element(By.CLASS_NAME, "replay-one").click()
    notice = wait_for(lambda: browser.find_elements(By.ID, "notice"), timeout=20, what="the replay's notice")
    assert notice[0].text == "catalog: replayed 1 message(s)."

    def applied() -> bool:
        browser.find_element(By.ID, "reload").click()
        return message_id not in _parked_rows(browser)

    wait_for(applied, timeout=20, interval=0.5, what="the parking list without the replayed message")
    wait_for(lambda: requests.get(f"{api}/orders/{order_id}", headers=auth, timeout=10).json()["status"]
             == "confirmed", timeout=20, what="the order confirmed after the replay")
    assert requests.get(f"{api}/products/{product_id}", timeout=10).json()["stock"] == stock - 1
    assert "Nothing parked." in browser.find_element(By.ID, "parking-catalog").text
    assert browser.find_element(By.ID, "audit-result").text.startswith("All ")  # stock still balances

    browser.find_element(By.ID, "logout").click()
    wait_for(lambda: browser.current_url.endswith("/console/login"), timeout=10, what="logged out")
    browser.get(console + "/")
    assert browser.current_url.endswith("/console/login")
