"""[grid] PostGIS, grid hierarchy, duty grids, departments, users, tokens, audit log

Revision ID: 0001
Revises:
Create Date: 2026-11-26 16:00
"""

import os

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects.postgresql import JSONB

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# Frozen here on purpose: revisions never import models.  The SRID is a deployment
# setting fixed when the database is created.
SRID = int(os.environ.get("CITYGRID_STORAGE_SRID") or 4547)
ROLES = ("inspector", "operator", "shift_leader", "dispatcher", "department",
         "tax_officer", "leader", "admin")


def _ts():
    return [
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    ]


def _geom(kind, nullable=False):
    return sa.Column("geom", Geometry(kind, srid=SRID, spatial_index=False), nullable=nullable)


def _gist(table, column="geom"):
    op.create_index(f"idx_{table}_{column}", table, [column], postgresql_using="gist")


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS postgis")

    op.create_table(
        "districts",
        sa.Column("code", sa.String(6), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("code_is_placeholder", sa.Boolean, nullable=False, server_default=sa.false()),
        _geom("MULTIPOLYGON", nullable=True),
        *_ts(),
    )
    _gist("districts")

    op.create_table(
        "streets",
        sa.Column("code", sa.String(9), primary_key=True),
        sa.Column("district_code", sa.String(6), sa.ForeignKey("districts.code", name="fk_streets_district_code_districts"), nullable=False, index=True),
        sa.Column("name", sa.String(100), nullable=False),
        _geom("MULTIPOLYGON"),
        *_ts(),
    )
    _gist("streets")

    op.create_table(
        "communities",
        sa.Column("code", sa.String(12), primary_key=True),
        sa.Column("street_code", sa.String(9), sa.ForeignKey("streets.code", name="fk_communities_street_code_streets"), nullable=False, index=True),
        sa.Column("district_code", sa.String(6), nullable=False, index=True),
        sa.Column("name", sa.String(100), nullable=False),
        _geom("MULTIPOLYGON"),
        *_ts(),
    )
    _gist("communities")

    op.create_table(
        "cells",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("code", sa.String(15), nullable=False, unique=True),
        sa.Column("district_code", sa.String(6), nullable=False, index=True),
        sa.Column("street_code", sa.String(9), nullable=False, index=True),
        sa.Column("community_code", sa.String(12), sa.ForeignKey("communities.code", name="fk_cells_community_code_communities"), nullable=False, index=True),
        sa.Column("serial", sa.String(3), nullable=False),
        sa.Column("name", sa.String(100)),
        sa.Column("area_m2", sa.Float, nullable=False),
        sa.Column("area_class", sa.SmallInteger, nullable=False, server_default="1"),
        sa.Column("land_use", sa.String(40)),
        sa.Column("valid_from", sa.Date, nullable=False, server_default=sa.func.current_date()),
        sa.Column("valid_to", sa.Date),
        sa.Column("note", sa.Text),
        _geom("MULTIPOLYGON"),
        *_ts(),
        sa.CheckConstraint("code ~ '^[0-9]{15}$'", name="ck_cells_code_digits"),
        sa.CheckConstraint("valid_to IS NULL OR valid_to >= valid_from", name="ck_cells_valid_range"),
        sa.CheckConstraint("ST_IsValid(geom)", name="ck_cells_geom_valid"),
    )
    _gist("cells")
    op.create_index("ix_cells_current", "cells", ["code"], postgresql_where=sa.text("valid_to IS NULL"))

    op.create_table(
        "departments",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("code", sa.String(32), nullable=False, unique=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("name_en", sa.String(100)),
        sa.Column("district_code", sa.String(6), nullable=False, index=True),
        sa.Column("phone", sa.String(32)),
        sa.Column("works_weekends", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
        *_ts(),
    )

    op.create_table(
        "users",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("username", sa.String(64), nullable=False, unique=True),
        sa.Column("display_name", sa.String(100), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("role", sa.String(20), nullable=False, index=True),
        sa.Column("department_id", sa.Integer, sa.ForeignKey("departments.id", name="fk_users_department_id_departments"), index=True),
        sa.Column("district_code", sa.String(6), nullable=False, index=True),
        sa.Column("phone", sa.String(32)),
        sa.Column("locale", sa.String(8)),
        sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("on_duty", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("last_position", Geometry("POINT", srid=SRID, spatial_index=False)),
        sa.Column("last_position_at", sa.DateTime(timezone=True)),
        *_ts(),
        sa.CheckConstraint("role IN (" + ", ".join(f"'{r}'" for r in ROLES) + ")", name="ck_users_role_known"),
    )
    _gist("users", "last_position")

    op.create_table(
        "duty_grids",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("code", sa.String(32), nullable=False, unique=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("district_code", sa.String(6), nullable=False, index=True),
        sa.Column("inspector_id", sa.Integer, sa.ForeignKey("users.id", name="fk_duty_grids_inspector_id_users"), index=True),
        _geom("MULTIPOLYGON", nullable=True),
        *_ts(),
    )
    _gist("duty_grids")

    op.create_table(
        "duty_grid_cells",
        sa.Column("duty_grid_id", sa.Integer, sa.ForeignKey("duty_grids.id", ondelete="CASCADE", name="fk_duty_grid_cells_duty_grid_id_duty_grids"), primary_key=True),
        sa.Column("cell_code", sa.String(15), sa.ForeignKey("cells.code", name="fk_duty_grid_cells_cell_code_cells"), primary_key=True, unique=True),
    )

    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE", name="fk_api_tokens_user_id_users"), nullable=False, index=True),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("label", sa.String(100)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True)),
        sa.Column("revoked", sa.Boolean, nullable=False, server_default=sa.false()),
    )

    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now(), index=True),
        sa.Column("actor_id", sa.Integer, index=True),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("role", sa.String(20)),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("entity", sa.String(64), nullable=False),
        sa.Column("entity_id", sa.String(64)),
        sa.Column("detail", JSONB),
        sa.Column("request_id", sa.String(64)),
        sa.Column("ip", sa.String(64)),
    )


def downgrade() -> None:
    for table in ("audit_log", "api_tokens", "duty_grid_cells", "duty_grids", "users",
                  "departments", "cells", "communities", "streets", "districts"):
        op.drop_table(table)
    # The extension stays: other schemas in the database may use it.
