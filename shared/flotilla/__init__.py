"""Flotilla's platform kit: the infrastructure every service is built on.

Business rules never live here. A service builds its app with
:func:`flotilla.app.create_service_app` and gets logging, request ids,
problem+json errors, health checks, metrics and OpenAPI in one call.
"""

__version__ = "0.1.0"
