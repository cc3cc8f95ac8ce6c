"""Compatibility gates: each service's OpenAPI document and each event's JSON Schema against
the released baseline (deploy/compat/baseline/, rewritten by `make baseline`), and every rule
shown to fail on a known-bad change (fixtures/compat/*.json: a target baseline, edits that
make it the "new" version, and the text the problem must contain)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from . import compat

FIXTURES = sorted((Path(__file__).parent / "fixtures" / "compat").glob("*.json"))


@pytest.mark.parametrize("service", compat.SERVICES)
def test_openapi_is_compatible_with_the_baseline(service: str) -> None:
    problems = compat.compare_openapi(compat.baseline_openapi(service), compat.current_openapi(service),
                                      service)
    assert not problems, ("breaking changes (bump the API version and run `make baseline` if deliberate):\n"
                          + "\n".join(problems))


def test_event_schemas_are_compatible_with_the_baseline() -> None:
    problems = compat.compare_events(compat.baseline_events(), compat.current_events())
    assert not problems, ("breaking changes (publish a new <event>.vN+1 and run `make baseline`):\n"
                          + "\n".join(problems))


def _edit(doc: Any, ops: list[list[Any]]) -> Any:
    doc = copy.deepcopy(doc)
    for op, path, *value in ops:
        parent = doc
        for key in path[:-1]:
            parent = parent[key]
        if op == "remove":
            del parent[path[-1]]
        elif op == "set":
            parent[path[-1]] = value[0]
        elif op == "append":
            parent[path[-1]].append(value[0])
    return doc


@pytest.mark.parametrize("fixture", FIXTURES, ids=[f.stem for f in FIXTURES])
def test_gate_fails_on_known_breaking_change(fixture: Path) -> None:
    spec = json.loads(fixture.read_text())
    kind, name = spec["target"].split("/", 1)
    if kind == "openapi":
        old = compat.baseline_openapi(name)
        problems = compat.compare_openapi(old, _edit(old, spec["ops"]), name)
    else:
        old_events = compat.baseline_events()
        new_events = {**old_events, name: _edit(old_events[name], spec["ops"])}
        problems = compat.compare_events(old_events, new_events)
    assert any(spec["expect"] in p for p in problems), (
        f"{fixture.name}: no problem names {spec['expect']!r}:\n" + "\n".join(problems))


def test_compatible_changes_pass() -> None:
    old = compat.baseline_openapi("orders")
    schemas = ["components", "schemas"]
    new = _edit(old, [["set", [*schemas, "OrderOut", "properties", "note"], {"type": "string"}],
                      ["set", [*schemas, "OrderCreate", "properties", "note"], {"type": "string"}]])
    assert compat.compare_openapi(old, new, "orders") == []
    events = compat.baseline_events()
    name = "order.placed.v1.json"
    widened = {**events, name: _edit(events[name], [["set", ["properties", "note"], {"type": "string"}]])}
    assert compat.compare_events(events, widened) == []
