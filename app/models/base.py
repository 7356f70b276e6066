"""Declarative base, naming convention and the storage SRID shared by every model."""

from __future__ import annotations

import os
from datetime import datetime, timezone

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

#: Projected metric CRS of every stored geometry (deployment setting, validated in config).
STORAGE_SRID = int(os.environ.get("CITYGRID_STORAGE_SRID") or 4547)

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """Timezone-aware now, for column defaults."""
    return datetime.now(timezone.utc)


class Base(DeclarativeBase):
    """Base of all models."""

    metadata = sa.MetaData(naming_convention=NAMING)


class TimestampMixin:
    """created_at / updated_at columns."""

    created_at: Mapped[datetime] = mapped_column(
        sa.DateTime(timezone=True), default=utcnow, server_default=sa.func.now()
    )
    updated_at: Mapped[datetime] = mapped_column(
        sa.DateTime(timezone=True), default=utcnow, onupdate=utcnow, server_default=sa.func.now()
    )
