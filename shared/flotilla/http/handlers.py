"""Map downstream failures to problem+json at a service's edge: 503 with ``Retry-After``;
502 for an answer too large to relay."""

from __future__ import annotations

from flask import Flask, Response

from flotilla.http.errors import UpstreamTimeout, UpstreamTooLarge, UpstreamUnavailable
from flotilla.problems import Problem, problem_response


def unavailable_problem(exc: UpstreamUnavailable, status: int = 503) -> Problem:
    return Problem(status, f"The {exc.service} service is unavailable right now; try again shortly.",
                   headers={"Retry-After": str(exc.retry_after)}, slug="upstream-unavailable")


def init_app(app: Flask, timeout_status: int = 503) -> None:
    """Install the handler; the gateway passes ``timeout_status=504``."""

    @app.errorhandler(UpstreamUnavailable)
    def _unavailable(exc: UpstreamUnavailable) -> Response:
        status = timeout_status if isinstance(exc, UpstreamTimeout) else 503
        return problem_response(unavailable_problem(exc, status))

    @app.errorhandler(UpstreamTooLarge)
    def _too_large(exc: UpstreamTooLarge) -> Response:
        return problem_response(Problem(502, f"The {exc.service} service sent an answer too large to relay.",
                                        slug="upstream-too-large"))
