"""The one way to build a Flotilla service app.

``create_service_app`` returns a flask-openapi3 ``OpenAPI`` app (a Flask
subclass) with logging, request ids, strict JSON bodies, problem+json errors,
health, metrics and ``/openapi.json`` wired in. The service adds its blueprints,
its readiness checks and its CLI commands.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from flask import Flask, jsonify
from flask.typing import ResponseReturnValue
from flask_openapi3 import Info, OpenAPI

from flotilla import health, incoming, metrics, openapi, problems, tracing
from flotilla.db import Database
from flotilla.logs import configure_logging
from flotilla.settings import KitSettings


def create_service_app(
    name: str,
    settings: KitSettings,
    *,
    version: str = "1.0.0",
    title: str | None = None,
    exceptions: Mapping[type[Exception], int] | None = None,
    security_schemes: dict[str, object] | None = None,
) -> OpenAPI:
    configure_logging(settings.log_level, settings.log_format, service=name)
    app = OpenAPI(
        name,
        info=Info(title=title or f"Flotilla {name}", version=version),
        security_schemes=security_schemes,  # type: ignore[arg-type]
        doc_ui=False,
        validation_error_status=422,
        validation_error_model=problems.ProblemModel,
        validation_error_callback=problems.make_validation_error_response,
    )
    app.config["FLOTILLA_SETTINGS"] = settings
    app.json.sort_keys = False  # type: ignore[attr-defined]
    _cache_ensure_sync(app)
    metrics.init_app(app, name, hooks=False)
    incoming.init_app(app, settings.max_body_bytes, metrics.request_metrics(app))
    problems.init_app(app, exceptions)
    app.register_blueprint(health.bp)
    if settings.amqp_url:
        from flotilla.events.health import broker_check

        health.add_readiness_check(app, "broker", broker_check(settings.amqp_url))
    tracing.init_app(app, name)

    def openapi_document() -> ResponseReturnValue:
        return jsonify(openapi.document(app))

    # A plain Flask rule: the document does not describe itself.
    app.add_url_rule("/openapi.json", "openapi_document", openapi_document)

    return app


def _cache_ensure_sync(app: Flask) -> None:
    """Flask asks ``inspect.iscoroutinefunction`` about every hook and the view on every
    request (``ensure_sync``, 3 % of an item read); the answer for a registered hook or view
    never changes, so each is asked once. Anything else (``after_this_request`` callbacks,
    made per request) is asked every time and not kept; async functions still run through
    ``async_to_sync``."""
    asked: dict[Callable[..., Any], Callable[..., Any]] = {}
    ensure_sync = app.ensure_sync

    def registered(func: Callable[..., Any]) -> bool:
        hooks = (app.before_request_funcs, app.after_request_funcs, app.teardown_request_funcs)
        return (func in app.view_functions.values()
                or any(func in funcs for table in hooks for funcs in table.values()))

    def cached(func: Callable[..., Any]) -> Callable[..., Any]:
        try:
            return asked[func]
        except (KeyError, TypeError):  # TypeError: an unhashable callable
            found = ensure_sync(func)
            try:
                if len(asked) < 4096 and registered(func):
                    asked[func] = found
            except TypeError:
                pass
            return found

    app.ensure_sync = cached  # type: ignore[method-assign]


def init_database(app: OpenAPI, url: str) -> Database:
    """Create the component's database handle, check it for readiness, close it on exit."""
    db = Database(url)
    app.extensions["flotilla_db"] = db
    health.add_readiness_check(app, "database", db.ping)
    return db


def current_database() -> Database:
    """The database of the app handling the current request."""
    from flask import current_app

    db: Database = current_app.extensions["flotilla_db"]
    return db
