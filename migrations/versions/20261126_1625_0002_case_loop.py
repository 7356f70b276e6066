"""[cases] categories, time limits, routing, calendar, cases, events, photos

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 16:25:43.498671
"""

import os

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

# The storage SRID is a deployment setting fixed when the database is created (as in 0001).
SRID = int(os.environ.get("CITYGRID_STORAGE_SRID") or 4547)


def upgrade() -> None:
    op.create_table('calendar_days',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('name', sa.String(length=50), nullable=False),
    sa.Column('source', sa.Text(), nullable=True),
    sa.CheckConstraint("kind IN ('holiday', 'workday')", name=op.f('ck_calendar_days_kind_known')),
    sa.PrimaryKeyConstraint('day', name=op.f('pk_calendar_days'))
    )
    op.create_table('idempotency_keys',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=128), nullable=False),
    sa.Column('request_hash', sa.String(length=64), nullable=False),
    sa.Column('status', sa.SmallInteger(), nullable=False),
    sa.Column('body', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('user_id', 'key', name=op.f('pk_idempotency_keys'))
    )
    op.create_table('work_windows',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('weekday', sa.SmallInteger(), nullable=False),
    sa.Column('starts', sa.Time(), nullable=False),
    sa.Column('ends', sa.Time(), nullable=False),
    sa.CheckConstraint('starts < ends', name=op.f('ck_work_windows_ordered')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_work_windows'))
    )
    op.create_table('categories',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('standard_ref', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('code', sa.String(length=8), nullable=False),
    sa.Column('major_code', sa.String(length=2), nullable=False),
    sa.Column('major_name', sa.String(length=50), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('name_en', sa.String(length=150), nullable=True),
    sa.Column('local_code', sa.String(length=16), nullable=True),
    sa.Column('default_department_id', sa.Integer(), nullable=True),
    sa.Column('auto_dispatch', sa.Boolean(), nullable=False),
    sa.Column('duplicate_radius_m', sa.Float(), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("kind IN ('component', 'event')", name=op.f('ck_categories_kind_known')),
    sa.ForeignKeyConstraint(['default_department_id'], ['departments.id'], name=op.f('fk_categories_default_department_id_departments')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_categories')),
    sa.UniqueConstraint('standard_ref', 'kind', 'code', name='uq_categories_standard_kind_code')
    )
    op.create_index(op.f('ix_categories_standard_ref'), 'categories', ['standard_ref'], unique=False)
    op.create_geospatial_table('cases',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('number', sa.String(length=20), nullable=False),
    sa.Column('district_code', sa.String(length=6), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('category_id', sa.Integer(), nullable=False),
    sa.Column('category_code', sa.String(length=8), nullable=False),
    sa.Column('standard_ref', sa.String(length=64), nullable=False),
    sa.Column('urgency', sa.String(length=10), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('address', sa.String(length=255), nullable=True),
    sa.Column('geom', Geometry(geometry_type='POINT', srid=SRID, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.Column('cell_code', sa.String(length=15), nullable=False),
    sa.Column('community_code', sa.String(length=12), nullable=False),
    sa.Column('street_code', sa.String(length=9), nullable=False),
    sa.Column('area_class', sa.SmallInteger(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=True),
    sa.Column('suggested_department_id', sa.Integer(), nullable=True),
    sa.Column('reporter_id', sa.Integer(), nullable=True),
    sa.Column('reporter_contact', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('assignee_id', sa.Integer(), nullable=True),
    sa.Column('duplicate_of_id', sa.BigInteger(), nullable=True),
    sa.Column('self_handled', sa.Boolean(), nullable=False),
    sa.Column('camera_id', sa.String(length=20), nullable=True),
    sa.Column('pending_request', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('stage', sa.String(length=16), nullable=True),
    sa.Column('stage_started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('stage_deadline', sa.DateTime(timezone=True), nullable=True),
    sa.Column('stage_limit_unit', sa.String(length=16), nullable=True),
    sa.Column('stage_limit_minutes', sa.Float(), nullable=True),
    sa.Column('handle_deadline', sa.DateTime(timezone=True), nullable=True),
    sa.Column('suspended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('handled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('postponements', sa.Integer(), nullable=False),
    sa.Column('postponed_minutes', sa.Float(), nullable=False),
    sa.Column('reworks', sa.Integer(), nullable=False),
    sa.Column('returns', sa.Integer(), nullable=False),
    sa.Column('urges', sa.Integer(), nullable=False),
    sa.Column('close_type', sa.String(length=10), nullable=True),
    sa.Column('reported_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('filed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('dispatched_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.CheckConstraint("source IN ('inspector', 'public', 'hotline', 'video', 'sensor', 'open311', 'upper_platform')", name=op.f('ck_cases_source_known')),
    sa.CheckConstraint("state IN ('reported', 'verifying', 'pending_filing', 'filed', 'dispatched', 'processing', 'suspended', 'handled', 'checking', 'pending_close', 'closed', 'rejected', 'voided')", name=op.f('ck_cases_state_known')),
    sa.ForeignKeyConstraint(['assignee_id'], ['users.id'], name=op.f('fk_cases_assignee_id_users')),
    sa.ForeignKeyConstraint(['category_id'], ['categories.id'], name=op.f('fk_cases_category_id_categories')),
    sa.ForeignKeyConstraint(['department_id'], ['departments.id'], name=op.f('fk_cases_department_id_departments')),
    sa.ForeignKeyConstraint(['duplicate_of_id'], ['cases.id'], name=op.f('fk_cases_duplicate_of_id_cases')),
    sa.ForeignKeyConstraint(['reporter_id'], ['users.id'], name=op.f('fk_cases_reporter_id_users')),
    sa.ForeignKeyConstraint(['suggested_department_id'], ['departments.id'], name=op.f('fk_cases_suggested_department_id_departments')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cases')),
    sa.UniqueConstraint('number', name=op.f('uq_cases_number'))
    )
    op.create_geospatial_index('idx_cases_geom', 'cases', ['geom'], unique=False, postgresql_using='gist', postgresql_ops={})
    op.create_index(op.f('ix_cases_assignee_id'), 'cases', ['assignee_id'], unique=False)
    op.create_index('ix_cases_category_reported', 'cases', ['category_id', 'reported_at'], unique=False)
    op.create_index('ix_cases_cell_reported', 'cases', ['cell_code', 'reported_at'], unique=False)
    op.create_index('ix_cases_reported_at', 'cases', ['reported_at'], unique=False)
    op.create_index(op.f('ix_cases_community_code'), 'cases', ['community_code'], unique=False)
    op.create_index('ix_cases_department_state', 'cases', ['department_id', 'state'], unique=False)
    op.create_index(op.f('ix_cases_district_code'), 'cases', ['district_code'], unique=False)
    op.create_index(op.f('ix_cases_duplicate_of_id'), 'cases', ['duplicate_of_id'], unique=False)
    op.create_index(op.f('ix_cases_reporter_id'), 'cases', ['reporter_id'], unique=False)
    op.create_index('ix_cases_state_deadline', 'cases', ['state', 'stage_deadline'], unique=False)
    op.create_index(op.f('ix_cases_street_code'), 'cases', ['street_code'], unique=False)
    op.create_table('open311_clients',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_open311_clients_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_open311_clients')),
    sa.UniqueConstraint('key_hash', name=op.f('uq_open311_clients_key_hash'))
    )
    op.create_table('routing_rules',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('category_id', sa.Integer(), nullable=True),
    sa.Column('department_id', sa.Integer(), nullable=False),
    sa.Column('street_code', sa.String(length=9), nullable=True),
    sa.Column('community_code', sa.String(length=12), nullable=True),
    sa.Column('cell_codes', postgresql.ARRAY(sa.String(length=15)), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['category_id'], ['categories.id'], name=op.f('fk_routing_rules_category_id_categories'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['department_id'], ['departments.id'], name=op.f('fk_routing_rules_department_id_departments')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_routing_rules'))
    )
    op.create_index(op.f('ix_routing_rules_category_id'), 'routing_rules', ['category_id'], unique=False)
    op.create_table('time_limits',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('category_id', sa.Integer(), nullable=True),
    sa.Column('stage', sa.String(length=16), nullable=False),
    sa.Column('urgency', sa.String(length=10), nullable=False),
    sa.Column('area_class', sa.SmallInteger(), nullable=True),
    sa.Column('limit_value', sa.Float(), nullable=False),
    sa.Column('limit_unit', sa.String(length=16), nullable=False),
    sa.Column('source', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("limit_unit IN ('minutes', 'hours', 'working_hours', 'working_days')", name=op.f('ck_time_limits_unit_known')),
    sa.CheckConstraint('limit_value >= 0', name=op.f('ck_time_limits_value_positive')),
    sa.ForeignKeyConstraint(['category_id'], ['categories.id'], name=op.f('fk_time_limits_category_id_categories'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_time_limits')),
    sa.UniqueConstraint('category_id', 'stage', 'urgency', 'area_class', name='uq_time_limits_key')
    )
    op.create_index(op.f('ix_time_limits_category_id'), 'time_limits', ['category_id'], unique=False)
    op.create_table('case_events',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('case_id', sa.BigInteger(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('actor', sa.String(length=64), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=True),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('from_state', sa.String(length=16), nullable=True),
    sa.Column('to_state', sa.String(length=16), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('data', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_events_case_id_cases'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_events'))
    )
    op.create_index('ix_case_events_case_at', 'case_events', ['case_id', 'at'], unique=False)
    op.create_table('case_photos',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('case_id', sa.BigInteger(), nullable=False),
    sa.Column('stage', sa.String(length=16), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('content_type', sa.String(length=32), nullable=False),
    sa.Column('size_bytes', sa.Integer(), nullable=False),
    sa.Column('width', sa.Integer(), nullable=False),
    sa.Column('height', sa.Integer(), nullable=False),
    sa.Column('exif', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('uploaded_by', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_photos_case_id_cases'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_photos'))
    )
    op.create_index(op.f('ix_case_photos_case_id'), 'case_photos', ['case_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_case_photos_case_id'), table_name='case_photos')
    op.drop_table('case_photos')
    op.drop_index('ix_case_events_case_at', table_name='case_events')
    op.drop_table('case_events')
    op.drop_index(op.f('ix_time_limits_category_id'), table_name='time_limits')
    op.drop_table('time_limits')
    op.drop_index(op.f('ix_routing_rules_category_id'), table_name='routing_rules')
    op.drop_table('routing_rules')
    op.drop_table('open311_clients')
    op.drop_index(op.f('ix_cases_street_code'), table_name='cases')
    op.drop_index('ix_cases_state_deadline', table_name='cases')
    op.drop_index(op.f('ix_cases_reporter_id'), table_name='cases')
    op.drop_index(op.f('ix_cases_duplicate_of_id'), table_name='cases')
    op.drop_index(op.f('ix_cases_district_code'), table_name='cases')
    op.drop_index('ix_cases_department_state', table_name='cases')
    op.drop_index(op.f('ix_cases_community_code'), table_name='cases')
    op.drop_index('ix_cases_cell_reported', table_name='cases')
    op.drop_index('ix_cases_category_reported', table_name='cases')
    op.drop_index(op.f('ix_cases_assignee_id'), table_name='cases')
    op.drop_geospatial_index('idx_cases_geom', table_name='cases', postgresql_using='gist', column_name='geom')
    op.drop_geospatial_table('cases')
    op.drop_index(op.f('ix_categories_standard_ref'), table_name='categories')
    op.drop_table('categories')
    op.drop_table('work_windows')
    op.drop_table('idempotency_keys')
    op.drop_table('calendar_days')
