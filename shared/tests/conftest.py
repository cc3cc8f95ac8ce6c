"""A small app built with the kit, for testing the kit itself."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Response, jsonify
from flask_openapi3 import OpenAPI
from pydantic import BaseModel, ConfigDict

from flotilla.app import create_service_app, init_database
from flotilla.settings import KitSettings


class Payload(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    name: str
    count: int


class Boom(Exception):
    pass


class Mapped(Exception):
    pass


def build_app(database_url: str) -> OpenAPI:
    app = create_service_app("kit-test", KitSettings(log_format="json"), exceptions={Mapped: 409})
    init_database(app, database_url)

    @app.post("/things")
    def make_thing(body: Payload) -> Response:
        return jsonify(body.model_dump())

    @app.get("/boom")
    def boom() -> Response:
        raise Boom("secret internals: password=hunter2")

    @app.get("/mapped")
    def mapped() -> Response:
        raise Mapped("that conflicts")

    return app


@pytest.fixture
def app(tmp_path: Path) -> OpenAPI:
    return build_app(f"sqlite:///{tmp_path / 'kit.db'}")


@pytest.fixture
def client(app: OpenAPI):
    return app.test_client()
