"""The floor: a bare Flask view returning a small JSON object, served by the same gunicorn
settings as every service (``gunicorn -c python:flotilla.gunicorn_conf bench._floor:app``)."""

from __future__ import annotations

from flask import Flask, jsonify
from flask.typing import ResponseReturnValue

app = Flask(__name__)


@app.get("/health/live")
def live() -> ResponseReturnValue:
    return jsonify(status="ok")


@app.get("/item")
def item() -> ResponseReturnValue:
    return jsonify(id="00000000-0000-0000-0000-000000000001", name="Floor", price_cents=100,
                   currency="EUR")
