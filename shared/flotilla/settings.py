"""Settings from the environment, validated once at start-up.

Every component subclasses :class:`KitSettings`. A bad value stops the process
with one line per offending variable instead of a traceback deep in a request.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, TypeVar

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

S = TypeVar("S", bound="KitSettings")

#: Where SQLite files and other local state live during development.
VAR_DIR = Path.cwd() / "var"


class ConfigError(RuntimeError):
    """A setting in the environment is missing or malformed."""


class KitSettings(BaseSettings):
    """Settings every component shares. Field aliases are the environment names."""

    model_config = SettingsConfigDict(populate_by_name=True, extra="ignore", frozen=True)

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = Field(
        "INFO", validation_alias="LOG_LEVEL"
    )
    log_format: Literal["json", "console"] = Field("json", validation_alias="LOG_FORMAT")
    max_body_bytes: int = Field(1024 * 1024, gt=0, validation_alias="MAX_BODY_BYTES")
    #: When set, ``/health/ready`` also checks the broker (the worker has its own default).
    amqp_url: str | None = Field(None, validation_alias="AMQP_URL")


def load_settings(cls: type[S], **overrides: object) -> S:
    """Build ``cls`` from the environment (and ``overrides``), failing fast and clearly."""
    try:
        return cls(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            field = str(err["loc"][0]) if err["loc"] else "?"
            info = cls.model_fields.get(field)
            name = info.validation_alias if info and isinstance(info.validation_alias, str) else field
            lines.append(f"  {name}: {err['msg']} (got {err.get('input')!r})")
        raise ConfigError(f"invalid {cls.__name__} settings:\n" + "\n".join(lines)) from None


def sqlite_url(name: str) -> str:
    """The development default database: ``var/<name>.db`` under the working directory."""
    return f"sqlite:///{VAR_DIR / (name + '.db')}"
