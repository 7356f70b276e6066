"""Throttle guessing: failed attempts per key in a fixed window, counted atomically.

An attempt is counted *before* the secret is checked (one ``INSERT … ON CONFLICT DO UPDATE``
per key, serialised by the row lock), so parallel guesses cannot all pass a check made before
any of them was counted.  A refused or successful attempt gives its place back; what stays
counted is the number of failed attempts that were actually evaluated.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from ..models import ThrottleCounter


@dataclass(frozen=True)
class Limit:
    """At most ``max_attempts`` failures per key within ``window``."""

    scope: str
    max_attempts: int
    window: timedelta = timedelta(minutes=15)

    def key(self, value: str) -> str:
        """The counter key for ``value`` (a username, an address)."""
        return f"{self.scope}:{value}"[:200]


#: Per account: one person guessing one account's password.
ACCOUNT = Limit("account", 10)
#: Per client address: higher, because many people can share one address (a proxy, an office).
ADDRESS = Limit("address", 50)
#: Open311 api_key guesses per client address.
OPEN311_KEY = Limit("open311-key", 20)


def reserve(session: Session, attempts: list[tuple[Limit, str]]) -> int | None:
    """Count one attempt against each (limit, value); None if allowed, else seconds to wait.

    When refused, every count this call made is given back.  The caller commits either way,
    right away, so that concurrent attempts see the count.
    """
    taken: list[tuple[Limit, str]] = []
    for limit, value in attempts:
        key = limit.key(value)
        expired = ThrottleCounter.window_start < sa.func.now() - limit.window
        stmt = insert(ThrottleCounter).values(key=key, window_start=sa.func.now(), attempts=1)
        stmt = stmt.on_conflict_do_update(
            index_elements=[ThrottleCounter.key],
            set_={
                "attempts": sa.case((expired, 1), else_=ThrottleCounter.attempts + 1),
                "window_start": sa.case((expired, sa.func.now()), else_=ThrottleCounter.window_start),
            },
        ).returning(ThrottleCounter.attempts, ThrottleCounter.window_start)
        count, start = session.execute(stmt).one()
        taken.append((limit, value))
        if count > limit.max_attempts:
            release(session, taken)
            wait = (start + limit.window - datetime.now(timezone.utc)).total_seconds()
            return max(1, math.ceil(wait))
    return None


def release(session: Session, attempts: list[tuple[Limit, str]]) -> None:
    """Give back one counted attempt per (limit, value): it succeeded or was refused."""
    keys = [limit.key(value) for limit, value in attempts]
    session.execute(
        sa.update(ThrottleCounter)
        .where(ThrottleCounter.key.in_(keys), ThrottleCounter.attempts > 0)
        .values(attempts=ThrottleCounter.attempts - 1)
    )
