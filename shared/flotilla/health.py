"""``/health/live`` (the process answers) and ``/health/ready`` (its dependencies do).

Components register readiness checks by name; each returns nothing when healthy
and raises when not. Ready answers 503 listing the failing checks.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from flask import Blueprint, Flask, current_app, jsonify
from flask.typing import ResponseReturnValue

log = logging.getLogger(__name__)

ReadinessCheck = Callable[[], None]

bp = Blueprint("health", __name__, url_prefix="/health")


def add_readiness_check(app: Flask, name: str, check: ReadinessCheck) -> None:
    app.extensions.setdefault("flotilla_readiness", {})[name] = check


@bp.get("/live")
def live() -> ResponseReturnValue:
    return jsonify(status="ok")


def evaluate(checks: Mapping[str, ReadinessCheck]) -> tuple[int, dict[str, Any]]:
    """Run every check; 200 when all pass, else 503. Failures are logged, and named by
    exception type only in the body (no internals on an HTTP answer)."""
    results: dict[str, str] = {}
    for name, check in checks.items():
        try:
            check()
            results[name] = "ok"
        except Exception as exc:  # a failing dependency is an answer, not an error
            log.warning("readiness check %s failed: %r", name, exc)
            results[name] = f"failing: {type(exc).__name__}"
    healthy = all(v == "ok" for v in results.values())
    return (200 if healthy else 503), {"status": "ok" if healthy else "unavailable", "checks": results}


@bp.get("/ready")
def ready() -> ResponseReturnValue:
    status, body = evaluate(current_app.extensions.get("flotilla_readiness", {}))
    return jsonify(body), status
