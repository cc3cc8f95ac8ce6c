"""Each side of the saga reads the other's events: consumers' models against producers' examples."""

from __future__ import annotations

import pytest

from catalog.handlers import registry as catalog_registry
from flotilla.events.contracts import load_example
from orders.saga import registry as orders_registry

CONSUMED = [(r.service, type_name, model) for r in (orders_registry, catalog_registry)
            for type_name, (model, _handler) in sorted(r.consumed.items())]


@pytest.mark.parametrize(("consumer", "type_name", "model"), CONSUMED, ids=[c[1] for c in CONSUMED])
def test_consumer_reads_the_producers_example(consumer, type_name, model):
    event = model.model_validate(load_example(type_name))
    assert event.type_name() == type_name
    assert getattr(event, "order_id", None) or getattr(event, "user_id", None)
