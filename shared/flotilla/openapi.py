"""The OpenAPI 3.1 document of a service, as flask-openapi3 generates it from our
pydantic models, completed with what the kit does to every request:

- every error is ``application/problem+json`` (``ProblemModel``, with an example);
- the statuses the kit itself can answer are documented on every operation they apply
  to: 400 (malformed JSON), 413 (body too large), 415 (not JSON) where there is a body,
  422 where there is input to validate, 401 where a token is required, 503 with
  ``Retry-After`` (database unavailable) everywhere;
- every response carries ``X-Request-ID``;
- response headers and conditional request headers that a route declares with
  :func:`extra` (``ETag``, ``Location``, ``If-Match``...);
- query, path and header parameters cannot be JSON ``null`` on the wire: the
  ``anyOf [T, null]`` pydantic writes for an optional parameter becomes ``T``.
"""

from __future__ import annotations

import copy
from typing import Any

from flask_openapi3 import OpenAPI

from flotilla.problems import PROBLEM_JSON, ProblemModel

_PROBLEM_REF = "#/components/schemas/ProblemModel"
_EXTRA = "x-flotilla"
BODY_METHODS = frozenset({"post", "put", "patch"})
OPERATION_METHODS = frozenset({"get", "put", "post", "delete", "patch"})

#: Response headers by name, as components (``#/components/headers/<name>``).
HEADERS: dict[str, dict[str, Any]] = {
    "X-Request-ID": {"description": "This request's id (the caller's, when it sent a well-formed one); "
                                    "logs and traces carry it.",
                     "schema": {"type": "string", "example": "4bf92f3577b34da6a3ce929d0e0e4736"}},
    "ETag": {"description": "The resource's version; send it back in If-Match or If-None-Match.",
             "schema": {"type": "string", "example": '"3"'}},
    "Location": {"description": "Where the new resource lives.",
                 "schema": {"type": "string", "example": "/products/7d1c3e0e-8a1b-4c55-9f4e-3f0b6a2d9c11"}},
    "Retry-After": {"description": "Seconds to wait before trying again.",
                    "schema": {"type": "integer", "minimum": 0, "example": 1}},
    "Cache-Control": {"description": "How long the answer may be kept.",
                      "schema": {"type": "string", "example": "no-store"}},
    "X-RateLimit-Limit": {"description": "Requests allowed in the current window.",
                          "schema": {"type": "integer", "example": 100}},
    "X-RateLimit-Remaining": {"description": "Requests left in the current window.",
                              "schema": {"type": "integer", "example": 99}},
    "X-RateLimit-Reset": {"description": "When the window resets (epoch seconds).",
                          "schema": {"type": "integer", "example": 1767225600}},
}

#: Conditional and other request headers a route may declare it reads.
REQUEST_HEADERS: dict[str, dict[str, Any]] = {
    "If-Match": {"description": "Apply only if the resource's ETag is one of these (else 412); "
                                "``*`` matches any version.",
                 "schema": {"type": "string", "example": '"3"'}},
    "If-None-Match": {"description": "Answer 304 without a body when the ETag is one of these.",
                      "schema": {"type": "string", "example": '"3"'}},
}

STATUS_TEXT = {
    400: "The request is malformed (for example, the body is not well-formed JSON).",
    401: "No valid access token (missing, expired, revoked or not signed by us).",
    403: "The token is valid, but its roles do not allow this.",
    404: "No such resource (or not one the caller may see).",
    409: "The request conflicts with the resource's current state.",
    412: "If-Match did not match the resource's current ETag.",
    413: "The body is larger than the service accepts.",
    414: "The request target is too long.",
    415: "The body is not application/json.",
    431: "The request's header fields are too large.",
    422: "The request did not validate; ``errors`` names each field.",
    429: "Too many requests; wait ``Retry-After`` seconds.",
    502: "An upstream service answered with something unusable.",
    503: "A dependency is unavailable; nothing was changed. Retry after ``Retry-After`` seconds.",
    504: "An upstream service did not answer in time.",
}

FIELD_ERROR_EXAMPLE = {"field": "price_cents", "message": "Input should be greater than or equal to 0"}
PROBLEM_EXAMPLE = {
    "type": "https://flotilla.dev/problems/validation-failed", "title": "Validation failed",
    "status": 422, "detail": "The request did not validate; see errors.", "instance": "/products",
    "request_id": "4bf92f3577b34da6a3ce929d0e0e4736",
    "errors": [FIELD_ERROR_EXAMPLE],
}


