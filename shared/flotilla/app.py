"""The one way to build a Flotilla service app.

``create_service_app`` returns a flask-openapi3 ``OpenAPI`` app (a Flask
subclass) with logging, request ids, strict JSON bodies, problem+json errors,
health, metrics and ``/openapi.json`` wired in. The service adds its blueprints,
its readiness checks and its CLI commands.
"""

from __future__ import annotations

from collections.abc import Mapping

from flask import Response, jsonify, request
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
    incoming.init_app(app, settings.max_body_bytes)
    problems.init_app(app, exceptions)
    app.register_blueprint(health.bp)
    if settings.amqp_url:
        from flotilla.events.health import broker_check

        health.add_readiness_check(app, "broker", broker_check(settings.amqp_url))
    metrics.init_app(app, name)
    tracing.init_app(app, name)

    @app.after_request
    def _security_headers(response: Response) -> Response:
        """Every answer of a service port: no sniffing, no framing, no referrer, and nothing kept
        by a cache when it was for one caller (the gateway adds the same at the edge)."""
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        if "Authorization" in request.headers:
            response.headers["Cache-Control"] = "no-store"
        return response

    def openapi_document() -> ResponseReturnValue:
        return jsonify(openapi.document(app))

    # A plain Flask rule: the document does not describe itself.
    app.add_url_rule("/openapi.json", "openapi_document", openapi_document)

    return app


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
