"""limits' in-memory storage, made safe for gunicorn's threads.

``limits.storage.MemoryStorage`` (5.8) races under threads: two requests can both find
its expiry timer stopped and both start the same new one ("threads can only be started
once", a 500), and its expiry pass drops per-key locks other threads hold. One lock
around every operation fixes both; the work under it is a few list operations.
Registered as ``flotilla-memory://`` (limits finds storages by scheme).
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

from limits.storage import MemoryStorage

_GUARDED = ("incr", "decr", "get", "clear", "acquire_entry", "get_expiry", "get_moving_window",
            "acquire_sliding_window_entry", "get_sliding_window", "clear_sliding_window", "reset",
            "_MemoryStorage__expire_events", "_MemoryStorage__schedule_expiry")


def _guarded(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def locked(self: ThreadSafeMemoryStorage, *args: Any, **kwargs: Any) -> Any:
        with self._flotilla_lock:
            return method(self, *args, **kwargs)

    return locked


class ThreadSafeMemoryStorage(MemoryStorage):
    STORAGE_SCHEME = ["flotilla-memory"]

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options: str) -> None:
        self._flotilla_lock = threading.RLock()
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)


for _name in _GUARDED:
    setattr(ThreadSafeMemoryStorage, _name, _guarded(getattr(MemoryStorage, _name)))
