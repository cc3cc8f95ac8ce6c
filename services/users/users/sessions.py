"""Logging in, refreshing and logging out: the session use cases."""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

from flotilla.db import utcnow
from flotilla.unit_of_work import UnitOfWorkFactory
from users import metrics
from users.model import InvalidCredentials, InvalidRefreshToken, LoginThrottled, normalise_email
from users.passwords import Passwords
from users.repository import UnitOfWork
from users.signing import TokenIssuer, TokenPair, hash_refresh_token
from users.throttle import Limit, LoginThrottle, account_key, address_key

log = logging.getLogger(__name__)


class Sessions:
    def __init__(self, uow: UnitOfWorkFactory[UnitOfWork], passwords: Passwords, issuer: TokenIssuer, *,
                 window: int = 900, per_account: int = 5, per_address: int = 20) -> None:
        self.uow = uow
        self.passwords = passwords
        self.issuer = issuer
        self.throttle = LoginThrottle(timedelta(seconds=window))
        self.per_account = per_account
        self.per_address = per_address

    def login(self, email: str, password: str, address: str) -> TokenPair:
        """Tokens for a good email and password; the same ``InvalidCredentials`` for anything else."""
        try:
            email = normalise_email(email)
        except ValueError:
            email = email.strip().lower()  # cannot exist; still counted and still as slow
        account, addr = account_key(email), address_key(address)
        try:
            with self.uow(write=True) as uow:
                self.throttle.admit(uow.login_failures, [Limit(account, self.per_account),
                                                         Limit(addr, self.per_address)], utcnow())
        except LoginThrottled:
            metrics.throttled()
            raise
        with self.uow() as uow:
            user = uow.users.by_email(email)
        if not self.passwords.verify(user.password_hash if user else None, password) or user is None:
            metrics.failed()
            raise InvalidCredentials()
        assert user.password_hash is not None
        new_hash = self.passwords.hash(password) if self.passwords.needs_rehash(user.password_hash) else None
        with self.uow(write=True) as uow:
            self.throttle.succeeded(uow.login_failures, account, addr, utcnow())
            current = uow.users.get(user.id, for_update=True)
            if current is None:  # erased between the two transactions
                raise InvalidCredentials()
            if new_hash:
                current.change_password_hash(new_hash)
                log.info("password hash of user %s upgraded to the current parameters", user.id)
            return self.issuer.issue(uow, current)

    def refresh(self, secret: str) -> TokenPair:
        """Spend a refresh token for a new pair. A spent one revokes its whole family."""
        reused_family: uuid.UUID | None = None
        with self.uow(write=True) as uow:
            token = uow.refresh_tokens.by_hash(hash_refresh_token(secret))
            if token is None or token.is_expired:
                raise InvalidRefreshToken()
            if token.was_used:
                reused_family = token.family_id
                uow.refresh_tokens.revoke_family(token.family_id)
            else:
                user = uow.users.get(token.user_id)
                if user is None:
                    raise InvalidRefreshToken()
                token.spend()
                return self.issuer.issue(uow, user, token.family_id)
        # Committed: the family stays revoked although the caller gets an error.
        metrics.revoked("reuse")
        log.warning("refresh token reused: family %s revoked", reused_family)
        raise InvalidRefreshToken()

    def logout(self, user_id: uuid.UUID, secret: str, access_token_id: str | None = None) -> None:
        """Revoke the refresh token's family, if it is the caller's, and the access token the
        logout was made with (``access_token_id``, its ``jti``); silent otherwise."""
        with self.uow(write=True) as uow:
            token = uow.refresh_tokens.by_hash(hash_refresh_token(secret))
            mine = token is not None and token.user_id == user_id
            if token is not None and mine:
                uow.refresh_tokens.revoke_family(token.family_id)
            if mine and access_token_id is not None:
                uow.revoked_access_tokens.add(
                    access_token_id, user_id,
                    utcnow() + timedelta(seconds=self.issuer.access_ttl + 60))
        if mine:
            metrics.revoked("logout")
