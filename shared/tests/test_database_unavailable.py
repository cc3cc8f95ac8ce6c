"""A database that cannot be reached is a 503 problem with Retry-After; a bad query stays a 500."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Flask

from flotilla import problems
from flotilla.testing import free_port


def make_app() -> Flask:
    app = Flask("t")
    problems.init_app(app)
    down = sa.create_engine(f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/x")
    sqlite = sa.create_engine("sqlite://")

    @app.get("/down")
    def _down() -> str:
        with down.connect() as conn:
            conn.execute(sa.text("select 1"))
        return "unreachable"

    @app.get("/bad-query")
    def _bad() -> str:
        with sqlite.connect() as conn:
            conn.execute(sa.text("select * from no_such_table"))
        return "unreachable"

    return app


def test_an_unreachable_database_is_a_503_with_retry_after():
    response = make_app().test_client().get("/down")
    assert response.status_code == 503 and response.headers["Retry-After"] == "1"
    assert response.mimetype == "application/problem+json"
    assert response.json["type"].endswith("/database-unavailable")
    assert "127.0.0.1" not in response.json["detail"]  # no connection details leak


def test_a_bad_query_is_still_a_500():
    response = make_app().test_client().get("/bad-query")
    assert response.status_code == 500 and "no_such_table" not in response.get_data(as_text=True)
