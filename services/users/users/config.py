"""Users' settings, from the environment (the ``JWT_*`` ones come from the kit)."""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator

from flotilla.auth import AuthSettings
from flotilla.settings import ConfigError, sqlite_url
from users.model import normalise_email


class UsersSettings(AuthSettings):
    database_url: str = Field(default_factory=lambda: sqlite_url("users"),
                              validation_alias="USERS_DATABASE_URL")
    refresh_ttl: int = Field(30 * 86_400, gt=0, validation_alias="USERS_REFRESH_TTL")
    #: An admin account made (or promoted) at start-up when both are set.
    admin_email: str | None = Field(None, validation_alias="FLOTILLA_ADMIN_EMAIL")
    admin_password: SecretStr | None = Field(None, validation_alias="FLOTILLA_ADMIN_PASSWORD")
    # argon2id: OWASP's second recommended set (docs/decisions/0010-users-argon2id-parameters.md).
    argon2_time_cost: int = Field(2, ge=1, validation_alias="ARGON2_TIME_COST")
    argon2_memory_kib: int = Field(19_456, ge=8_192, validation_alias="ARGON2_MEMORY_KIB")
    argon2_parallelism: int = Field(1, ge=1, validation_alias="ARGON2_PARALLELISM")
    # Login throttling, counted in the users database so every worker sees the same numbers.
    login_window: int = Field(900, gt=0, validation_alias="LOGIN_THROTTLE_WINDOW")
    login_max_failures_per_account: int = Field(5, gt=0, validation_alias="LOGIN_MAX_FAILURES_PER_ACCOUNT")
    login_max_failures_per_address: int = Field(20, gt=0, validation_alias="LOGIN_MAX_FAILURES_PER_ADDRESS")
    #: How many proxies in front of us set X-Forwarded-For (0: use the peer address).
    trusted_proxies: int = Field(0, ge=0, le=5, validation_alias="USERS_TRUSTED_PROXIES")
    #: ...counted only when the connecting peer is one of these addresses/CIDRs (set_real_ip_from).
    trusted_proxy_addresses: str = Field("127.0.0.1,::1", validation_alias="USERS_TRUSTED_PROXY_ADDRESSES")

    @field_validator("admin_email")
    @classmethod
    def _an_email(cls, value: str | None) -> str | None:
        return normalise_email(value) if value else None

    def admin_credentials(self) -> tuple[str, str] | None:
        """The start-up admin's email and password, when both are set.

        Checked here rather than by a validator, whose error would echo the password.
        """
        if not (self.admin_email and self.admin_password):
            return None
        password = self.admin_password.get_secret_value()
        if not 10 <= len(password) <= 128:
            raise ConfigError("invalid UsersSettings settings:\n  FLOTILLA_ADMIN_PASSWORD: must be 10 to "
                              "128 characters, like any password")
        return self.admin_email, password
