"""Password hashing with argon2id (docs/decisions/0010-users-argon2id-parameters.md)."""

from __future__ import annotations

import secrets

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError


class Passwords:
    """Hash, verify and tell when a stored hash was made with older parameters."""

    def __init__(self, time_cost: int = 2, memory_kib: int = 19_456, parallelism: int = 1) -> None:
        self._hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib,
                                      parallelism=parallelism, hash_len=32, salt_len=16, type=Type.ID)
        # Verified against when the email is unknown, so that answer takes as long as a wrong
        # password does (no account enumeration by timing).
        self._decoy = self._hasher.hash(secrets.token_urlsafe(16))

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, password_hash: str | None, password: str) -> bool:
        """Whether ``password`` matches; ``None`` (no such account) costs the same and is False."""
        try:
            matched = self._hasher.verify(password_hash or self._decoy, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
        return bool(matched) and password_hash is not None

    def needs_rehash(self, password_hash: str) -> bool:
        try:
            return self._hasher.check_needs_rehash(password_hash)
        except InvalidHashError:
            return True
