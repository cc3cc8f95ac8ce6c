"""Users' settings: the start-up admin is checked without ever echoing its password."""

from __future__ import annotations

import pytest

from flotilla.settings import ConfigError, load_settings
from users.config import UsersSettings


def test_the_admin_email_is_normalised_and_checked():
    assert load_settings(UsersSettings, admin_email=" Root@Example.ORG").admin_email == "root@example.org"
    with pytest.raises(ConfigError, match="FLOTILLA_ADMIN_EMAIL"):
        load_settings(UsersSettings, admin_email="not-an-email")


def test_a_short_admin_password_stops_start_up_without_showing_it():
    settings = load_settings(UsersSettings, admin_email="a@b.org", admin_password="tiny-pw")
    with pytest.raises(ConfigError, match="FLOTILLA_ADMIN_PASSWORD") as caught:
        settings.admin_credentials()
    assert "tiny-pw" not in str(caught.value)
    assert "tiny-pw" not in repr(settings)


def test_no_admin_unless_both_are_set():
    assert load_settings(UsersSettings, admin_email="a@b.org").admin_credentials() is None
    both = load_settings(UsersSettings, admin_email="a@b.org", admin_password="long enough")
    assert both.admin_credentials() == ("a@b.org", "long enough")
