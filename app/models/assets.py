"""City assets on the grid: video access points, pipelines, buildings, management components, roads.

Every table carries ``district_code`` (DESIGN §8: rows distribute by district) and the
``cell_code`` the asset falls in, computed on write from its geometry.
"""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from geoalchemy2 import Geometry
from sqlalchemy.orm import Mapped, mapped_column

from .base import STORAGE_SRID, Base, TimestampMixin

CAMERA_STATUSES = ("online", "offline", "fault", "retired")
BUILDING_USES = ("residential", "office", "commercial", "school", "hospital", "market",
                 "industrial", "public", "mixed", "other")
COMPONENT_STATUSES = ("intact", "damaged", "missing", "abandoned", "removed")
#: Urban road classes of CJJ 37-2012 (2016) §3.1 — 快速路, 主干路, 次干路, 支路 — plus the lanes
#: and alleys 街巷 below 支路 that a street map still needs to name.
ROAD_CLASSES = ("expressway", "arterial", "secondary", "branch", "alley")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Building(TimestampMixin, Base):
    """A building 楼宇: footprint polygon with its descriptive attributes."""

    __tablename__ = "buildings"
    __table_args__ = (
        sa.CheckConstraint("ST_IsValid(geom)", name="geom_valid"),
        sa.CheckConstraint("floors IS NULL OR floors >= 0", name="floors_nonnegative"),
        sa.CheckConstraint("underground_floors >= 0", name="underground_nonnegative"),
        sa.CheckConstraint("height_m IS NULL OR height_m >= 0", name="height_nonnegative"),
        sa.CheckConstraint("gross_floor_area_m2 IS NULL OR gross_floor_area_m2 >= 0",
                           name="gfa_nonnegative"),
        sa.CheckConstraint(_in("use", BUILDING_USES), name="use_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(32), unique=True)
    district_code: Mapped[str] = mapped_column(sa.String(6), index=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    address: Mapped[str | None] = mapped_column(sa.String(255))
    floors: Mapped[int | None] = mapped_column(sa.SmallInteger)
    underground_floors: Mapped[int] = mapped_column(sa.SmallInteger, default=0, server_default="0")
    height_m: Mapped[float | None] = mapped_column(sa.Float)
    gross_floor_area_m2: Mapped[float | None] = mapped_column(sa.Float)
    use: Mapped[str] = mapped_column(sa.String(16), default="other")
    build_year: Mapped[int | None] = mapped_column(sa.SmallInteger)
    cell_code: Mapped[str | None] = mapped_column(sa.String(15), index=True)
    geom = mapped_column(Geometry("MULTIPOLYGON", srid=STORAGE_SRID, spatial_index=True), nullable=False)


class Camera(TimestampMixin, Base):
    """A video access point with its GB/T 28181 device id and a stored field-of-view polygon."""

    __tablename__ = "cameras"
    __table_args__ = (
        sa.CheckConstraint("device_id ~ '^[0-9]{20}$'", name="device_id_digits"),
        sa.CheckConstraint("azimuth_deg >= 0 AND azimuth_deg <= 360", name="azimuth_range"),
        sa.CheckConstraint("hfov_deg > 0 AND hfov_deg <= 360", name="hfov_range"),
        sa.CheckConstraint("range_m > 0", name="range_positive"),
        sa.CheckConstraint("height_m IS NULL OR height_m >= 0", name="height_nonnegative"),
        sa.CheckConstraint("ptz_type IS NULL OR ptz_type BETWEEN 1 AND 7", name="ptz_type_known"),
        sa.CheckConstraint(_in("status", CAMERA_STATUSES), name="status_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    device_id: Mapped[str] = mapped_column(sa.String(20), unique=True)
    district_code: Mapped[str] = mapped_column(sa.String(6), index=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    address: Mapped[str | None] = mapped_column(sa.String(255))
    height_m: Mapped[float | None] = mapped_column(sa.Float)
    azimuth_deg: Mapped[float] = mapped_column(sa.Float)
    hfov_deg: Mapped[float] = mapped_column(sa.Float)
    range_m: Mapped[float] = mapped_column(sa.Float)
    ptz_type: Mapped[int | None] = mapped_column(sa.SmallInteger)
    status: Mapped[str] = mapped_column(sa.String(10), default="online")
    stream_url: Mapped[str | None] = mapped_column(sa.String(500))
    occluded: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    cell_code: Mapped[str | None] = mapped_column(sa.String(15), index=True)
    geom = mapped_column(Geometry("POINT", srid=STORAGE_SRID, spatial_index=True), nullable=False)
    fov = mapped_column(Geometry("POLYGON", srid=STORAGE_SRID, spatial_index=True), nullable=False)


class PipelineClass(Base):
    """CJJ 61-2017 Appendix B pipeline class / subclass with its standard colour (seed data)."""

    __tablename__ = "pipeline_classes"

    class_abbr: Mapped[str] = mapped_column(sa.String(4), primary_key=True)
    subclass_abbr: Mapped[str] = mapped_column(sa.String(4), primary_key=True)
    class_code: Mapped[int] = mapped_column(sa.SmallInteger)
    class_name: Mapped[str] = mapped_column(sa.String(20))
    subclass_name: Mapped[str] = mapped_column(sa.String(20))
    color_name: Mapped[str] = mapped_column(sa.String(10))
    rgb: Mapped[str] = mapped_column(sa.String(11))


class PipelineMaterial(Base):
    """CJJ 61-2017 Table C.0.1 material code (seed data)."""

    __tablename__ = "pipeline_materials"

    code: Mapped[str] = mapped_column(sa.String(4), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(20))


class PipelineBurial(Base):
    """CJJ 61-2017 Table C.0.2 burial (laying) method code (seed data)."""

    __tablename__ = "pipeline_burials"

    code: Mapped[str] = mapped_column(sa.String(4), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(20))


class Pipeline(TimestampMixin, Base):
    """An underground pipeline segment 管线段 between two survey points."""

    __tablename__ = "pipelines"
    __table_args__ = (
        sa.ForeignKeyConstraint(["class_abbr", "subclass_abbr"],
                                ["pipeline_classes.class_abbr", "pipeline_classes.subclass_abbr"],
                                name="fk_pipelines_class_pipeline_classes"),
        sa.CheckConstraint("start_depth_m >= 0 AND end_depth_m >= 0", name="depth_nonnegative"),
        sa.CheckConstraint("diameter_mm IS NULL OR diameter_mm > 0", name="diameter_positive"),
        sa.CheckConstraint("pressure_mpa IS NULL OR pressure_mpa >= 0", name="pressure_nonnegative"),
        sa.CheckConstraint("voltage_kv IS NULL OR voltage_kv >= 0", name="voltage_nonnegative"),
        sa.CheckConstraint("NOT ST_IsEmpty(geom) AND ST_Length(geom) > 0", name="geom_has_length"),
        sa.Index("ix_pipelines_class", "class_abbr", "subclass_abbr"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(40), unique=True)
    district_code: Mapped[str] = mapped_column(sa.String(6), index=True)
    class_abbr: Mapped[str] = mapped_column(sa.String(4))
    subclass_abbr: Mapped[str] = mapped_column(sa.String(4))
    material_code: Mapped[str | None] = mapped_column(sa.ForeignKey("pipeline_materials.code"))
    burial_code: Mapped[str | None] = mapped_column(sa.ForeignKey("pipeline_burials.code"))
    diameter_mm: Mapped[float | None] = mapped_column(sa.Float)
    section: Mapped[str | None] = mapped_column(sa.String(20))  # e.g. "400x300" for ducts
    start_depth_m: Mapped[float] = mapped_column(sa.Float)
    end_depth_m: Mapped[float] = mapped_column(sa.Float)
    build_year: Mapped[int | None] = mapped_column(sa.SmallInteger)
    owner: Mapped[str | None] = mapped_column(sa.String(200))
    pressure_mpa: Mapped[float | None] = mapped_column(sa.Float)
    voltage_kv: Mapped[float | None] = mapped_column(sa.Float)
    status: Mapped[str] = mapped_column(sa.String(10), default="in_use")
    # The cell holding the segment's midpoint (a line may cross several cells).
    cell_code: Mapped[str | None] = mapped_column(sa.String(15), index=True)
    geom = mapped_column(Geometry("LINESTRING", srid=STORAGE_SRID, spatial_index=True), nullable=False)


class Road(TimestampMixin, Base):
    """A road 道路 centreline with its name, CJJ 37 class and width: the base map's streets."""

    __tablename__ = "roads"
    __table_args__ = (
        sa.CheckConstraint(_in("road_class", ROAD_CLASSES), name="class_known"),
        sa.CheckConstraint("width_m > 0", name="width_positive"),
        sa.CheckConstraint("lanes IS NULL OR lanes > 0", name="lanes_positive"),
        sa.CheckConstraint("NOT ST_IsEmpty(geom) AND ST_Length(geom) > 0", name="geom_has_length"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(32), unique=True)
    district_code: Mapped[str] = mapped_column(sa.String(6), index=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    name_en: Mapped[str | None] = mapped_column(sa.String(200))
    road_class: Mapped[str] = mapped_column(sa.String(12))
    width_m: Mapped[float] = mapped_column(sa.Float)
    lanes: Mapped[int | None] = mapped_column(sa.SmallInteger)
    one_way: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    # The cell holding the road's midpoint, as for pipelines (a road crosses many cells).
    cell_code: Mapped[str | None] = mapped_column(sa.String(15), index=True)
    geom = mapped_column(Geometry("MULTILINESTRING", srid=STORAGE_SRID, spatial_index=True), nullable=False)


class Component(TimestampMixin, Base):
    """A management component 管理部件 with its 17-digit (2026) or 16-digit (legacy) id."""

    __tablename__ = "components"
    __table_args__ = (
        sa.CheckConstraint("component_id ~ '^[0-9]{16,17}$'", name="component_id_digits"),
        sa.CheckConstraint(_in("status", COMPONENT_STATUSES), name="status_known"),
        sa.CheckConstraint("GeometryType(geom) IN ('POINT', 'LINESTRING')", name="geom_point_or_line"),
        sa.Index("ix_components_category", "category_id"),
    )

    id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    component_id: Mapped[str] = mapped_column(sa.String(17), unique=True)
    district_code: Mapped[str] = mapped_column(sa.String(6), index=True)
    category_id: Mapped[int] = mapped_column(sa.ForeignKey("categories.id"))
    category_code: Mapped[str] = mapped_column(sa.String(8))
    standard_ref: Mapped[str] = mapped_column(sa.String(64))
    name: Mapped[str] = mapped_column(sa.String(100))
    status: Mapped[str] = mapped_column(sa.String(10), default="intact")
    owner_department_id: Mapped[int | None] = mapped_column(sa.ForeignKey("departments.id"))
    maintainer_department_id: Mapped[int | None] = mapped_column(sa.ForeignKey("departments.id"))
    owner_name: Mapped[str | None] = mapped_column(sa.String(100))
    maintainer_name: Mapped[str | None] = mapped_column(sa.String(100))
    cell_code: Mapped[str | None] = mapped_column(sa.String(15), index=True)
    building_id: Mapped[int | None] = mapped_column(sa.ForeignKey("buildings.id", ondelete="SET NULL"),
                                                    index=True)
    surveyed_on: Mapped[date | None] = mapped_column(sa.Date)
    changed_on: Mapped[date | None] = mapped_column(sa.Date)
    data_source: Mapped[str | None] = mapped_column(sa.String(30))
    note: Mapped[str | None] = mapped_column(sa.Text)
    geom = mapped_column(Geometry("GEOMETRY", srid=STORAGE_SRID, spatial_index=True), nullable=False)


class ComponentSerial(Base):
    """The highest component serial ever used per district + class: identifiers are never reused."""

    __tablename__ = "component_serials"

    district_code: Mapped[str] = mapped_column(sa.String(6), primary_key=True)
    class_code: Mapped[str] = mapped_column(sa.String(8), primary_key=True)
    last_serial: Mapped[int] = mapped_column(sa.Integer)
