"""Departments, users, API tokens and the audit log."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from geoalchemy2 import Geometry
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..config import ROLES
from .base import STORAGE_SRID, Base, TimestampMixin, utcnow


class Department(TimestampMixin, Base):
    """A handling department 专业部门 (water, drainage, municipal roads, ...)."""

    __tablename__ = "departments"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(32), unique=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    name_en: Mapped[str | None] = mapped_column(sa.String(100))
    district_code: Mapped[str] = mapped_column(sa.String(6), index=True)
    phone: Mapped[str | None] = mapped_column(sa.String(32))
    works_weekends: Mapped[bool] = mapped_column(default=False)
    active: Mapped[bool] = mapped_column(default=True)


class User(TimestampMixin, Base):
    """A person who signs in; exactly one role."""

    __tablename__ = "users"
    __table_args__ = (
        sa.CheckConstraint(
            "role IN (" + ", ".join(f"'{r}'" for r in ROLES) + ")", name="role_known"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(sa.String(64), unique=True)
    display_name: Mapped[str] = mapped_column(sa.String(100))
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    role: Mapped[str] = mapped_column(sa.String(20), index=True)
    department_id: Mapped[int | None] = mapped_column(sa.ForeignKey("departments.id"), index=True)
    district_code: Mapped[str] = mapped_column(sa.String(6), index=True)
    phone: Mapped[str | None] = mapped_column(sa.String(32))
    locale: Mapped[str | None] = mapped_column(sa.String(8))
    active: Mapped[bool] = mapped_column(default=True)
    on_duty: Mapped[bool] = mapped_column(default=True)
    last_position = mapped_column(Geometry("POINT", srid=STORAGE_SRID, spatial_index=True), nullable=True)
    last_position_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))

    department: Mapped[Department | None] = relationship()


class ApiToken(Base):
    """A bearer token for API clients; only its SHA-256 is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    label: Mapped[str | None] = mapped_column(sa.String(100))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    last_used_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    revoked: Mapped[bool] = mapped_column(default=False)

    user: Mapped[User] = relationship()


class AuditEntry(Base):
    """One write (or tax read): who did what to which entity, when."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(sa.Integer, index=True)
    actor: Mapped[str] = mapped_column(sa.String(64))
    role: Mapped[str | None] = mapped_column(sa.String(20))
    action: Mapped[str] = mapped_column(sa.String(64))
    entity: Mapped[str] = mapped_column(sa.String(64))
    entity_id: Mapped[str | None] = mapped_column(sa.String(64))
    detail: Mapped[dict | None] = mapped_column(JSONB)
    request_id: Mapped[str | None] = mapped_column(sa.String(64))
    ip: Mapped[str | None] = mapped_column(sa.String(64))
