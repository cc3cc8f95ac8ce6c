"""Container healthcheck: ``GET /health/live`` on the api port, else on the worker port.

The edge publishes no /health path (only the public API is on it): its image sets
``FLOTILLA_HEALTH_PATH=/openapi.json``, answered through the gateway, so "healthy" means
nginx is up and reaches a gateway.

One image serves both roles; whichever port answers is the one this container uses.
Exit status 0 when it answers 200, 1 otherwise (the HEALTHCHECK contract).
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request


def live() -> bool:
    path = os.environ.get("FLOTILLA_HEALTH_PATH", "/health/live")
    for variable, default in (("PORT", "8000"), ("WORKER_PORT", "9000")):
        url = f"http://127.0.0.1:{os.environ.get(variable, default)}{path}"
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return True
        except (urllib.error.URLError, OSError):
            continue
    return False


if __name__ == "__main__":
    sys.exit(0 if live() else 1)
