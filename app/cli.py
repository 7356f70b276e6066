"""The `citygrid` command line: database, migrations, demo data, import/export, users, server."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from contextlib import contextmanager

import click

from .config import ROOT, SettingsError, load_settings, local_cluster_port


def _settings():
    try:
        return load_settings()
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None


def _cluster():
    from .pgcluster import Cluster

    return Cluster(root=ROOT / "var" / "pg", port=local_cluster_port(os.environ))


def _engine(settings):
    """An engine to the configured database; explains what to do when it is down."""
    import sqlalchemy as sa

    from .db import ensure_database, make_engine

    if not os.environ.get("DATABASE_URL"):
        cluster = _cluster()
        try:
            running = cluster.is_running()
        except Exception:
            running = False
        if not running:
            raise click.ClickException(
                "the local PostgreSQL cluster is not running: run `citygrid db up` "
                "(or set DATABASE_URL to a PostGIS server)"
            )
        ensure_database(settings.database_url)
    engine = make_engine(settings.database_url)
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except Exception as exc:
        raise click.ClickException(f"cannot connect to the database: {exc}") from None
    return engine


@contextmanager
def connected(settings):
    """An engine for one command, disposed when it ends."""
    engine = _engine(settings)
    try:
        yield engine
    finally:
        engine.dispose()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """citygrid: GIS-centric city grid management (网格化城市管理)."""


# -- db -----------------------------------------------------------------------------------


@main.group()
def db() -> None:
    """The project-local PostgreSQL + PostGIS cluster under var/pg (when DATABASE_URL is unset)."""


@db.command("up")
@click.option("--no-install", is_flag=True, help="Never install packages; only say what is missing.")
def db_up(no_install: bool) -> None:
    """Create (first time) and start the local cluster, then create the database."""
    from .db import ensure_database
    from .pgcluster import ClusterError

    if os.environ.get("DATABASE_URL"):
        click.echo("DATABASE_URL is set; the local cluster is not used.")
        return
    cluster = _cluster()
    try:
        cluster.up(allow_install=not no_install)
    except ClusterError as exc:
        raise click.ClickException(str(exc)) from None
    settings = _settings()
    if ensure_database(settings.database_url):
        click.echo("created database citygrid")
    click.echo(cluster.status())


@db.command("down")
def db_down() -> None:
    """Stop the local cluster (its data stays in var/pg)."""
    cluster = _cluster()
    cluster.stop()
    click.echo(cluster.status())


@db.command("status")
def db_status() -> None:
    """Say whether the local cluster (or DATABASE_URL) answers."""
    if os.environ.get("DATABASE_URL"):
        settings = _settings()
        with connected(settings) as engine:
            click.echo(f"DATABASE_URL: {engine.url!r} answers")
        return
    click.echo(_cluster().status())


# -- schema -------------------------------------------------------------------------------


def run_migrations(database_url: str, revision: str = "head") -> None:
    """Upgrade a database to ``revision`` with Alembic."""
    from alembic import command
    from alembic.config import Config

    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.attributes["database_url"] = database_url
    command.upgrade(cfg, revision)


@main.command()
def migrate() -> None:
    """Bring the database schema up to date."""
    settings = _settings()
    _engine(settings).dispose()
    run_migrations(settings.database_url)
    click.echo("database is at the latest schema")


# -- demo ---------------------------------------------------------------------------------


@main.command()
@click.option("--size", type=click.Choice(["small", "default", "large"]), default="default", show_default=True)
@click.option("--seed", type=int, default=20261126, show_default=True)
def demo(size: str, seed: int) -> None:
    """Load the demo district (replaces all grid and demo data)."""
    from .db import session_scope
    from .demo import load_demo

    settings = _settings()
    run_migrations(settings.database_url)
    started = time.perf_counter()
    with connected(settings) as engine, session_scope(engine) as session:
        summary = load_demo(session, settings, size=size, seed=seed)
    click.echo(f"demo district loaded in {time.perf_counter() - started:.1f} s")
    click.echo(summary.describe() if hasattr(summary, "describe") else str(summary))
    _print_accounts(settings)


def _print_accounts(settings) -> None:
    click.echo("")
    click.echo(f"All demo accounts above use the password {settings.demo_password!r}; beside them are")
    click.echo("inspector2…N (one per duty grid) and one handler per department (dept_water1, dept_gas1, …).")


# -- import / export --------------------------------------------------------------------


LAYERS = ("cells", "buildings", "cameras", "pipelines", "components", "roads")


def _field_map(pairs: tuple[str, ...]) -> dict[str, str]:
    mapping = {}
    for pair in pairs:
        source, sep, target = pair.partition("=")
        if not sep or not source or not target:
            raise click.BadParameter(f"{pair!r}: expected COLUMN=FIELD", param_hint="--map")
        mapping[source] = target
    return mapping


@main.command("import")
@click.argument("layer", type=click.Choice(LAYERS))
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--layer-name", help="Layer inside a GeoPackage.")
@click.option("--assume-crs", help="CRS of a file that declares none (e.g. EPSG:4547).")
@click.option("--mode", type=click.Choice(["replace", "append", "upsert"]),
              help="cells: replace (default; the file is the whole current layer, missing cells are "
                   "retired, and the report lists each with the open cases, cameras, components, "
                   "buildings it holds) or append. Other layers: append (default; existing ids are "
                   "refused) or upsert (existing ids are updated).")
@click.option("--map", "field_map", multiple=True, metavar="COLUMN=FIELD",
              help="Read file column COLUMN as field FIELD (repeatable); other layers only.")
@click.option("--force", is_flag=True,
              help="cells: import despite warnings (gaps, slivers, odd areas) and despite a replace "
                   "that retires cells holding open cases or leaves part of the current layer uncovered.")
@click.option("--report", type=click.Path(dir_okay=False, path_type=Path), help="Write the row report as CSV.")
def import_layer(layer: str, path: Path, layer_name, assume_crs, mode, field_map, force: bool, report) -> None:
    """Import a layer from GeoPackage, GeoJSON, Shapefile or CSV (all or nothing)."""
    from .db import session_scope
    from .services.audit import Actor
    from .services.cell_import import ImportRefused, import_cells
    from .services.layer_io import import_layer as import_asset_layer

    settings = _settings()
    actor = Actor(None, f"cli:{os.environ.get('USER', 'unknown')}", "admin")
    if layer == "cells" and mode == "upsert":
        raise click.BadParameter("cells take replace or append", param_hint="--mode")
    if layer != "cells" and mode == "replace":
        raise click.BadParameter(f"{layer} take append or upsert", param_hint="--mode")
    try:
        with connected(settings) as engine, session_scope(engine) as session:
            if layer == "cells":
                result = import_cells(
                    session, actor, path, settings,
                    layer=layer_name, assume_crs=assume_crs, mode=mode or "replace", force=force,
                )
            else:
                result = import_asset_layer(
                    session, actor, layer, path, settings, file_layer=layer_name,
                    assume_crs=assume_crs, field_map=_field_map(field_map), mode=mode or "append",
                )
    except ImportRefused as exc:
        click.echo(exc.report_text(), err=True)
        if report:
            exc.write_csv(report)
        problems = sum(1 for r in exc.rows if r.severity != "info")  # info: retired cells holding nothing open
        raise click.ClickException(f"import refused; nothing was written ({problems} problems)") from None
    if report:
        result.write_csv(report)
    click.echo(result.describe())


@main.command("export")
@click.argument("layer", type=click.Choice(LAYERS))
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--crs", "to_crs", help="Output CRS (default: storage CRS; GeoJSON and CSV are always CRS84).")
@click.option("--all", "include_retired", is_flag=True, help="cells: include retired cells.")
def export_layer(layer: str, path: Path, to_crs, include_retired: bool) -> None:
    """Export a layer to GeoPackage, GeoJSON, Shapefile or CSV (by file extension)."""
    from .db import session_scope
    from .services.cell_import import export_cells
    from .services.layer_io import export_layer as export_asset_layer

    settings = _settings()
    with connected(settings) as engine, session_scope(engine) as session:
        if layer == "cells":
            count = export_cells(session, path, settings, to_crs=to_crs, include_retired=include_retired)
        else:
            count = export_asset_layer(session, layer, path, settings, to_crs=to_crs)
    click.echo(f"wrote {count} {layer} to {path}")


# -- users --------------------------------------------------------------------------------


@main.group()
def user() -> None:
    """Manage users."""


@user.command("add")
@click.argument("username")
@click.option("--role", required=True, type=click.Choice(
    ["inspector", "operator", "shift_leader", "dispatcher", "department", "tax_officer", "leader", "admin"]))
@click.option("--name", "display_name", help="Display name.")
@click.option("--department", help="Department code (required for role department).")
@click.option("--phone")
@click.password_option(help="Password (prompted when omitted).")
def user_add(username, role, display_name, department, phone, password) -> None:
    """Add a user."""
    from .db import session_scope
    from .services.accounts import AccountError, add_user
    from .services.audit import Actor

    settings = _settings()
    try:
        with connected(settings) as engine, session_scope(engine) as session:
            add_user(
                session, Actor(None, f"cli:{os.environ.get('USER', 'unknown')}", "admin"),
                username=username, password=password, role=role,
                district_code=settings.district_code, display_name=display_name,
                department_code=department, phone=phone,
            )
    except AccountError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"added {role} {username}")


@main.command("sweep-photos")
@click.option("--grace-hours", type=click.FloatRange(min=0), default=24, show_default=True,
              help="Keep files written or reused this recently (requests still in flight).")
@click.option("--dry-run", is_flag=True, help="Only list what would be removed.")
def sweep_photos(grace_hours: float, dry_run: bool) -> None:
    """Remove photo files no committed case refers to (left by failed requests)."""
    from datetime import timedelta

    from sqlalchemy.orm import Session

    from .services.photos import sweep_orphans

    settings = _settings()
    with connected(settings) as engine, Session(engine) as session:
        result = sweep_orphans(session, settings.photo_dir, timedelta(hours=grace_hours), dry_run=dry_run)
    for path in result.removed:
        click.echo(f"{'would remove' if dry_run else 'removed'} {path}")
    click.echo(f"{len(result.removed)} file(s), {result.bytes_freed} bytes {'to free' if dry_run else 'freed'}; "
               f"{result.kept} kept")


def _change_user(username: str, change) -> None:
    """Run ``change(session, actor, user)`` on an existing user (accounts decides the rest)."""
    import sqlalchemy as sa

    from .db import session_scope
    from .models import User
    from .services.accounts import AccountError
    from .services.audit import Actor

    try:
        with connected(_settings()) as engine, session_scope(engine) as session:
            user = session.scalar(sa.select(User).where(User.username == username))
            if user is None:
                raise click.ClickException(f"no user {username!r}")
            change(session, Actor(None, f"cli:{os.environ.get('USER', 'unknown')}", "admin"), user)
    except AccountError as exc:
        raise click.ClickException(str(exc)) from None


@user.command("password")
@click.argument("username")
@click.password_option(help="New password (prompted when omitted).")
def user_password(username, password) -> None:
    """Set a user's password; ends all their sessions and revokes their API tokens."""
    from .services.accounts import set_password

    _change_user(username, lambda session, actor, u: set_password(session, actor, u, password))
    click.echo(f"password of {username} changed; their sessions and tokens have ended")


