"""catalog built with the tracing hooks not installed at all: ``flotilla.tracing.init_app``
and ``instrument_httpx`` replaced by no-ops before the app is made, the baseline that
``bench.tracing`` compares tracing-off against (``gunicorn ... 'bench._untraced:create_app()'``)."""

from __future__ import annotations

from typing import Any

from flask import Flask

from flotilla import tracing


def _not_installed(app: Any, service: str) -> None:
    return None


def create_app() -> Flask:
    tracing.init_app = _not_installed  # type: ignore[assignment]
    tracing.instrument_httpx = lambda client: client  # type: ignore[assignment]
    from catalog import create_app as make

    return make()
