"""[assets] cameras, pipelines, buildings, components

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 18:29:03.553605
"""

import csv
import os
from pathlib import Path

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

# The storage SRID is a deployment setting fixed when the database is created (as in 0001).
SRID = int(os.environ.get("CITYGRID_STORAGE_SRID") or 4547)
# CJJ 61-2017 code tables, as shipped in this revision (app/seed/README.md gives provenance).
SEED = Path(__file__).resolve().parents[2] / "app" / "seed"


def _seed(table: sa.Table, filename: str, columns: dict[str, str]) -> None:
    with open(SEED / filename, encoding="utf-8", newline="") as fh:
        rows = [{col: row[src] for col, src in columns.items()} for row in csv.DictReader(fh)]
    if "class_code" in columns:
        for row in rows:
            row["class_code"] = int(row["class_code"])
    op.bulk_insert(table, rows)


def upgrade() -> None:
    op.create_geospatial_table('buildings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('district_code', sa.String(length=6), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('address', sa.String(length=255), nullable=True),
    sa.Column('floors', sa.SmallInteger(), nullable=True),
    sa.Column('underground_floors', sa.SmallInteger(), server_default='0', nullable=False),
    sa.Column('height_m', sa.Float(), nullable=True),
    sa.Column('gross_floor_area_m2', sa.Float(), nullable=True),
    sa.Column('use', sa.String(length=16), nullable=False),
    sa.Column('build_year', sa.SmallInteger(), nullable=True),
    sa.Column('cell_code', sa.String(length=15), nullable=True),
    sa.Column('geom', Geometry(geometry_type='MULTIPOLYGON', srid=SRID, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("use IN ('residential', 'office', 'commercial', 'school', 'hospital', 'market', 'industrial', 'public', 'mixed', 'other')", name=op.f('ck_buildings_use_known')),
    sa.CheckConstraint('ST_IsValid(geom)', name=op.f('ck_buildings_geom_valid')),
    sa.CheckConstraint('floors IS NULL OR floors >= 0', name=op.f('ck_buildings_floors_nonnegative')),
    sa.CheckConstraint('gross_floor_area_m2 IS NULL OR gross_floor_area_m2 >= 0', name=op.f('ck_buildings_gfa_nonnegative')),
    sa.CheckConstraint('height_m IS NULL OR height_m >= 0', name=op.f('ck_buildings_height_nonnegative')),
    sa.CheckConstraint('underground_floors >= 0', name=op.f('ck_buildings_underground_nonnegative')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_buildings')),
    sa.UniqueConstraint('code', name=op.f('uq_buildings_code'))
    )
    op.create_geospatial_index('idx_buildings_geom', 'buildings', ['geom'], unique=False, postgresql_using='gist', postgresql_ops={})
    op.create_index(op.f('ix_buildings_cell_code'), 'buildings', ['cell_code'], unique=False)
    op.create_index(op.f('ix_buildings_district_code'), 'buildings', ['district_code'], unique=False)
    op.create_geospatial_table('cameras',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('device_id', sa.String(length=20), nullable=False),
    sa.Column('district_code', sa.String(length=6), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('address', sa.String(length=255), nullable=True),
    sa.Column('height_m', sa.Float(), nullable=True),
    sa.Column('azimuth_deg', sa.Float(), nullable=False),
    sa.Column('hfov_deg', sa.Float(), nullable=False),
    sa.Column('range_m', sa.Float(), nullable=False),
    sa.Column('ptz_type', sa.SmallInteger(), nullable=True),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('stream_url', sa.String(length=500), nullable=True),
    sa.Column('occluded', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('cell_code', sa.String(length=15), nullable=True),
    sa.Column('geom', Geometry(geometry_type='POINT', srid=SRID, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.Column('fov', Geometry(geometry_type='POLYGON', srid=SRID, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("device_id ~ '^[0-9]{20}$'", name=op.f('ck_cameras_device_id_digits')),
    sa.CheckConstraint("status IN ('online', 'offline', 'fault', 'retired')", name=op.f('ck_cameras_status_known')),
    sa.CheckConstraint('azimuth_deg >= 0 AND azimuth_deg <= 360', name=op.f('ck_cameras_azimuth_range')),
    sa.CheckConstraint('height_m IS NULL OR height_m >= 0', name=op.f('ck_cameras_height_nonnegative')),
    sa.CheckConstraint('hfov_deg > 0 AND hfov_deg <= 360', name=op.f('ck_cameras_hfov_range')),
    sa.CheckConstraint('ptz_type IS NULL OR ptz_type BETWEEN 1 AND 7', name=op.f('ck_cameras_ptz_type_known')),
    sa.CheckConstraint('range_m > 0', name=op.f('ck_cameras_range_positive')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cameras')),
    sa.UniqueConstraint('device_id', name=op.f('uq_cameras_device_id'))
    )
    op.create_geospatial_index('idx_cameras_fov', 'cameras', ['fov'], unique=False, postgresql_using='gist', postgresql_ops={})
    op.create_geospatial_index('idx_cameras_geom', 'cameras', ['geom'], unique=False, postgresql_using='gist', postgresql_ops={})
    op.create_index(op.f('ix_cameras_cell_code'), 'cameras', ['cell_code'], unique=False)
    op.create_index(op.f('ix_cameras_district_code'), 'cameras', ['district_code'], unique=False)
    burials = op.create_table('pipeline_burials',
    sa.Column('code', sa.String(length=4), nullable=False),
    sa.Column('name', sa.String(length=20), nullable=False),
    sa.PrimaryKeyConstraint('code', name=op.f('pk_pipeline_burials'))
    )
    classes = op.create_table('pipeline_classes',
    sa.Column('class_abbr', sa.String(length=4), nullable=False),
    sa.Column('subclass_abbr', sa.String(length=4), nullable=False),
    sa.Column('class_code', sa.SmallInteger(), nullable=False),
    sa.Column('class_name', sa.String(length=20), nullable=False),
    sa.Column('subclass_name', sa.String(length=20), nullable=False),
    sa.Column('color_name', sa.String(length=10), nullable=False),
    sa.Column('rgb', sa.String(length=11), nullable=False),
    sa.PrimaryKeyConstraint('class_abbr', 'subclass_abbr', name=op.f('pk_pipeline_classes'))
    )
    materials = op.create_table('pipeline_materials',
    sa.Column('code', sa.String(length=4), nullable=False),
    sa.Column('name', sa.String(length=20), nullable=False),
    sa.PrimaryKeyConstraint('code', name=op.f('pk_pipeline_materials'))
    )
    _seed(classes, "pipeline_classes_cjj61.csv",
          {k: k for k in ("class_abbr", "subclass_abbr", "class_code", "class_name",
                          "subclass_name", "color_name", "rgb")})
    _seed(materials, "pipeline_materials_cjj61.csv", {"code": "code", "name": "name"})
    _seed(burials, "pipeline_burial_cjj61.csv", {"code": "code", "name": "name"})
    op.create_geospatial_table('pipelines',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('district_code', sa.String(length=6), nullable=False),
    sa.Column('class_abbr', sa.String(length=4), nullable=False),
    sa.Column('subclass_abbr', sa.String(length=4), nullable=False),
    sa.Column('material_code', sa.String(length=4), nullable=True),
    sa.Column('burial_code', sa.String(length=4), nullable=True),
    sa.Column('diameter_mm', sa.Float(), nullable=True),
    sa.Column('section', sa.String(length=20), nullable=True),
    sa.Column('start_depth_m', sa.Float(), nullable=False),
    sa.Column('end_depth_m', sa.Float(), nullable=False),
    sa.Column('build_year', sa.SmallInteger(), nullable=True),
    sa.Column('owner', sa.String(length=200), nullable=True),
    sa.Column('pressure_mpa', sa.Float(), nullable=True),
    sa.Column('voltage_kv', sa.Float(), nullable=True),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('cell_code', sa.String(length=15), nullable=True),
    sa.Column('geom', Geometry(geometry_type='LINESTRING', srid=SRID, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('NOT ST_IsEmpty(geom) AND ST_Length(geom) > 0', name=op.f('ck_pipelines_geom_has_length')),
    sa.CheckConstraint('diameter_mm IS NULL OR diameter_mm > 0', name=op.f('ck_pipelines_diameter_positive')),
    sa.CheckConstraint('pressure_mpa IS NULL OR pressure_mpa >= 0', name=op.f('ck_pipelines_pressure_nonnegative')),
    sa.CheckConstraint('start_depth_m >= 0 AND end_depth_m >= 0', name=op.f('ck_pipelines_depth_nonnegative')),
    sa.CheckConstraint('voltage_kv IS NULL OR voltage_kv >= 0', name=op.f('ck_pipelines_voltage_nonnegative')),
    sa.ForeignKeyConstraint(['burial_code'], ['pipeline_burials.code'], name=op.f('fk_pipelines_burial_code_pipeline_burials')),
    sa.ForeignKeyConstraint(['class_abbr', 'subclass_abbr'], ['pipeline_classes.class_abbr', 'pipeline_classes.subclass_abbr'], name='fk_pipelines_class_pipeline_classes'),
    sa.ForeignKeyConstraint(['material_code'], ['pipeline_materials.code'], name=op.f('fk_pipelines_material_code_pipeline_materials')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pipelines')),
    sa.UniqueConstraint('code', name=op.f('uq_pipelines_code'))
    )
    op.create_geospatial_index('idx_pipelines_geom', 'pipelines', ['geom'], unique=False, postgresql_using='gist', postgresql_ops={})
    op.create_index('ix_pipelines_class', 'pipelines', ['class_abbr', 'subclass_abbr'], unique=False)
    op.create_index(op.f('ix_pipelines_cell_code'), 'pipelines', ['cell_code'], unique=False)
    op.create_index(op.f('ix_pipelines_district_code'), 'pipelines', ['district_code'], unique=False)
    op.create_geospatial_table('components',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('component_id', sa.String(length=17), nullable=False),
    sa.Column('district_code', sa.String(length=6), nullable=False),
    sa.Column('category_id', sa.Integer(), nullable=False),
    sa.Column('category_code', sa.String(length=8), nullable=False),
    sa.Column('standard_ref', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('owner_department_id', sa.Integer(), nullable=True),
    sa.Column('maintainer_department_id', sa.Integer(), nullable=True),
    sa.Column('owner_name', sa.String(length=100), nullable=True),
    sa.Column('maintainer_name', sa.String(length=100), nullable=True),
    sa.Column('cell_code', sa.String(length=15), nullable=True),
    sa.Column('building_id', sa.Integer(), nullable=True),
    sa.Column('surveyed_on', sa.Date(), nullable=True),
    sa.Column('changed_on', sa.Date(), nullable=True),
    sa.Column('data_source', sa.String(length=30), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('geom', Geometry(srid=SRID, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("GeometryType(geom) IN ('POINT', 'LINESTRING')", name=op.f('ck_components_geom_point_or_line')),
    sa.CheckConstraint("component_id ~ '^[0-9]{16,17}$'", name=op.f('ck_components_component_id_digits')),
    sa.CheckConstraint("status IN ('intact', 'damaged', 'missing', 'abandoned', 'removed')", name=op.f('ck_components_status_known')),
    sa.ForeignKeyConstraint(['building_id'], ['buildings.id'], name=op.f('fk_components_building_id_buildings'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['category_id'], ['categories.id'], name=op.f('fk_components_category_id_categories')),
    sa.ForeignKeyConstraint(['maintainer_department_id'], ['departments.id'], name=op.f('fk_components_maintainer_department_id_departments')),
    sa.ForeignKeyConstraint(['owner_department_id'], ['departments.id'], name=op.f('fk_components_owner_department_id_departments')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_components')),
    sa.UniqueConstraint('component_id', name=op.f('uq_components_component_id'))
    )
    op.create_geospatial_index('idx_components_geom', 'components', ['geom'], unique=False, postgresql_using='gist', postgresql_ops={})
    op.create_index(op.f('ix_components_building_id'), 'components', ['building_id'], unique=False)
    op.create_index('ix_components_category', 'components', ['category_id'], unique=False)
    op.create_index(op.f('ix_components_cell_code'), 'components', ['cell_code'], unique=False)
    op.create_index(op.f('ix_components_district_code'), 'components', ['district_code'], unique=False)
    op.create_table('component_serials',
    sa.Column('district_code', sa.String(length=6), nullable=False),
    sa.Column('class_code', sa.String(length=8), nullable=False),
    sa.Column('last_serial', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('district_code', 'class_code', name=op.f('pk_component_serials'))
    )
    op.add_column('cases', sa.Column('component_id', sa.BigInteger(), nullable=True))
    op.create_index(op.f('ix_cases_component_id'), 'cases', ['component_id'], unique=False)
    op.create_foreign_key(op.f('fk_cases_component_id_components'), 'cases', 'components', ['component_id'], ['id'], ondelete='SET NULL')


def downgrade() -> None:
    op.drop_constraint(op.f('fk_cases_component_id_components'), 'cases', type_='foreignkey')
    op.drop_index(op.f('ix_cases_component_id'), table_name='cases')
    op.drop_column('cases', 'component_id')
    op.drop_table('component_serials')
    op.drop_index(op.f('ix_components_district_code'), table_name='components')
    op.drop_index(op.f('ix_components_cell_code'), table_name='components')
    op.drop_index('ix_components_category', table_name='components')
    op.drop_index(op.f('ix_components_building_id'), table_name='components')
    op.drop_geospatial_index('idx_components_geom', table_name='components', postgresql_using='gist', column_name='geom')
    op.drop_geospatial_table('components')
    op.drop_index(op.f('ix_pipelines_district_code'), table_name='pipelines')
    op.drop_index(op.f('ix_pipelines_cell_code'), table_name='pipelines')
    op.drop_index('ix_pipelines_class', table_name='pipelines')
    op.drop_geospatial_index('idx_pipelines_geom', table_name='pipelines', postgresql_using='gist', column_name='geom')
    op.drop_geospatial_table('pipelines')
    op.drop_table('pipeline_materials')
    op.drop_table('pipeline_classes')
    op.drop_table('pipeline_burials')
    op.drop_index(op.f('ix_cameras_district_code'), table_name='cameras')
    op.drop_index(op.f('ix_cameras_cell_code'), table_name='cameras')
    op.drop_geospatial_index('idx_cameras_geom', table_name='cameras', postgresql_using='gist', column_name='geom')
    op.drop_geospatial_index('idx_cameras_fov', table_name='cameras', postgresql_using='gist', column_name='fov')
    op.drop_geospatial_table('cameras')
    op.drop_index(op.f('ix_buildings_district_code'), table_name='buildings')
    op.drop_index(op.f('ix_buildings_cell_code'), table_name='buildings')
    op.drop_geospatial_index('idx_buildings_geom', table_name='buildings', postgresql_using='gist', column_name='geom')
    op.drop_geospatial_table('buildings')
