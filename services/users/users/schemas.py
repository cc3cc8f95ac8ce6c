"""Users' request and response bodies. No response model has a password or hash field."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from flotilla.schemas import display_name, plain_text
from users.model import normalise_email

Email = Annotated[str, StringConstraints(min_length=3, max_length=254), AfterValidator(plain_text),
                  AfterValidator(normalise_email)]
Password = Annotated[str, StringConstraints(min_length=10, max_length=128)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
                 AfterValidator(display_name)]
Secret = Annotated[str, StringConstraints(min_length=1, max_length=200), AfterValidator(plain_text)]


class StrictBody(BaseModel):
    """JSON bodies: exact types, no unknown fields."""

    model_config = ConfigDict(extra="forbid", strict=True)


class RegisterBody(StrictBody):
    email: Email
    password: Password
    name: Name


class LoginBody(StrictBody):
    # Not validated as an email: a malformed one is just a wrong login (401, not 422).
    # Control characters are refused (422) all the same: PostgreSQL cannot even compare a NUL.
    email: Annotated[str, StringConstraints(min_length=1, max_length=254), AfterValidator(plain_text)]
    password: Annotated[str, StringConstraints(min_length=1, max_length=128)]


class RefreshBody(StrictBody):
    refresh_token: Secret


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    email: str
    name: str
    roles: list[str]
    created_at: datetime


class TokenPairOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    access_token: str
    token_type: str = "Bearer"  # noqa: S105
    expires_in: int = Field(description="Seconds until the access token expires.")
    refresh_token: str


class UserPage(BaseModel):
    items: list[UserOut]
    next_cursor: uuid.UUID | None


class UserQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    limit: Annotated[int, Field(ge=1, le=100)] = 50
    cursor: uuid.UUID | None = None


class UserPath(BaseModel):
    user_id: uuid.UUID


class JwksOut(BaseModel):
    keys: list[dict[str, Any]]
