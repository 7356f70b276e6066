"""[roads] the roads layer: named centrelines with CJJ 37 class and width (the base map)

Revision ID: 0006_roads
Revises: 0004_sessions
Create Date: 2026-12-08 01:30:00
"""

import os

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry

revision = '0006_roads'
down_revision = '0004_sessions'
branch_labels = None
depends_on = None

# The storage SRID is a deployment setting fixed when the database is created (as in 0001).
SRID = int(os.environ.get("CITYGRID_STORAGE_SRID") or 4547)


def upgrade() -> None:
    op.create_geospatial_table('roads',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('district_code', sa.String(length=6), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('name_en', sa.String(length=200), nullable=True),
    sa.Column('road_class', sa.String(length=12), nullable=False),
    sa.Column('width_m', sa.Float(), nullable=False),
    sa.Column('lanes', sa.SmallInteger(), nullable=True),
    sa.Column('one_way', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('cell_code', sa.String(length=15), nullable=True),
    sa.Column('geom', Geometry(geometry_type='MULTILINESTRING', srid=SRID, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("road_class IN ('expressway', 'arterial', 'secondary', 'branch', 'alley')", name=op.f('ck_roads_class_known')),
    sa.CheckConstraint('width_m > 0', name=op.f('ck_roads_width_positive')),
    sa.CheckConstraint('lanes IS NULL OR lanes > 0', name=op.f('ck_roads_lanes_positive')),
    sa.CheckConstraint('NOT ST_IsEmpty(geom) AND ST_Length(geom) > 0', name=op.f('ck_roads_geom_has_length')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_roads')),
    sa.UniqueConstraint('code', name=op.f('uq_roads_code'))
    )
    op.create_geospatial_index('idx_roads_geom', 'roads', ['geom'], unique=False, postgresql_using='gist', postgresql_ops={})
    op.create_index(op.f('ix_roads_cell_code'), 'roads', ['cell_code'], unique=False)
    op.create_index(op.f('ix_roads_district_code'), 'roads', ['district_code'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_roads_district_code'), table_name='roads')
    op.drop_index(op.f('ix_roads_cell_code'), table_name='roads')
    op.drop_geospatial_index('idx_roads_geom', table_name='roads', postgresql_using='gist', column_name='geom')
    op.drop_geospatial_table('roads')
