"""Compatibility gates between independently deployed services.

A service may run ahead of or behind the others, so each service's OpenAPI document and each
event's JSON Schema are compared with the last released version kept in
``deploy/compat/baseline/`` and every breaking change is named:

- OpenAPI: a removed path, operation or success response; a new required parameter or request
  field; a request field whose type narrowed; a response field removed or whose type changed.
- Events: a removed field, a field no longer required, a type that changed, a new required
  field (events already in queues, or from a producer not yet upgraded, lack it).

``python deploy/tests/compat.py baseline`` (``make baseline``) rewrites the baselines from the
code: do it when a release ships, or for a deliberate breaking change together with a version
bump (a new ``/api/vN`` or ``<event>.vN+1``). It also records the commit it was taken at
(``deploy/compat/baseline/COMMIT``, so run it on a committed tree): the released code that
``test_rolling_upgrade.py`` runs beside the current one.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
BASELINE = ROOT / "deploy" / "compat" / "baseline"
EVENTS = ROOT / "shared" / "contracts" / "events"
SERVICES = ("users", "catalog", "orders")
METHODS = ("get", "put", "post", "delete", "patch")

Schema = dict[str, Any]


def current_openapi(service: str) -> Schema:
    """The service's OpenAPI document as its app serves it at /openapi.json, built offline
    (users keeps signing keys in its database: a throwaway SQLite file holds them)."""
    saved = dict(os.environ)
    os.environ.setdefault("AMQP_URL", "amqp://guest:guest@127.0.0.1:1/%2F")
    os.environ.setdefault("JWT_JWKS_URL", "http://127.0.0.1:1/auth/jwks.json")
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+pysqlite:///{tmp}/{service}.db"
        os.environ[f"{service.upper()}_DATABASE_URL"] = url
        try:
            if service == "users":
                import sqlalchemy

                from users.repository import metadata

                engine = sqlalchemy.create_engine(url)
                metadata.create_all(engine)
                engine.dispose()
            from flotilla import openapi

            app = importlib.import_module(service).create_app()
            return dict(openapi.document(app))
        finally:
            os.environ.clear()
            os.environ.update(saved)


def current_events() -> dict[str, Schema]:
    return {p.name: json.loads(p.read_text()) for p in sorted(EVENTS.glob("*.json"))}


# --- schemas -----------------------------------------------------------------------------

def _resolve(schema: Schema, doc: Schema) -> Schema:
    seen = 0
    while "$ref" in schema and seen < 20:
        parts = schema["$ref"].lstrip("#/").split("/")
        target: Any = doc
        for part in parts:
            target = target.get(part, {})
        schema, seen = target, seen + 1
    if len(schema.get("allOf", [])) == 1:
        return _resolve(schema["allOf"][0], doc)
    return schema


def _types(schema: Schema, doc: Schema) -> set[str]:
    schema = _resolve(schema, doc)
    found: set[str] = set()
    t = schema.get("type")
    if isinstance(t, str):
        found.add(t)
    elif isinstance(t, list):
        found |= set(t)
    for key in ("anyOf", "oneOf"):
        for sub in schema.get(key, []):
            found |= _types(sub, doc)
    if "integer" in found:
        found.add("number-int")
    return found


def compare_schema(old: Schema, new: Schema, where: str, direction: str,
                   old_doc: Schema, new_doc: Schema, depth: int = 0) -> list[str]:
    """Breaking changes of one schema. ``direction``: "request" (clients send it), "response"
    (clients read it) or "event" (consumers read it, old producers still send the old one)."""
    old, new = _resolve(old, old_doc), _resolve(new, new_doc)
    problems: list[str] = []
    if depth > 8:
        return problems
    old_types, new_types = _types(old, old_doc), _types(new, new_doc)
    if old_types and new_types and old_types != new_types:
        narrowed = not old_types <= new_types
        widened = not new_types <= old_types
        if (direction == "request" and narrowed) or (direction != "request" and (narrowed or widened)):
            problems.append(f"{where}: type changed from {sorted(old_types)} to {sorted(new_types)}")
    old_enum, new_enum = old.get("enum"), new.get("enum")
    if old_enum is not None:
        if new_enum is None:
            if direction != "request":
                problems.append(f"{where}: enum {old_enum} removed (any value may now arrive)")
        else:
            gone = sorted(set(map(str, old_enum)) - set(map(str, new_enum)))
            added = sorted(set(map(str, new_enum)) - set(map(str, old_enum)))
            if direction == "request" and gone:
                problems.append(f"{where}: enum narrowed, {gone} no longer accepted")
            elif direction != "request" and added:
                problems.append(f"{where}: enum widened with {added}")
    old_props, new_props = old.get("properties", {}), new.get("properties", {})
    old_req, new_req = set(old.get("required", [])), set(new.get("required", []))
    for name in sorted(new_req - old_req):
        if direction in ("request", "event"):
            problems.append(f"{where}: new required field {name!r}")
    for name in sorted(old_props):
        if name not in new_props:
            if direction != "request":
                problems.append(f"{where}: field {name!r} removed")
            continue
        if direction != "request" and name in old_req and name not in new_req:
            problems.append(f"{where}: field {name!r} is no longer required (may be missing)")
        problems += compare_schema(old_props[name], new_props[name], f"{where}.{name}", direction,
                                   old_doc, new_doc, depth + 1)
    if "items" in old and "items" in new:
        problems += compare_schema(old["items"], new["items"], f"{where}[]", direction,
                                   old_doc, new_doc, depth + 1)
    return problems


# --- OpenAPI -----------------------------------------------------------------------------

def _json_schema(body: Schema | None) -> Schema | None:
    if not body:
        return None
    content = body.get("content", {})
    media = content.get("application/json") or next(iter(content.values()), None)
    return media.get("schema") if media else None


def compare_openapi(old: Schema, new: Schema, service: str) -> list[str]:
    problems: list[str] = []
    for path, old_item in old.get("paths", {}).items():
        new_item = new.get("paths", {}).get(path)
        if new_item is None:
            problems.append(f"{service}: endpoint {path} removed")
            continue
        for method in METHODS:
            if method not in old_item:
                continue
            op = f"{service}: {method.upper()} {path}"
            if method not in new_item:
                problems.append(f"{op} removed")
                continue
            o, n = old_item[method], new_item[method]
            old_params = {(p["in"], p["name"]) for p in o.get("parameters", [])}
            for p in n.get("parameters", []):
                if p.get("required") and (p["in"], p["name"]) not in old_params:
                    problems.append(f"{op}: new required {p['in']} parameter {p['name']!r}")
            old_body, new_body = _json_schema(o.get("requestBody")), _json_schema(n.get("requestBody"))
            if new_body is not None and (n.get("requestBody") or {}).get("required") and old_body is None:
                problems.append(f"{op}: new required request body")
            if old_body is not None and new_body is not None:
                problems += compare_schema(old_body, new_body, f"{op} request", "request", old, new)
            for status, response in o.get("responses", {}).items():
                if not str(status).startswith("2"):
                    continue
                if status not in n.get("responses", {}):
                    problems.append(f"{op}: response {status} removed")
                    continue
                ob, nb = _json_schema(response), _json_schema(n["responses"][status])
                if ob is not None and nb is not None:
                    problems += compare_schema(ob, nb, f"{op} response {status}", "response", old, new)
    return problems


def compare_events(old: dict[str, Schema], new: dict[str, Schema]) -> list[str]:
    problems: list[str] = []
    for name, schema in old.items():
        if name not in new:
            problems.append(f"event {name}: schema removed")
            continue
        problems += compare_schema(schema, new[name], f"event {name}", "event", schema, new[name])
    return problems


def baseline_openapi(service: str) -> Schema:
    return dict(json.loads((BASELINE / "openapi" / f"{service}.json").read_text()))


def baseline_events() -> dict[str, Schema]:
    return {p.name: json.loads(p.read_text()) for p in sorted((BASELINE / "events").glob("*.json"))}


def write_baseline() -> None:
    (BASELINE / "openapi").mkdir(parents=True, exist_ok=True)
    (BASELINE / "events").mkdir(parents=True, exist_ok=True)
    for service in SERVICES:
        (BASELINE / "openapi" / f"{service}.json").write_text(
            json.dumps(current_openapi(service), indent=2, sort_keys=True) + "\n")
    for name, schema in current_events().items():
        (BASELINE / "events" / name).write_text(json.dumps(schema, indent=2, sort_keys=True) + "\n")
    # The released code itself, which deploy/tests/test_rolling_upgrade.py runs beside the new one.
    git = ["git", "-C", str(ROOT)]
    commit = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True)
    (BASELINE / "COMMIT").write_text(commit.stdout.strip() + "\n")
    dirty = subprocess.run([*git, "status", "--porcelain", "--", "shared", "services", "gateway"],
                           capture_output=True, text=True, check=True).stdout
    if dirty:
        print("warning: uncommitted changes under shared/, services/ or gateway/: the baseline is not "
              f"the code at {commit.stdout.strip()[:12]} (deploy/compat/baseline/COMMIT)")
    print(f"baselines written under {BASELINE.relative_to(ROOT)}")


if __name__ == "__main__":
    if sys.argv[1:] != ["baseline"]:
        sys.exit("usage: python deploy/tests/compat.py baseline")
    write_baseline()