@user.command("deactivate")
@click.argument("username")
def user_deactivate(username) -> None:
    """Deactivate a user; ends all their sessions and revokes their API tokens."""
    from .services.accounts import set_active

    _change_user(username, lambda session, actor, u: set_active(session, actor, u, False))
    click.echo(f"{username} deactivated; their sessions and tokens have ended")


# -- server -------------------------------------------------------------------------------


@main.command()
@click.option("--host", help="Address to listen on (default CITYGRID_HOST or 127.0.0.1).")
@click.option("--port", type=int, help="Port (default CITYGRID_PORT or 5000).")
@click.option("--workers", type=int, help="Worker processes (default CITYGRID_WORKERS or 2).")
@click.option("--threads", type=click.IntRange(1, 256), default=8, show_default=True,
              help="Threads per worker for requests (open live streams and uploads in transit hold none).")
@click.option("--control-socket", type=click.Path(dir_okay=False), default=None,
              help="Path of gunicorn's control socket for gunicornc (default: none).")
def serve(host, port, workers, threads, control_socket) -> None:
    """Serve the application with gunicorn and uvicorn workers (ASGI; Flask runs in a thread pool)."""
    from . import create_app, server

    settings = _settings()
    _engine(settings).dispose()
    bind = f"{host or settings.host}:{port or settings.port}"
    click.echo(f"serving {settings.district_name} on http://{bind}")
    server.run(create_app, bind=bind, workers=workers or settings.workers, threads=threads,
               body_timeout=settings.body_timeout_s, control_socket=control_socket)


@main.command()
@click.argument("name", type=click.Choice(["locate", "intake", "assets", "live"]))
@click.argument("args", nargs=-1)
def bench(name: str, args) -> None:
    """Run a benchmark from bench/ (prints ratios against its baseline)."""
    import subprocess

    script = ROOT / "bench" / f"{name}.py"
    sys.exit(subprocess.call([sys.executable, str(script), *args]))


if __name__ == "__main__":
    main()
