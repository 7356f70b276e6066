"""Migrations run up, down and up again on an empty database."""

import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from app.config import ROOT
from app.db import drop_database, make_engine
from tests.conftest import fresh_database

TABLES = {"districts", "streets", "communities", "cells", "duty_grids", "duty_grid_cells",
          "departments", "users", "api_tokens", "audit_log"}


def _tables(engine) -> set[str]:
    return set(sa.inspect(engine).get_table_names())


def _gist_indexes(engine) -> set[str]:
    with engine.connect() as conn:
        return set(conn.scalars(sa.text(
            "SELECT indexname FROM pg_indexes WHERE schemaname='public' AND indexdef ILIKE '%USING gist%'"
        )))


def test_upgrade_downgrade_upgrade():
    url = fresh_database("citygrid_test_migrations")
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.attributes["database_url"] = url
    engine = make_engine(url, poolclass=sa.pool.NullPool)
    try:
        command.upgrade(cfg, "head")
        assert TABLES <= _tables(engine)
        assert {"idx_cells_geom", "idx_communities_geom", "idx_streets_geom"} <= _gist_indexes(engine)
        with engine.connect() as conn:
            assert conn.scalar(sa.text("SELECT postgis_lib_version()"))
        command.downgrade(cfg, "base")
        assert not (TABLES & _tables(engine))
        command.upgrade(cfg, "head")
        assert TABLES <= _tables(engine)
    finally:
        engine.dispose()
        drop_database(url)


def test_models_match_the_migrated_schema(test_db_url):
    """Autogenerate finds nothing to do: models and revisions agree."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from geoalchemy2 import alembic_helpers

    from app.models import Base

    engine = make_engine(test_db_url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={
                "include_object": alembic_helpers.include_object,
                "compare_type": True,
            })
            diff = compare_metadata(ctx, Base.metadata)
    finally:
        engine.dispose()
    assert diff == []
