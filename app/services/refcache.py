"""Short-lived per-process caches of reference rows read on every intake (categories, limits).

Admin edits clear the cache of the process that made them; other worker processes see the
change within ``TTL_S`` seconds.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Any

TTL_S = 60.0
_lock = threading.Lock()
_entries: dict[Hashable, tuple[float, Any]] = {}


def cached(key: Hashable, load: Callable[[], Any]) -> Any:
    """The value for ``key``, loading it when missing or older than ``TTL_S``."""
    now = time.monotonic()
    with _lock:
        hit = _entries.get(key)
    if hit is not None and now - hit[0] < TTL_S:
        return hit[1]
    value = load()
    with _lock:
        _entries[key] = (now, value)
    return value


def invalidate() -> None:
    """Forget everything (after an admin edit, and between tests)."""
    with _lock:
        _entries.clear()