def extra(*, headers: dict[int, list[str]] | None = None, reads: list[str] | None = None,
          statuses: list[int] | None = None) -> dict[str, Any]:
    """``openapi_extensions`` for a route: the response ``headers`` each status carries
    (names from :data:`HEADERS`), the conditional request headers it ``reads``, and extra
    error ``statuses`` (problem+json)."""
    spec: dict[str, Any] = {}
    if headers:
        spec["headers"] = {str(k): v for k, v in headers.items()}
    if reads:
        spec["reads"] = list(reads)
    if statuses:
        spec["statuses"] = list(statuses)
    return {_EXTRA: spec}


def _without_null(schema: dict[str, Any]) -> dict[str, Any]:
    options = schema.get("anyOf")
    if isinstance(options, list):
        kept = [o for o in options if o != {"type": "null"}]
        if len(kept) == 1 and len(kept) < len(options):
            out = {k: v for k, v in schema.items() if k not in ("anyOf", "default")}
            out.update(kept[0])
            if schema.get("default") is not None:
                out["default"] = schema["default"]
            return out
    if schema.get("default", 0) is None:
        schema = {k: v for k, v in schema.items() if k != "default"}
    return schema


def _plain(text: str) -> str:
    """flask-openapi3 writes a docstring's line breaks as ``<br/>``: paragraphs again."""
    paragraphs = text.replace("<br/>", "\n").strip().split("\n\n")
    return "\n\n".join(" ".join(line.strip() for line in p.splitlines() if line.strip()) for p in paragraphs)


def _complete_operation(method: str, operation: dict[str, Any]) -> None:
    spec = operation.pop(_EXTRA, {})
    if operation.get("description"):
        operation["description"] = _plain(operation["description"])
    responses = operation.setdefault("responses", {})
    parameters = operation.setdefault("parameters", [])
    for parameter in parameters:
        if "schema" in parameter:
            parameter["schema"] = _without_null(parameter["schema"])
    for name in spec.get("reads", []):
        if not any(p.get("name") == name and p.get("in") == "header" for p in parameters):
            parameters.append({"name": name, "in": "header", "required": False, **REQUEST_HEADERS[name]})
    if not parameters:
        del operation["parameters"]
    statuses = set(spec.get("statuses", []))
    has_body = method in BODY_METHODS and "requestBody" in operation
    if has_body:
        statuses |= {400, 413, 415}
    if has_body or parameters:
        statuses.add(422)
    if operation.get("security"):
        statuses.add(401)
    statuses |= {414, 431, 503}  # gunicorn's limits on the request line and headers; the database
    for status in statuses:
        responses.setdefault(str(status), {})
    declared = spec.get("headers", {})
    for status, response in responses.items():
        code = int(status)
        names = ["X-Request-ID", *declared.get(status, [])]
        if code in (429, 503):
            names.append("Retry-After")
        if code >= 400:
            response["content"] = {PROBLEM_JSON: {"schema": {"$ref": _PROBLEM_REF}}}
            response["description"] = STATUS_TEXT.get(code) or response.get("description") or "An error."
        elif code == 304:
            response["description"] = "Not modified: the ETag given in If-None-Match is current."
        elif not response.get("description"):
            response["description"] = "Success."
        headers = response.setdefault("headers", {})
        for name in dict.fromkeys(names):
            headers[name] = {"$ref": f"#/components/headers/{name}"}
    operation["responses"] = dict(sorted(responses.items()))


def problem_schemas() -> dict[str, dict[str, Any]]:
    """``ProblemModel`` and ``FieldErrorModel`` as component schemas, with their examples."""
    schema = ProblemModel.model_json_schema(ref_template="#/components/schemas/{model}")
    out = {name: dict(s) for name, s in schema.pop("$defs", {}).items()}
    out["ProblemModel"] = schema
    out["ProblemModel"].setdefault("example", PROBLEM_EXAMPLE)
    out.setdefault("FieldErrorModel", {}).setdefault("example", FIELD_ERROR_EXAMPLE)
    return out


def complete(doc: dict[str, Any]) -> dict[str, Any]:
    """Complete a document in place (also used by the gateway on its merged one)."""
    components = doc.setdefault("components", {})
    if not components.get("securitySchemes"):
        components.pop("securitySchemes", None)
    components.setdefault("headers", {}).update(copy.deepcopy(HEADERS))
    schemas = components.setdefault("schemas", {})
    if "ProblemModel" in schemas:
        schemas["ProblemModel"].setdefault("example", PROBLEM_EXAMPLE)
    if "FieldErrorModel" in schemas:
        schemas["FieldErrorModel"].setdefault("example", FIELD_ERROR_EXAMPLE)
    for path_item in doc.get("paths", {}).values():
        for method, operation in path_item.items():
            if isinstance(operation, dict) and method in OPERATION_METHODS:
                _complete_operation(method, operation)
    return doc


def document(app: OpenAPI) -> dict[str, Any]:
    return complete(copy.deepcopy(app.api_doc))
