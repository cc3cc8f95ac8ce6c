"""The orders HTTP API: ``create_app`` builds it (``orders.create_app`` names this one)."""

from __future__ import annotations

from flask_openapi3 import OpenAPI
from sqlalchemy.orm.exc import StaleDataError

from flotilla import auth
from flotilla import metrics as kit_metrics
from flotilla.app import create_service_app, init_database
from flotilla.http import handlers as upstream_errors
from flotilla.settings import load_settings
from orders import MIGRATIONS, api, cli, metrics
from orders.bootstrap import bootstrap, install
from orders.catalog_client import CatalogClient
from orders.config import OrdersSettings
from orders.model import IdempotencyKeyReused, InvalidTransition, MixedCurrencies, OrderNotFound

#: Our exceptions, mapped to HTTP once, here (catalog's failures: 503 by flotilla.http).
PROBLEMS: dict[type[Exception], int] = {
    OrderNotFound: 404,
    InvalidTransition: 409,
    StaleDataError: 409,
    IdempotencyKeyReused: 422,
    MixedCurrencies: 422,
}


def create_app(settings: OrdersSettings | None = None, *, key_source: auth.KeySource | None = None,
               catalog: CatalogClient | None = None) -> OpenAPI:
    """``key_source``: token-verifying keys (default: users' JWKS); ``catalog``: the client
    used to price orders (default: built from the environment's discovery settings)."""
    settings = settings or load_settings(OrdersSettings)
    app = create_service_app("orders", settings, exceptions=PROBLEMS,
                             security_schemes=auth.SECURITY_SCHEMES)
    db = init_database(app, settings.database_url)
    install(app, bootstrap(settings, db=db, catalog=catalog))
    auth.init_app(app, settings, key_source)
    upstream_errors.init_app(app)
    app.register_api(api.bp)
    metrics.register_into(kit_metrics.registry_of(app))
    cli.init_app(app, MIGRATIONS)
    return app
