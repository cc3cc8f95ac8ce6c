"""Event contracts as data: JSON Schemas generated from the producers' models.

``python -m flotilla.events.contracts`` (``make contracts``) writes one file per
produced event type into ``shared/contracts/events/`` plus the envelope's schema;
``--check`` exits 1 when a file is missing or stale. Every produced model must carry
an example (``json_schema_extra={"examples": [...]}``): consumers' models are tested
against it.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from flotilla.events.envelope import Envelope, Event
from flotilla.events.registry import EventRegistry, installed_registries

CONTRACTS_DIR = Path(__file__).resolve().parents[2] / "contracts" / "events"
SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def event_schema(model: type[Event], producer: str) -> dict[str, Any]:
    schema = model.model_json_schema()
    if not schema.get("examples"):
        raise ValueError(f"{model.__name__} ({model.type_name()}) has no example in its schema")
    return {"$schema": SCHEMA_DIALECT, "$id": f"flotilla:events/{model.type_name()}",
            "x-event-type": model.type_name(), "x-producer": producer, **schema}


def render(registries: Iterable[EventRegistry]) -> dict[str, str]:
    """File name -> content, for every produced event type and the envelope."""
    envelope = {"$schema": SCHEMA_DIALECT, "$id": "flotilla:events/envelope",
                **Envelope.model_json_schema()}
    files = {"envelope.json": envelope}
    for registry in registries:
        for type_name, model in registry.produced.items():
            name = f"{type_name}.json"
            if name in files:
                raise ValueError(f"{type_name} is produced by two services")
            files[name] = event_schema(model, registry.service)
    return {name: json.dumps(body, indent=2, sort_keys=True) + "\n" for name, body in files.items()}


def stale_files(rendered: dict[str, str], directory: Path = CONTRACTS_DIR) -> list[str]:
    """Names whose file differs from ``rendered``, is missing, or is no longer produced."""
    stale = [n for n, text in rendered.items()
             if not (directory / n).exists() or (directory / n).read_text() != text]
    extra = [p.name for p in directory.glob("*.json") if p.name not in rendered]
    return sorted(stale + extra)


def write(rendered: dict[str, str], directory: Path = CONTRACTS_DIR) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for path in directory.glob("*.json"):
        if path.name not in rendered:
            path.unlink()
    for name, text in rendered.items():
        (directory / name).write_text(text)


def load_example(type_name: str, directory: Path = CONTRACTS_DIR) -> dict[str, Any]:
    """The producer's first example payload for ``type_name``."""
    schema = json.loads((directory / f"{type_name}.json").read_text())
    example: dict[str, Any] = schema["examples"][0]
    return example


def main(argv: list[str]) -> int:
    rendered = render(installed_registries())
    if "--check" in argv:
        stale = stale_files(rendered)
        for name in stale:
            sys.stderr.write(f"stale event contract: {CONTRACTS_DIR / name}\n")
        return 1 if stale else 0
    write(rendered)
    sys.stdout.write(f"wrote {len(rendered)} event contracts to {CONTRACTS_DIR}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
