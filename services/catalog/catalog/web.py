"""The catalog HTTP API: ``create_app`` builds it (``catalog.create_app`` names this one)."""

from __future__ import annotations

from flask_openapi3 import OpenAPI
from sqlalchemy.orm.exc import StaleDataError

from catalog import MIGRATIONS, api, audit, cli
from catalog.bootstrap import bootstrap, install
from catalog.config import CatalogSettings
from catalog.model import InsufficientStock, ProductNotFound, VersionMismatch
from flotilla import auth
from flotilla.app import create_service_app, init_database
from flotilla.settings import load_settings

#: Our exceptions, mapped to HTTP once, here.
PROBLEMS: dict[type[Exception], int] = {
    ProductNotFound: 404,
    InsufficientStock: 409,
    StaleDataError: 409,
    VersionMismatch: 412,
}


def create_app(settings: CatalogSettings | None = None, *,
               key_source: auth.KeySource | None = None) -> OpenAPI:
    """``key_source``: where token-verifying keys come from (default: users' JWKS at JWT_JWKS_URL)."""
    settings = settings or load_settings(CatalogSettings)
    app = create_service_app("catalog", settings, exceptions=PROBLEMS,
                             security_schemes=auth.SECURITY_SCHEMES)
    db = init_database(app, settings.database_url)
    install(app, bootstrap(settings, db=db))
    auth.init_app(app, settings, key_source)
    app.register_api(api.bp)
    audit.init_app(app)
    cli.init_app(app, MIGRATIONS)
    return app
