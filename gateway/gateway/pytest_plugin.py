"""Registered with pytest (entry point ``pytest11``) so the real ``gateway`` package is imported
before pytest collects ``gateway/tests``.

pytest's importlib mode names those test modules ``gateway.tests...`` (relative to the
repository root) and would otherwise build their parent ``gateway`` from the repository's
top-level ``gateway/`` folder, an empty namespace, hiding this package. Importing it first
makes pytest use it as the parent. See docs/decisions/0047-gateway-editable-install.md.
"""

import gateway  # noqa: F401
