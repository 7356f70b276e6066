"""Settings read once from the environment into a frozen object; bad values fail fast."""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent

#: The demo's district code.  Zhengdong New District is a functional zone without its own
#: GB/T 2260 code; real deployments must set CITYGRID_DISTRICT_CODE to the code that the
#: city's statistical division codes assign (standards.md §2.3).
DEMO_DISTRICT_CODE_PLACEHOLDER = "410199"

CATEGORY_STANDARDS = ("GB/T 47678.5-2026", "GB/T 30428.2-2013")

ROLES = (
    "inspector",
    "operator",
    "shift_leader",
    "dispatcher",
    "department",
    "tax_officer",
    "leader",
    "admin",
)
LOCALES = ("zh_CN", "en")
#: Datums base-map tiles come in: WGS84 (Tianditu, OSM) or GCJ-02 (Amap, Tencent).
TILE_CRS = ("wgs84", "gcj02")


class SettingsError(ValueError):
    """One or more environment variables are missing or malformed."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__(
            "invalid configuration:\n" + "\n".join(f"  - {p}" for p in problems)
        )


@dataclass(frozen=True)
class Settings:
    """Everything the application reads from its environment."""

    database_url: str
    secret_key: str
    storage_srid: int = 4547
    district_code: str = DEMO_DISTRICT_CODE_PLACEHOLDER
    district_name: str = "郑东新区"
    env: str = "development"
    tile_url: str | None = None
    tile_attribution: str = ""
    #: Datum of the base-map tiles: "gcj02" for Amap/Tencent tiles (drawn shifted so our WGS84 layers line up).
    tile_crs: str = "wgs84"
    demo_password: str = "citygrid-demo"
    max_upload_bytes: int = 100 * 1024 * 1024
    body_timeout_s: int = 120
    token_ttl_hours: int = 24 * 30
    default_locale: str = "zh_CN"
    log_level: str = "INFO"
    log_format: str = "text"
    host: str = "127.0.0.1"
    port: int = 5000
    workers: int = 2
    data_dir: Path = ROOT / "var"
    session_cookie_secure: bool = False
    trusted_proxies: int = 0
    max_bbox_cells: int = 5000
    category_standard: str = CATEGORY_STANDARDS[0]
    photo_dir: Path = ROOT / "var" / "photos"
    max_photo_bytes: int = 10 * 1024 * 1024
    max_photos: int = 9
    max_pipe_radius_m: int = 200
    public_url: str = "http://127.0.0.1:5000"
    extra: Mapping[str, object] = field(default_factory=dict)

    @property
    def is_production(self) -> bool:
        """True when running as a real deployment."""
        return self.env == "production"

    def with_overrides(self, **kw) -> Settings:
        """Return a copy with some values replaced (tests)."""
        return replace(self, **kw)


def local_cluster_port(environ: Mapping[str, str]) -> int:
    """Port of the project-local PostgreSQL cluster under var/pg."""
    return int(environ.get("CITYGRID_PG_PORT", "54329"))


def local_database_url(environ: Mapping[str, str], dbname: str = "citygrid") -> str:
    """URL of a database in the project-local cluster."""
    return f"postgresql+psycopg://postgres@127.0.0.1:{local_cluster_port(environ)}/{dbname}"


def normalize_db_url(url: str) -> str:
    """Make a libpq-style URL use SQLAlchemy's psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def _secret_key(environ: Mapping[str, str], data_dir: Path, production: bool) -> str | None:
    key = environ.get("CITYGRID_SECRET_KEY")
    if key:
        return key
    if production:
        return None
    # Development and demo: one random key kept under var/, so sessions survive restarts.
    path = data_dir / "secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        data_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        path.write_text(key)
        path.chmod(0o600)
        return key


