"""Cases 案件, their events, photos, and idempotency records."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from geoalchemy2 import Geometry
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import STORAGE_SRID, Base, utcnow
from .catalog import Category
from .org import Department, User

SOURCES = ("inspector", "public", "hotline", "video", "sensor", "open311", "upper_platform")
STATES = (
    "reported", "verifying", "pending_filing", "filed", "dispatched", "processing", "suspended",
    "handled", "checking", "pending_close", "closed", "rejected", "voided",
)


class Case(Base):
    """A city-management case; its location is denormalised to cell/community/street codes."""

    __tablename__ = "cases"
    __table_args__ = (
        sa.CheckConstraint("source IN (" + ", ".join(f"'{s}'" for s in SOURCES) + ")", name="source_known"),
        sa.CheckConstraint("state IN (" + ", ".join(f"'{s}'" for s in STATES) + ")", name="state_known"),
        sa.Index("ix_cases_state_deadline", "state", "stage_deadline"),
        sa.Index("ix_cases_department_state", "department_id", "state"),
        sa.Index("ix_cases_category_reported", "category_id", "reported_at"),
        sa.Index("ix_cases_cell_reported", "cell_code", "reported_at"),
        sa.Index("ix_cases_reported_at", "reported_at"),
    )

    id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    number: Mapped[str] = mapped_column(sa.String(20), unique=True)
    district_code: Mapped[str] = mapped_column(sa.String(6), index=True)
    source: Mapped[str] = mapped_column(sa.String(16))
    kind: Mapped[str] = mapped_column(sa.String(10))
    category_id: Mapped[int] = mapped_column(sa.ForeignKey("categories.id"))
    category_code: Mapped[str] = mapped_column(sa.String(8))
    standard_ref: Mapped[str] = mapped_column(sa.String(64))
    urgency: Mapped[str] = mapped_column(sa.String(10), default="normal")
    description: Mapped[str] = mapped_column(sa.Text)
    address: Mapped[str | None] = mapped_column(sa.String(255))
    geom = mapped_column(Geometry("POINT", srid=STORAGE_SRID, spatial_index=True), nullable=False)
    cell_code: Mapped[str] = mapped_column(sa.String(15))
    community_code: Mapped[str] = mapped_column(sa.String(12), index=True)
    street_code: Mapped[str] = mapped_column(sa.String(9), index=True)
    area_class: Mapped[int] = mapped_column(sa.SmallInteger, default=1)
    state: Mapped[str] = mapped_column(sa.String(16))
    department_id: Mapped[int | None] = mapped_column(sa.ForeignKey("departments.id"))
    suggested_department_id: Mapped[int | None] = mapped_column(sa.ForeignKey("departments.id"))
    reporter_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"), index=True)
    # Contact details of a public reporter (Open311, hotline): never shown to departments.
    reporter_contact: Mapped[dict | None] = mapped_column(JSONB)
    assignee_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"), index=True)
    duplicate_of_id: Mapped[int | None] = mapped_column(sa.ForeignKey("cases.id"), index=True)
    self_handled: Mapped[bool] = mapped_column(default=False)
    camera_id: Mapped[str | None] = mapped_column(sa.String(20))
    # The management component a component case is about (snapped on intake, DESIGN §4).
    component_id: Mapped[int | None] = mapped_column(
        sa.BigInteger, sa.ForeignKey("components.id", ondelete="SET NULL"), index=True
    )
    pending_request: Mapped[dict | None] = mapped_column(JSONB)
    # Stage clock: the current stage's limit, its start and deadline; paused while suspended.
    stage: Mapped[str | None] = mapped_column(sa.String(16))
    stage_started_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    stage_deadline: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    stage_limit_unit: Mapped[str | None] = mapped_column(sa.String(16))
    # The stage's allowance in minutes of its unit's time (working or wall-clock), grown by
    # approved postponements; the light compares what is left of it to the deadline.
    stage_limit_minutes: Mapped[float | None] = mapped_column(sa.Float)
    handle_deadline: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    suspended_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    handled_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    postponements: Mapped[int] = mapped_column(default=0)
    postponed_minutes: Mapped[float] = mapped_column(sa.Float, default=0.0)
    reworks: Mapped[int] = mapped_column(default=0)
    returns: Mapped[int] = mapped_column(default=0)
    urges: Mapped[int] = mapped_column(default=0)
    close_type: Mapped[str | None] = mapped_column(sa.String(10))
    reported_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    filed_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    dispatched_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(default=1)

    # Optimistic locking: UPDATE … WHERE version = <the version read>; the service sets the
    # new version itself (one step per action), so a concurrent writer gets StaleDataError.
    __mapper_args__ = {"version_id_col": version, "version_id_generator": False}

    category: Mapped[Category] = relationship()
    department: Mapped[Department | None] = relationship(foreign_keys=[department_id])
    suggested_department: Mapped[Department | None] = relationship(foreign_keys=[suggested_department_id])
    reporter: Mapped[User | None] = relationship(foreign_keys=[reporter_id])
    assignee: Mapped[User | None] = relationship(foreign_keys=[assignee_id])


class CaseEvent(Base):
    """One action on a case: who, in which role, from which state to which, when, why."""

    __tablename__ = "case_events"
    __table_args__ = (sa.Index("ix_case_events_case_at", "case_id", "at"),)

    id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("cases.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(sa.Integer)
    actor: Mapped[str] = mapped_column(sa.String(64))
    role: Mapped[str | None] = mapped_column(sa.String(20))
    action: Mapped[str] = mapped_column(sa.String(32))
    from_state: Mapped[str | None] = mapped_column(sa.String(16))
    to_state: Mapped[str] = mapped_column(sa.String(16))
    note: Mapped[str | None] = mapped_column(sa.Text)
    data: Mapped[dict | None] = mapped_column(JSONB)


class CasePhoto(Base):
    """A photo kept outside the database (content-addressed by SHA-256)."""

    __tablename__ = "case_photos"

    id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    stage: Mapped[str] = mapped_column(sa.String(16))
    sha256: Mapped[str] = mapped_column(sa.String(64))
    content_type: Mapped[str] = mapped_column(sa.String(32))
    size_bytes: Mapped[int] = mapped_column(sa.Integer)
    width: Mapped[int] = mapped_column(sa.Integer)
    height: Mapped[int] = mapped_column(sa.Integer)
    exif: Mapped[dict | None] = mapped_column(JSONB)
    uploaded_by: Mapped[int | None] = mapped_column(sa.Integer)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)


class IdempotencyRecord(Base):
    """The first answer to a create request, replayed for retries with the same key."""

    __tablename__ = "idempotency_keys"

    user_id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    key: Mapped[str] = mapped_column(sa.String(128), primary_key=True)
    request_hash: Mapped[str] = mapped_column(sa.String(64))
    status: Mapped[int] = mapped_column(sa.SmallInteger)
    body: Mapped[dict] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)


class Open311Client(Base):
    """An Open311 API key (stored as SHA-256) and the user its requests are made as."""

    __tablename__ = "open311_clients"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    key_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
