"""Reference tables of the case loop: categories, time limits, routing rules, working calendar."""

from __future__ import annotations

from datetime import date, time

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, TimestampMixin
from .org import Department

KINDS = ("component", "event")
URGENCIES = ("normal", "urgent")
STAGES = ("accept", "verify", "file", "dispatch", "handle", "send_check", "check", "close")
LIMIT_UNITS = ("minutes", "hours", "working_hours", "working_days")


class Category(TimestampMixin, Base):
    """A 部件 (component) or 事件/事项 (event) class of one classification standard."""

    __tablename__ = "categories"
    __table_args__ = (
        sa.UniqueConstraint("standard_ref", "kind", "code", name="uq_categories_standard_kind_code"),
        sa.CheckConstraint("kind IN ('component', 'event')", name="kind_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    standard_ref: Mapped[str] = mapped_column(sa.String(64), index=True)
    kind: Mapped[str] = mapped_column(sa.String(10))
    code: Mapped[str] = mapped_column(sa.String(8))
    major_code: Mapped[str] = mapped_column(sa.String(2))
    major_name: Mapped[str] = mapped_column(sa.String(50))
    name: Mapped[str] = mapped_column(sa.String(100))
    name_en: Mapped[str | None] = mapped_column(sa.String(150))
    local_code: Mapped[str | None] = mapped_column(sa.String(16))
    default_department_id: Mapped[int | None] = mapped_column(sa.ForeignKey("departments.id"))
    auto_dispatch: Mapped[bool] = mapped_column(default=False)
    duplicate_radius_m: Mapped[float] = mapped_column(sa.Float, default=30.0)
    enabled: Mapped[bool] = mapped_column(default=True)

    default_department: Mapped[Department | None] = relationship()

    @property
    def full_code(self) -> str:
        """Kind-qualified code, unique within one standard (component and event codes overlap)."""
        return f"{'C' if self.kind == 'component' else 'E'}{self.code}"


class TimeLimit(TimestampMixin, Base):
    """A stage time limit; ``category_id`` NULL is the default for every category."""

    __tablename__ = "time_limits"
    __table_args__ = (
        sa.UniqueConstraint("category_id", "stage", "urgency", "area_class", name="uq_time_limits_key"),
        sa.CheckConstraint("limit_value >= 0", name="value_positive"),
        sa.CheckConstraint(
            "limit_unit IN ('minutes', 'hours', 'working_hours', 'working_days')", name="unit_known"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    category_id: Mapped[int | None] = mapped_column(sa.ForeignKey("categories.id", ondelete="CASCADE"), index=True)
    stage: Mapped[str] = mapped_column(sa.String(16))
    urgency: Mapped[str] = mapped_column(sa.String(10), default="normal")
    area_class: Mapped[int | None] = mapped_column(sa.SmallInteger)
    limit_value: Mapped[float] = mapped_column(sa.Float)
    limit_unit: Mapped[str] = mapped_column(sa.String(16))
    source: Mapped[str | None] = mapped_column(sa.Text)


class RoutingRule(TimestampMixin, Base):
    """Category × area → department; the most specific matching rule wins."""

    __tablename__ = "routing_rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    category_id: Mapped[int | None] = mapped_column(sa.ForeignKey("categories.id", ondelete="CASCADE"), index=True)
    department_id: Mapped[int] = mapped_column(sa.ForeignKey("departments.id"))
    street_code: Mapped[str | None] = mapped_column(sa.String(9))
    community_code: Mapped[str | None] = mapped_column(sa.String(12))
    cell_codes: Mapped[list[str] | None] = mapped_column(ARRAY(sa.String(15)))
    note: Mapped[str | None] = mapped_column(sa.Text)

    department: Mapped[Department] = relationship()


class WorkWindow(Base):
    """A working-time window on a weekday (0 = Monday)."""

    __tablename__ = "work_windows"
    __table_args__ = (sa.CheckConstraint("starts < ends", name="ordered"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    weekday: Mapped[int] = mapped_column(sa.SmallInteger)
    starts: Mapped[time] = mapped_column(sa.Time)
    ends: Mapped[time] = mapped_column(sa.Time)


class CalendarDay(Base):
    """A public holiday (rest day) or a make-up working day (调休上班)."""

    __tablename__ = "calendar_days"
    __table_args__ = (sa.CheckConstraint("kind IN ('holiday', 'workday')", name="kind_known"),)

    day: Mapped[date] = mapped_column(sa.Date, primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(8))
    name: Mapped[str] = mapped_column(sa.String(50))
    source: Mapped[str | None] = mapped_column(sa.Text)
