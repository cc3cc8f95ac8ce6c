"""The gateway's collaborators, built once by ``create_app`` and reached through one typed
accessor (:func:`gateway_of`); nothing else reads ``app.extensions`` for them."""

from __future__ import annotations

from concurrent.futures import Executor
from dataclasses import dataclass

from flask import Flask, current_app

from flotilla.discovery import Discovery
from flotilla.http import ServiceClient

EXTENSION = "gateway"


@dataclass
class Gateway:
    discovery: Discovery
    clients: dict[str, ServiceClient]  # one per upstream service, sharing one connection pool
    pool: Executor  # fan-out (composition, docs, upstream status)


def install(app: Flask, state: Gateway) -> None:
    app.extensions[EXTENSION] = state


def gateway_of(app: Flask | None = None) -> Gateway:
    target = app if app is not None else current_app
    found: Gateway = target.extensions[EXTENSION]
    return found
