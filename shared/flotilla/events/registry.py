"""Which events a service produces and which it consumes (with their handlers).

Each service keeps one :class:`EventRegistry` in its ``events`` module and names it
under the ``flotilla.events`` entry point group, so the contract generator finds
every producer without the kit importing any service by name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any

from sqlalchemy.orm import Session

from flotilla.events.envelope import Envelope, Event

#: ``handler(session, envelope, event)``: runs inside the consumer's transaction.
Handler = Callable[[Session, Envelope, Any], None]

ENTRY_POINT_GROUP = "flotilla.events"


@dataclass
class EventRegistry:
    service: str
    produced: dict[str, type[Event]] = field(default_factory=dict)
    consumed: dict[str, tuple[type[Event], Handler]] = field(default_factory=dict)

    @property
    def source(self) -> str:
        return f"/flotilla/{self.service}"

    def produces(self, model: type[Event]) -> type[Event]:
        """Class decorator (or call): ``model`` is an event this service emits."""
        self.produced[model.type_name()] = model
        return model

    def consumes(self, model: type[Event]) -> Callable[[Handler], Handler]:
        """Decorator: the handler for ``model`` (this service's own reading of it)."""

        def register(handler: Handler) -> Handler:
            self.consumed[model.type_name()] = (model, handler)
            return handler

        return register

    @property
    def routing_keys(self) -> list[str]:
        return sorted(self.consumed)


def installed_registries() -> list[EventRegistry]:
    """Every registry named under the ``flotilla.events`` entry point group."""
    found = []
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        registry = ep.load()
        if not isinstance(registry, EventRegistry):
            raise TypeError(f"entry point {ep.name} = {ep.value} is not an EventRegistry")
        found.append(registry)
    return sorted(found, key=lambda r: r.service)
