"""Attributes of a service package imported on first use (PEP 562).

A service package names its HTTP API's factory (``users.create_app``, what gunicorn and
``flask --app`` load), but its event worker imports the same package for the rules and
repositories alone; building the factory's module on import would give every worker the web
stack it never serves (flask-openapi3, the exporter, alembic: about 16 MiB each,
docs/decisions/0170-preloaded-imports.md). ::

    __getattr__ = lazy_attributes(__name__, "users.web", ("PROBLEMS", "create_app"))
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from typing import Any


def lazy_attributes(package: str, module: str, names: Iterable[str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` that takes ``names`` from ``module`` when first asked for."""
    wanted = frozenset(names)

    def __getattr__(name: str) -> Any:
        if name in wanted:
            return getattr(importlib.import_module(module), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
