"""Server-side sign-in sessions and the counters that throttle guessing."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, utcnow


class UserSession(Base):
    """One signed-in browser; the signed cookie only names it, this row decides validity."""

    __tablename__ = "user_sessions"

    #: Random, 43 URL-safe characters (secrets.token_urlsafe(32)).
    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(
        sa.DateTime(timezone=True), default=utcnow, server_default=sa.func.now()
    )
    last_seen_at: Mapped[datetime] = mapped_column(
        sa.DateTime(timezone=True), default=utcnow, server_default=sa.func.now()
    )
    expires_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    #: Why it ended: logout, password, deactivated.
    end_reason: Mapped[str | None] = mapped_column(sa.String(32))
    ip: Mapped[str | None] = mapped_column(sa.String(64))
    user_agent: Mapped[str | None] = mapped_column(sa.String(255))


class ThrottleCounter(Base):
    """Failed attempts for one key (an account, or a client address) in a fixed window.

    Updated with one ``INSERT … ON CONFLICT DO UPDATE`` per attempt, so concurrent attempts
    are counted one after another by the row lock.
    """

    __tablename__ = "throttle_counters"

    #: ``scope:value``, e.g. ``account:inspector1`` or ``address:10.0.0.7``.
    key: Mapped[str] = mapped_column(sa.String(200), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(sa.Integer)
