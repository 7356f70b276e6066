"""grid/ and gis/ never import Flask, the database stack or the app (DESIGN §2)."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN = {
    "grid": {"flask", "werkzeug", "sqlalchemy", "geoalchemy2", "psycopg", "psycopg2", "alembic",
             "app", "gis", "geopandas", "pyproj", "folium", "pyogrio"},
    "gis": {"flask", "werkzeug", "sqlalchemy", "geoalchemy2", "psycopg", "psycopg2", "alembic", "app"},
}


def imported_roots(path: Path) -> set[str]:
    """Top-level names of every module a file imports (any depth in the file)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_imports_stay_in_their_layer(package):
    files = sorted((ROOT / package).rglob("*.py"))
    assert files, f"{package}/ has no modules"
    bad = {
        str(f.relative_to(ROOT)): sorted(imported_roots(f) & FORBIDDEN[package])
        for f in files
        if imported_roots(f) & FORBIDDEN[package]
    }
    assert not bad, f"forbidden imports: {bad}"


def test_the_check_itself_catches_a_forbidden_import(tmp_path):
    sample = tmp_path / "x.py"
    sample.write_text("def f():\n    from flask import g\n    import sqlalchemy.orm\n")
    assert {"flask", "sqlalchemy"} <= imported_roots(sample)
