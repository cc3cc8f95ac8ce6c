"""Errors as ``application/problem+json`` (RFC 9457), everywhere, never a traceback.

Services raise plain exceptions named for the problem and map them to a status
once, in a table given to :func:`init_app`. Werkzeug's HTTP errors, pydantic's
validation errors and anything unexpected end up here too.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from flask import Flask, Response, json, request
from pydantic import BaseModel, ValidationError
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from flotilla.context import current_request_id

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://flotilla.dev/problems/"


class FieldErrorModel(BaseModel):
    field: str
    message: str


class ProblemModel(BaseModel):
    """The problem+json body, for the OpenAPI document."""

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    request_id: str | None = None
    errors: list[FieldErrorModel] | None = None


class Problem(Exception):
    """An error that already knows its HTTP shape. Raise it from the edge only."""

    def __init__(self, status: int, detail: str | None = None, *, title: str | None = None,
                 errors: list[dict[str, str]] | None = None,
                 headers: Mapping[str, str] | None = None, slug: str | None = None) -> None:
        super().__init__(detail or title or HTTPStatus(status).phrase)
        self.status = status
        self.title = title or HTTPStatus(status).phrase
        self.detail = detail
        self.errors = errors
        self.headers = dict(headers or {})
        self.slug = slug or self.title.lower().replace(" ", "-").replace("'", "")


def problem_response(problem: Problem) -> Response:
    body: dict[str, Any] = {
        "type": TYPE_BASE + problem.slug,
        "title": problem.title,
        "status": problem.status,
        "detail": problem.detail or problem.title,
        "instance": request.path if request else None,
        "request_id": current_request_id(),
    }
    if problem.errors is not None:
        body["errors"] = problem.errors
    response = Response(json.dumps(body), status=problem.status, mimetype=PROBLEM_JSON)
    response.headers.update(problem.headers)
    return response


def field_errors(exc: ValidationError, prefix: str = "") -> list[dict[str, str]]:
    """One ``{field, message}`` per pydantic error, fields as dotted paths."""
    out = []
    for err in exc.errors(include_url=False):
        loc = ".".join(str(p) for p in err["loc"])
        out.append({"field": f"{prefix}{loc}" if loc else prefix.rstrip(".") or "body",
                    "message": err["msg"]})
    return out


def validation_problem(exc: ValidationError, where: str = "body") -> Problem:
    return Problem(422, "The request did not validate; see errors.", title="Validation failed",
                   errors=field_errors(exc), slug="validation-failed")


def _from_http_exception(exc: HTTPException) -> Problem:
    status = exc.code or 500
    headers: dict[str, str] = {}
    if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
        headers["Allow"] = ", ".join(sorted(exc.valid_methods))
    for key, value in exc.get_headers():
        if key.lower() not in ("content-type", "content-length"):
            headers[key] = value
    return Problem(status, exc.description, headers=headers)


def init_app(app: Flask, exceptions: Mapping[type[Exception], int] | None = None) -> None:
    """Install the handlers. ``exceptions`` maps a service's own errors to statuses."""
    table = dict(exceptions or {})

    @app.errorhandler(Problem)
    def _problem(exc: Problem) -> Response:
        return problem_response(exc)

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> Response | HTTPException:
        if exc.response is not None:  # flask-openapi3 aborts with a ready response
            return exc.response  # type: ignore[return-value]
        return problem_response(_from_http_exception(exc))

    @app.errorhandler(ValidationError)
    def _validation(exc: ValidationError) -> Response:
        return problem_response(validation_problem(exc))

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        for exc_type in type(exc).__mro__:
            if exc_type in table:
                status = table[exc_type]
                return problem_response(Problem(status, str(exc), title=HTTPStatus(status).phrase,
                                                slug=_slug(exc_type.__name__)))
        if database_unavailable(exc):
            log.warning("database unavailable: %s", exc)
            return problem_response(Problem(503, "The database is unavailable; retry shortly.",
                                            headers={"Retry-After": "1"},
                                            slug="database-unavailable"))
        log.exception("unhandled error")
        return problem_response(Problem(500, "An unexpected error occurred; it has been logged."))


def database_unavailable(exc: BaseException) -> bool:
    """The database cannot be reached (down, restarting, connection dropped, pool exhausted):
    a 503 the client may retry, not a 500, and an event the consumer retries without counting
    the attempt (:mod:`flotilla.events.consumer`). A bad query stays a 500."""
    from sqlalchemy import exc as sa

    if isinstance(exc, sa.TimeoutError):  # no pooled connection in time
        return True
    if isinstance(exc, sa.DBAPIError):
        if exc.connection_invalidated:
            return True
        # psycopg's OperationalError: connection refused or lost, server shutting down
        return isinstance(exc, sa.OperationalError) and type(exc.orig).__module__.startswith("psycopg")
    return False


def _slug(name: str) -> str:
    return "".join("-" + c.lower() if c.isupper() else c for c in name).lstrip("-")


def make_validation_error_response(exc: ValidationError) -> Response:
    """flask-openapi3's hook: invalid path, query or body -> 422 problem."""
    return problem_response(validation_problem(exc))
