"""Users' request and response bodies. No response model has a password or hash field."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints
from pydantic.config import JsonDict

from flotilla.schemas import (
    DISPLAY_NAME_PATTERN,
    SINGLE_LINE_PATTERN,
    JsonSchemaPattern,
    display_name,
    plain_text,
)
from users.model import normalise_email

#: What ``normalise_email`` accepts, without the control characters ``plain_text`` refuses.
#: No ``format: email``: addresses with non-ASCII parts are accepted, which that format refuses.
_NOT = r"@\s\u0000-\u001f\u007f-\u009f\u061c\u200e-\u200f\u202a-\u202e\u2066-\u2069"
EMAIL_PATTERN = f"^[^{_NOT}]+@[^{_NOT}]+\\.[^.{_NOT}]+$"

Email = Annotated[str, StringConstraints(min_length=3, max_length=254), AfterValidator(plain_text),
                  AfterValidator(normalise_email), JsonSchemaPattern(EMAIL_PATTERN)]
Password = Annotated[str, StringConstraints(min_length=10, max_length=128)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
                 AfterValidator(display_name), JsonSchemaPattern(DISPLAY_NAME_PATTERN)]
Secret = Annotated[str, StringConstraints(min_length=1, max_length=200), AfterValidator(plain_text),
                   JsonSchemaPattern(SINGLE_LINE_PATTERN)]


_USER: JsonDict = {"id": "7d1c3e0e-8a1b-4c55-9f4e-3f0b6a2d9c11", "email": "ada@example.com",
                   "name": "Ada Lovelace", "roles": ["customer"], "created_at": "2026-12-01T09:30:00Z"}


class StrictBody(BaseModel):
    """JSON bodies: exact types, no unknown fields."""

    model_config = ConfigDict(extra="forbid", strict=True)


class RegisterBody(StrictBody):
    model_config = ConfigDict(json_schema_extra={"example": {
        "email": "ada@example.com", "password": "correct horse battery", "name": "Ada Lovelace"}})

    email: Email
    password: Password
    name: Name


class LoginBody(StrictBody):
    model_config = ConfigDict(json_schema_extra={"example": {"email": "ada@example.com",
                                                             "password": "correct horse battery"}})

    # Not validated as an email: a malformed one is just a wrong login (401, not 422).
    # Control characters are refused (422) all the same: PostgreSQL cannot even compare a NUL.
    email: Annotated[str, StringConstraints(min_length=1, max_length=254), AfterValidator(plain_text),
                     JsonSchemaPattern(SINGLE_LINE_PATTERN)]
    password: Annotated[str, StringConstraints(min_length=1, max_length=128)]


class RefreshBody(StrictBody):
    model_config = ConfigDict(json_schema_extra={"example": {"refresh_token": "p0bS8xq2...Zk"}})

    refresh_token: Secret


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True, json_schema_extra={"example": _USER})

    id: uuid.UUID
    email: str
    name: str
    roles: list[str]
    created_at: datetime


class TokenPairOut(BaseModel):
    model_config = ConfigDict(from_attributes=True, json_schema_extra={"example": {
        "access_token": "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiI3ZDFjIn0.c2ln", "token_type": "Bearer",
        "expires_in": 900, "refresh_token": "p0bS8xq2...Zk"}})

    access_token: str
    token_type: str = "Bearer"  # noqa: S105
    expires_in: int = Field(description="Seconds until the access token expires.")
    refresh_token: str


class UserPage(BaseModel):
    model_config = ConfigDict(json_schema_extra={"example": {"items": [_USER], "next_cursor": None}})

    items: list[UserOut]
    next_cursor: uuid.UUID | None


class UserQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    limit: Annotated[int, Field(ge=1, le=100)] = 50
    cursor: uuid.UUID | None = None


class UserPath(BaseModel):
    user_id: uuid.UUID


class JwksOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"example": {"keys": [
        {"kty": "RSA", "kid": "2026-12-01", "use": "sig", "alg": "RS256", "n": "0vx7ag...", "e": "AQAB"}]}})

    keys: list[dict[str, Any]]


class RevocationsOut(BaseModel):
    """Erased accounts, logged-out access tokens and revoked sessions still within a token's life."""

    model_config = ConfigDict(json_schema_extra={"example": {
        "users": [{"user_id": "7d1c3e0e-8a1b-4c55-9f4e-3f0b6a2d9c11", "not_before": 1767225600}],
        "tokens": [], "sessions": []}})

    users: list[dict[str, Any]] = Field(description="``user_id`` and ``not_before`` (epoch seconds).")
    tokens: list[str] = Field(description="Ids (``jti``) of logged-out access tokens.")
    sessions: list[str] = Field(description="Revoked refresh-token families.")
