"""The operations of the platform's OpenAPI documents, and requests that exercise them.

``operations(stack)`` walks each service's document (what the service itself says it serves)
and yields one ``Operation`` per (method, path); ``request_for`` builds a well-formed request for
it from the document's own examples, with the path's ids filled in by the caller. The security
modules build their matrices from these, so a route added to a document is tested without a
line of test code; a route served but not documented fails ``test_api9_inventory``.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

METHODS = ("get", "post", "put", "patch", "delete")
PARAM = re.compile(r"\{([^}]+)\}")

#: Served by a service for the platform's own processes, never through the edge (the gateway
#: does not route them and nginx refuses everything outside /api/v1, /docs and /openapi.json).
#: test_api9_inventory checks that each is refused at the edge.
OPERATIONAL = frozenset({"/health/live", "/health/ready", "/metrics", "/openapi.json"})


@dataclass(frozen=True)
class Operation:
    service: str
    method: str
    path: str  # as the service documents it: /orders/{order_id}
    spec: Mapping[str, Any] = field(compare=False, hash=False, repr=False)
    document: Mapping[str, Any] = field(compare=False, hash=False, repr=False)

    @property
    def key(self) -> str:
        return f"{self.method.upper()} {self.path}"

    @property
    def secured(self) -> bool:
        return bool(self.spec.get("security") or self.document.get("security"))

    @property
    def statuses(self) -> set[str]:
        return set(self.spec.get("responses", {}))

    @property
    def params(self) -> list[str]:
        return PARAM.findall(self.path)

    @property
    def public(self) -> bool:
        """Routed by the gateway (under /api/v1)."""
        from gateway.routes import match

        return match(self.path) is not None

    def body_schema(self) -> dict[str, Any] | None:
        content = self.spec.get("requestBody", {}).get("content", {})
        schema = content.get("application/json", {}).get("schema")
        return resolve(self.document, schema) if schema else None

    def response_schemas(self) -> Iterator[tuple[str, dict[str, Any]]]:
        for status, answer in self.spec.get("responses", {}).items():
            answer = resolve(self.document, answer)
            for media in answer.get("content", {}).values():
                if "schema" in media:
                    yield status, resolve(self.document, media["schema"])


def resolve(document: Mapping[str, Any], node: Any) -> Any:
    while isinstance(node, Mapping) and "$ref" in node:
        target: Any = document
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target[part]
        node = target
    return node


def walk(document: Mapping[str, Any], schema: Any,
         seen: frozenset[str] = frozenset()) -> Iterator[tuple[str, Any]]:
    """Every (property name, schema) reachable from ``schema``, through $refs, items and the
    combinators (each named component once per path)."""
    if isinstance(schema, Mapping) and "$ref" in schema:
        if schema["$ref"] in seen:
            return
        seen = seen | {schema["$ref"]}
        schema = resolve(document, schema)
    if not isinstance(schema, Mapping):
        return
    for name, sub in schema.get("properties", {}).items():
        yield name, sub
        yield from walk(document, sub, seen)
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), Mapping):
            yield from walk(document, schema[key], seen)
    for key in ("allOf", "anyOf", "oneOf"):
        for sub in schema.get(key, []):
            yield from walk(document, sub, seen)


def operations(documents: Mapping[str, Mapping[str, Any]]) -> list[Operation]:
    found = []
    for service, document in documents.items():
        for path, item in document["paths"].items():
            for method in METHODS:
                if method in item:
                    found.append(Operation(service, method, path, item[method], document))
    return found


def example_body(op: Operation) -> Any:
    """The request body's example as the document gives it (None: the operation takes none)."""
    schema = op.body_schema()
    if schema is None:
        return None
    media = op.spec["requestBody"]["content"]["application/json"]
    for holder in (media, schema):
        if "example" in holder:
            return holder["example"]
        if holder.get("examples"):
            first = holder["examples"]
            return first[0] if isinstance(first, list) else next(iter(first.values()))["value"]
    raise AssertionError(f"{op.key}: its request body has no example")


def request_for(op: Operation, ids: Mapping[str, str], headers: Mapping[str, str] | None = None,
                body: Any = None, unique: bool = True) -> dict[str, Any]:
    """``requests.request`` keyword arguments for ``op`` at the edge's ``/api/v1`` (ids by path
    parameter name). ``unique``: the example's email and names get a fresh suffix."""
    path = op.path
    for name in op.params:
        path = path.replace("{" + name + "}", ids[name])
    sent = example_body(op) if body is None else body
    if unique and body is None and isinstance(sent, dict):
        sent = {k: (f"sec-{uuid.uuid4().hex[:10]}@example.com" if k == "email"
                    else f"{v} {uuid.uuid4().hex[:6]}" if k == "name" and isinstance(v, str) else v)
                for k, v in sent.items()}
    out: dict[str, Any] = {"method": op.method.upper(), "path": path, "headers": dict(headers or {})}
    names = {p.get("name") for p in op.spec.get("parameters", []) if isinstance(p, Mapping)}
    if "Idempotency-Key" in names:
        out["headers"]["Idempotency-Key"] = uuid.uuid4().hex
    if sent is not None:
        out["json"] = sent
    return out
