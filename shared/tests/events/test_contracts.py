"""Event contracts: generated files are current, and every consumer reads its producer's example."""

from __future__ import annotations

import uuid

import pytest
from pydantic import ValidationError

from flotilla.context import reset_request_id, set_request_id
from flotilla.events import Event, EventRegistry
from flotilla.events.contracts import CONTRACTS_DIR, load_example, render, stale_files
from flotilla.events.envelope import reset_causation, set_causation, wrap
from flotilla.events.registry import installed_registries


def test_generated_contracts_are_current():
    stale = stale_files(render(installed_registries()))
    assert stale == [], f"stale event contracts {stale}: run `make contracts` and commit the result"


def test_every_installed_producer_is_in_the_contracts():
    produced = {t for r in installed_registries() for t in r.produced}
    assert {"product.created.v1", "product.updated.v1", "product.deleted.v1"} <= produced
    assert all((CONTRACTS_DIR / f"{t}.json").exists() for t in produced)


def test_each_consumer_reads_the_producers_example():
    """Every installed consumer model must parse the producer's example (none consume yet but
    the saga's services will; the next test shows the check biting)."""
    for registry in installed_registries():
        for type_name, (model, _handler) in registry.consumed.items():
            assert (CONTRACTS_DIR / f"{type_name}.json").exists(), \
                f"{registry.service} consumes {type_name}, which no installed service produces"
            model.model_validate(load_example(type_name))


def test_the_check_catches_a_consumer_that_cannot_read_the_example():
    class StrictReading(Event):
        event_name = "product.created"
        product_id: uuid.UUID
        sku: str  # not in the producer's contract

    class LenientReading(Event):
        event_name = "product.created"
        product_id: uuid.UUID
        price_cents: int

    example = load_example("product.created.v1")
    LenientReading.model_validate(example)
    with pytest.raises(ValidationError):
        StrictReading.model_validate(example)


def test_a_changed_model_makes_the_contract_stale(tmp_path):
    class Thing(Event):
        event_name = "thing.made"
        n: int
        model_config = {"json_schema_extra": {"examples": [{"n": 1}]}}

    registry = EventRegistry("t")
    registry.produces(Thing)
    files = render([registry])
    (tmp_path / "envelope.json").write_text(files["envelope.json"])
    (tmp_path / "thing.made.v1.json").write_text(files["thing.made.v1.json"].replace('"n"', '"m"'))
    assert stale_files(files, tmp_path) == ["thing.made.v1.json"]


def test_envelope_carries_correlation_and_causation():
    class Thing(Event):
        event_name = "thing.made"
        n: int

    token = set_request_id("req-123")
    try:
        first = wrap(Thing(n=1), "/flotilla/t", subject="agg-1")
        cause = set_causation(first.id)
        try:
            second = wrap(Thing(n=2), "/flotilla/t")
        finally:
            reset_causation(cause)
    finally:
        reset_request_id(token)
    assert (first.type, first.specversion, first.subject) == ("thing.made.v1", "1.0", "agg-1")
    assert first.correlationid == "req-123" and first.causationid == "req-123"
    assert second.correlationid == "req-123" and second.causationid == first.id
    assert first.data == {"n": 1} and first.time.tzinfo is not None
