"""The CloudEvents 1.0 envelope every Flotilla event travels in, and the event base class.

An event type is a pydantic model with ``event_name`` and ``event_version``
(``product.created``, 1); its CloudEvents ``type`` (and AMQP routing key) is
``product.created.v1``, so a new version is a new type that producers can emit side
by side with the old one.
``correlationid`` is the request id that started the work; ``causationid`` the id of
the event (or request) that directly caused this one.
"""

from __future__ import annotations

import builtins  # a field below is named ``type``
import contextvars
import uuid
from datetime import datetime
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from flotilla.context import current_correlation_id
from flotilla.db import utcnow

CONTENT_TYPE = "application/cloudevents+json"

_causation: contextvars.ContextVar[str | None] = contextvars.ContextVar("causation", default=None)


class Event(BaseModel):
    """Base of every event payload (the envelope's ``data``)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    event_name: ClassVar[str]
    event_version: ClassVar[int] = 1

    @classmethod
    def type_name(cls) -> str:
        return f"{cls.event_name}.v{cls.event_version}"


class Envelope(BaseModel):
    """CloudEvents 1.0, structured JSON mode, with two extension attributes."""

    model_config = ConfigDict(extra="allow")

    specversion: Literal["1.0"] = "1.0"
    id: str = Field(min_length=1)
    source: str = Field(min_length=1)
    type: str = Field(min_length=1)
    time: datetime
    datacontenttype: Literal["application/json"] = "application/json"
    subject: str | None = None
    correlationid: str | None = None
    causationid: str | None = None
    data: dict[str, Any]

    def decode(self, model: builtins.type[Event]) -> Event:
        """The payload as ``model``; raises ``pydantic.ValidationError`` when it does not fit."""
        return model.model_validate(self.data)


def wrap(event: Event, source: str, subject: str | None = None) -> Envelope:
    """A new envelope for ``event``, stamped with the current correlation and causation."""
    correlation = current_correlation_id()
    return Envelope(
        id=str(uuid.uuid4()),
        source=source,
        type=event.type_name(),
        time=utcnow(),
        subject=subject,
        correlationid=correlation,
        causationid=_causation.get() or correlation,
        data=event.model_dump(mode="json"),
    )


def set_causation(event_id: str | None) -> contextvars.Token[str | None]:
    """While handling event ``event_id``, events written to the outbox name it as their cause."""
    return _causation.set(event_id)


def reset_causation(token: contextvars.Token[str | None]) -> None:
    _causation.reset(token)
