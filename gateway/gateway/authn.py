"""Authentication at the edge, as one before-request step.

A request without ``Authorization`` goes on anonymously (the upstream decides whether
its endpoint needs a user); one with a bad token ends here with 401. The header is
passed on unchanged, so services still check it themselves.
"""

from __future__ import annotations

from flask import Flask, request

from flotilla import auth
from flotilla.auth import KeySource
from flotilla.problems import Problem
from gateway import docs
from gateway.config import GatewaySettings

GUARDED_ENDPOINTS = frozenset({"proxy", "order_expanded"})


def init_app(app: Flask, settings: GatewaySettings, key_source: KeySource | None = None) -> None:
    if not settings.authenticate:
        return
    auth.init_app(app, settings, key_source)

    @app.before_request
    def _authenticate() -> None:
        if request.endpoint in GUARDED_ENDPOINTS and request.headers.get("Authorization"):
            try:
                auth.authenticate()
            except Problem as exc:
                # An undeclared method is a 405 whatever the token (as the service would say).
                raise (docs.method_refusal() if exc.status == 401 else None) or exc from None
