"""Users: accounts, passwords, tokens and signing keys."""
