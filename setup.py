"""Packaging for citygrid: a GIS-centric city grid management system."""

from setuptools import find_packages, setup

setup(
    name="citygrid",
    version="0.1.0",
    description="GIS-centric city grid management (网格化城市管理) on Flask + PostGIS",
    python_requires=">=3.11",
    packages=find_packages(include=["app", "app.*", "grid", "grid.*", "gis", "gis.*"]),
    include_package_data=True,
    package_data={"app": ["seed/*.csv", "seed/*.md", "templates/*.html", "translations/*/LC_MESSAGES/*"]},
    install_requires=[
        # grid/
        "numpy>=2.0",
        "shapely>=2.0",
        # gis/
        "pyproj>=3.6",
        "geopandas>=1.0",
        "pyogrio>=0.9",
        "folium>=0.17",
        "rtree>=1.2",
        "scipy>=1.11",
        "pandas>=2.2",
        # app/
        "Flask>=3.0",
        "Flask-WTF>=1.2",
        "Flask-Babel>=4.0",
        "SQLAlchemy>=2.0",
        "GeoAlchemy2>=0.15",
        "alembic>=1.13",
        "psycopg[binary]>=3.1",
        "gunicorn>=25.1",  # control_socket / control_socket_disable
        # `citygrid serve`: gunicorn with uvicorn workers; Flask runs behind a2wsgi
        "uvicorn>=0.30",
        "uvicorn-worker>=0.4,<0.5",  # app/asgi_worker.py follows UvicornWorker._serve
        "a2wsgi>=1.10",
        "httptools>=0.6",
        "uvloop>=0.19; sys_platform != 'win32'",
        "click>=8.1",
        "Pillow>=10",
    ],
    extras_require={
        "test": ["pytest>=8", "playwright>=1.45", "hypothesis>=6.100"],
    },
    entry_points={"console_scripts": ["citygrid=app.cli:main"]},
)
