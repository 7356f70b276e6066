"""The grid hierarchy: district → street → community → unit grid cell, and duty grids."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from geoalchemy2 import Geometry
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import STORAGE_SRID, Base, TimestampMixin


class District(TimestampMixin, Base):
    """The district (区) the deployment manages; 6-digit admin code."""

    __tablename__ = "districts"

    code: Mapped[str] = mapped_column(sa.String(6), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    code_is_placeholder: Mapped[bool] = mapped_column(default=False)
    geom = mapped_column(Geometry("MULTIPOLYGON", srid=STORAGE_SRID, spatial_index=True), nullable=True)


class Street(TimestampMixin, Base):
    """A street 街道 (9-digit code = district + 3)."""

    __tablename__ = "streets"

    code: Mapped[str] = mapped_column(sa.String(9), primary_key=True)
    district_code: Mapped[str] = mapped_column(sa.ForeignKey("districts.code"), index=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    geom = mapped_column(Geometry("MULTIPOLYGON", srid=STORAGE_SRID, spatial_index=True), nullable=False)

    communities: Mapped[list[Community]] = relationship(back_populates="street")


class Community(TimestampMixin, Base):
    """A community 社区 (12-digit code = street + 3)."""

    __tablename__ = "communities"

    code: Mapped[str] = mapped_column(sa.String(12), primary_key=True)
    street_code: Mapped[str] = mapped_column(sa.ForeignKey("streets.code"), index=True)
    district_code: Mapped[str] = mapped_column(sa.String(6), index=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    geom = mapped_column(Geometry("MULTIPOLYGON", srid=STORAGE_SRID, spatial_index=True), nullable=False)

    street: Mapped[Street] = relationship(back_populates="communities")


class Cell(TimestampMixin, Base):
    """A unit grid cell 单元网格 (15-digit code); codes are never reused.

    A retired cell keeps its row with ``valid_to`` set; the unique constraint on ``code``
    spans all time, so a code cannot come back.
    """

    __tablename__ = "cells"
    __table_args__ = (
        sa.CheckConstraint("code ~ '^[0-9]{15}$'", name="code_digits"),
        sa.CheckConstraint("valid_to IS NULL OR valid_to >= valid_from", name="valid_range"),
        sa.CheckConstraint("ST_IsValid(geom)", name="geom_valid"),
        sa.Index("ix_cells_current", "code", postgresql_where=sa.text("valid_to IS NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(15), unique=True)
    district_code: Mapped[str] = mapped_column(sa.String(6), index=True)
    street_code: Mapped[str] = mapped_column(sa.String(9), index=True)
    community_code: Mapped[str] = mapped_column(sa.ForeignKey("communities.code"), index=True)
    serial: Mapped[str] = mapped_column(sa.String(3))
    name: Mapped[str | None] = mapped_column(sa.String(100))
    area_m2: Mapped[float] = mapped_column(sa.Float)
    area_class: Mapped[int] = mapped_column(sa.SmallInteger, default=1)  # 一类/二类区域
    land_use: Mapped[str | None] = mapped_column(sa.String(40))
    valid_from: Mapped[date] = mapped_column(sa.Date, default=date.today)
    valid_to: Mapped[date | None] = mapped_column(sa.Date)
    note: Mapped[str | None] = mapped_column(sa.Text)
    geom = mapped_column(Geometry("MULTIPOLYGON", srid=STORAGE_SRID, spatial_index=True), nullable=False)


class DutyGrid(TimestampMixin, Base):
    """A duty grid 责任网格: a set of cells patrolled by one inspector."""

    __tablename__ = "duty_grids"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(32), unique=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    district_code: Mapped[str] = mapped_column(sa.String(6), index=True)
    inspector_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"), index=True)
    geom = mapped_column(Geometry("MULTIPOLYGON", srid=STORAGE_SRID, spatial_index=True), nullable=True)

    inspector = relationship("User", foreign_keys=[inspector_id])


class DutyGridCell(Base):
    """Membership of a cell in a duty grid; a current cell is in at most one duty grid."""

    __tablename__ = "duty_grid_cells"

    duty_grid_id: Mapped[int] = mapped_column(
        sa.ForeignKey("duty_grids.id", ondelete="CASCADE"), primary_key=True
    )
    cell_code: Mapped[str] = mapped_column(sa.ForeignKey("cells.code"), primary_key=True, unique=True)