def _storage_srid_problem(srid: int) -> str | None:
    """Why an SRID cannot be the storage CRS (must be projected, in metres), or None."""
    import pyproj

    try:
        crs = pyproj.CRS.from_epsg(srid)
    except pyproj.exceptions.CRSError:
        return "unknown EPSG code"
    if not crs.is_projected:
        return "must be a projected CRS in metres (for example 4547)"
    if crs.axis_info[0].unit_name not in ("metre", "meter"):
        return f"axis unit is {crs.axis_info[0].unit_name}, expected metre"
    return None


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read settings from the environment, listing every bad variable at once.

    Raises
    ------
    SettingsError
        Naming each variable that is missing or malformed.
    """
    env = dict(os.environ if environ is None else environ)
    problems: list[str] = []

    def integer(name: str, default: int, lo: int, hi: int) -> int:
        raw = env.get(name)
        if raw is None or raw == "":
            return default
        try:
            value = int(raw)
        except ValueError:
            problems.append(f"{name}={raw!r}: expected a whole number")
            return default
        if not lo <= value <= hi:
            problems.append(f"{name}={raw!r}: must be between {lo} and {hi}")
        return value

    def choice(name: str, default: str, allowed: tuple[str, ...]) -> str:
        raw = env.get(name) or default
        if raw not in allowed:
            problems.append(f"{name}={raw!r}: expected one of {', '.join(allowed)}")
            return default
        return raw

    def boolean(name: str, default: bool) -> bool:
        raw = env.get(name)
        if raw is None or raw == "":
            return default
        if raw.lower() in ("1", "true", "yes", "on"):
            return True
        if raw.lower() in ("0", "false", "no", "off"):
            return False
        problems.append(f"{name}={raw!r}: expected true or false")
        return default

    run_env = choice("CITYGRID_ENV", "development", ("development", "production", "test"))
    data_dir = Path(env.get("CITYGRID_DATA_DIR") or ROOT / "var")

    db_url = env.get("DATABASE_URL")
    if not db_url:
        if run_env == "production":
            problems.append("DATABASE_URL: required when CITYGRID_ENV=production")
        db_url = local_database_url(env)
    elif not re.match(r"^postgres(ql)?(\+\w+)?://", db_url):
        problems.append("DATABASE_URL: expected a postgresql:// URL")
    db_url = normalize_db_url(db_url)

    srid = integer("CITYGRID_STORAGE_SRID", 4547, 1024, 999999)
    if "CITYGRID_STORAGE_SRID" in env and not problems:
        problem = _storage_srid_problem(srid)
        if problem:
            problems.append(f"CITYGRID_STORAGE_SRID={srid}: {problem}")

    district_code = env.get("CITYGRID_DISTRICT_CODE") or DEMO_DISTRICT_CODE_PLACEHOLDER
    if not re.fullmatch(r"[1-9]\d{5}", district_code):
        problems.append(
            f"CITYGRID_DISTRICT_CODE={district_code!r}: expected 6 digits, not starting with 0"
        )

    tile_url = env.get("CITYGRID_TILE_URL") or None
    if tile_url and not all(t in tile_url for t in ("{z}", "{x}", "{y}")):
        problems.append("CITYGRID_TILE_URL: must contain {z}, {x} and {y}")
    tile_crs = choice("CITYGRID_TILE_CRS", "wgs84", TILE_CRS)

    log_level = choice(
        "CITYGRID_LOG_LEVEL", "INFO", ("DEBUG", "INFO", "WARNING", "ERROR")
    )
    log_format = choice("CITYGRID_LOG_FORMAT", "text", ("text", "json"))
    locale = choice("CITYGRID_LOCALE", "zh_CN", LOCALES)
    port = integer("CITYGRID_PORT", 5000, 1, 65535)
    workers = integer("CITYGRID_WORKERS", 2, 1, 64)
    max_upload_mb = integer("CITYGRID_MAX_UPLOAD_MB", 100, 1, 2048)
    body_timeout_s = integer("CITYGRID_BODY_TIMEOUT_S", 120, 1, 3600)
    ttl = integer("CITYGRID_TOKEN_TTL_HOURS", 24 * 30, 1, 24 * 365)
    max_bbox_cells = integer("CITYGRID_MAX_BBOX_CELLS", 5000, 10, 100000)
    category_standard = choice("CITYGRID_CATEGORY_STANDARD", CATEGORY_STANDARDS[0], CATEGORY_STANDARDS)
    max_photo_mb = integer("CITYGRID_MAX_PHOTO_MB", 10, 1, 50)
    max_pipe_radius_m = integer("CITYGRID_MAX_PIPE_RADIUS_M", 200, 1, 5000)
    secure_cookie = boolean("CITYGRID_SESSION_COOKIE_SECURE", run_env == "production")
    trusted_proxies = integer("CITYGRID_TRUSTED_PROXIES", 0, 0, 5)

    # Absolute links (Open311 discovery, media_url) are built from this, never from the
    # client's Host header, which anyone can set.
    public_url = (env.get("CITYGRID_PUBLIC_URL") or "").strip().rstrip("/")
    if not public_url:
        if run_env == "production":
            problems.append("CITYGRID_PUBLIC_URL: required when CITYGRID_ENV=production "
                            "(the https:// address clients reach this server at)")
        host = env.get("CITYGRID_HOST") or "127.0.0.1"
        public_url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"
    else:
        parts = urlsplit(public_url)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
            problems.append(f"CITYGRID_PUBLIC_URL={public_url!r}: expected an http(s) URL such as "
                            "https://city.example.cn (no query or fragment)")

    demo_password = env.get("CITYGRID_DEMO_PASSWORD") or "citygrid-demo"
    if len(demo_password) < 8:
        problems.append("CITYGRID_DEMO_PASSWORD: at least 8 characters")

    secret = _secret_key(env, data_dir, run_env == "production")
    if secret is None:
        problems.append("CITYGRID_SECRET_KEY: required when CITYGRID_ENV=production")
    elif len(secret) < 16:
        problems.append("CITYGRID_SECRET_KEY: at least 16 characters")

    if problems:
        raise SettingsError(problems)
    return Settings(
        database_url=db_url,
        secret_key=secret or "",
        storage_srid=srid,
        district_code=district_code,
        district_name=env.get("CITYGRID_DISTRICT_NAME") or "郑东新区",
        env=run_env,
        tile_url=tile_url,
        tile_attribution=env.get("CITYGRID_TILE_ATTRIBUTION", ""),
        tile_crs=tile_crs,
        demo_password=demo_password,
        max_upload_bytes=max_upload_mb * 1024 * 1024,
        body_timeout_s=body_timeout_s,
        token_ttl_hours=ttl,
        default_locale=locale,
        log_level=log_level,
        log_format=log_format,
        host=env.get("CITYGRID_HOST") or "127.0.0.1",
        port=port,
        workers=workers,
        data_dir=data_dir,
        session_cookie_secure=secure_cookie,
        trusted_proxies=trusted_proxies,
        max_bbox_cells=max_bbox_cells,
        category_standard=category_standard,
        photo_dir=Path(env.get("CITYGRID_PHOTO_DIR") or data_dir / "photos"),
        max_photo_bytes=max_photo_mb * 1024 * 1024,
        max_pipe_radius_m=max_pipe_radius_m,
        public_url=public_url,
    )
