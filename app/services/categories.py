"""Category directories (GB/T 47678.5-2026 and legacy GB/T 30428.2), their time limits and admin edits."""

from __future__ import annotations

import csv
import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from ..config import CATEGORY_STANDARDS
from ..models import Category, Department, TimeLimit
from ..models.catalog import KINDS, LIMIT_UNITS, STAGES, URGENCIES
from . import refcache
from .audit import Actor, record
from .names import in_language

__all__ = [
    "CATEGORY_FILES",
    "SEED_DIR",
    "CategoryError",
    "CategoryNotFound",
    "ResolvedLimit",
    "category_detail",
    "category_tree",
    "load_categories",
    "resolve_time_limit",
    "update_category",
]

LOGGER = logging.getLogger(__name__)

SEED_DIR = Path(__file__).resolve().parent.parent / "seed"

#: Directory file and the column holding the class code, per standard.
CATEGORY_FILES = {
    "GB/T 47678.5-2026": ("classification_gbt47678_5_2026.csv", "code5"),
    "GB/T 30428.2-2013": ("classification_legacy_gbt30428_2.csv", "code"),
}
DEPARTMENTS_CSV = "category_departments.csv"
TIME_LIMITS_CSV = "time_limits.csv"

_KIND_OF = {"管理部件": "component", "管理事项": "event", "管理事件": "event"}

#: Display name of each kind as the standard spells it (2026 renamed 事件 to 事项).
KIND_NAMES = {
    ("GB/T 47678.5-2026", "component"): "管理部件",
    ("GB/T 47678.5-2026", "event"): "管理事项",
    ("GB/T 30428.2-2013", "component"): "管理部件",
    ("GB/T 30428.2-2013", "event"): "管理事件",
}

#: English names of the kinds (the chips of the report form), keyed like KIND_NAMES.
KIND_NAMES_EN = {
    ("GB/T 47678.5-2026", "component"): "Components",
    ("GB/T 47678.5-2026", "event"): "Matters",
    ("GB/T 30428.2-2013", "component"): "Components",
    ("GB/T 30428.2-2013", "event"): "Events",
}

#: English names of the major classes, keyed by (standard, kind, major code).
MAJOR_NAMES_EN = {
    ("GB/T 47678.5-2026", "component", "01"): "Municipal utilities",
    ("GB/T 47678.5-2026", "component", "02"): "Traffic facilities",
    ("GB/T 47678.5-2026", "component", "03"): "City appearance and sanitation facilities",
    ("GB/T 47678.5-2026", "component", "04"): "Landscaping facilities",
    ("GB/T 47678.5-2026", "component", "05"): "Other managed components",
    ("GB/T 47678.5-2026", "event", "01"): "Municipal utility faults",
    ("GB/T 47678.5-2026", "event", "02"): "Traffic facility faults",
    ("GB/T 47678.5-2026", "event", "03"): "Sanitation facility faults",
    ("GB/T 47678.5-2026", "event", "04"): "Landscaping facility faults",
    ("GB/T 47678.5-2026", "event", "05"): "Other component faults",
    ("GB/T 47678.5-2026", "event", "06"): "City appearance and environment",
    ("GB/T 47678.5-2026", "event", "07"): "Publicity and advertising",
    ("GB/T 47678.5-2026", "event", "08"): "Construction management",
    ("GB/T 47678.5-2026", "event", "09"): "Street order",
    ("GB/T 47678.5-2026", "event", "10"): "Other matters",
    ("GB/T 30428.2-2013", "component", "01"): "Public utilities",
    ("GB/T 30428.2-2013", "component", "02"): "Roads and traffic",
    ("GB/T 30428.2-2013", "component", "03"): "City appearance",
    ("GB/T 30428.2-2013", "component", "04"): "Landscaping",
    ("GB/T 30428.2-2013", "component", "05"): "Housing and land",
    ("GB/T 30428.2-2013", "component", "06"): "Other facilities",
    ("GB/T 30428.2-2013", "event", "01"): "City appearance and environment",
    ("GB/T 30428.2-2013", "event", "02"): "Publicity and advertising",
    ("GB/T 30428.2-2013", "event", "03"): "Construction management",
    ("GB/T 30428.2-2013", "event", "04"): "Emergencies",
    ("GB/T 30428.2-2013", "event", "05"): "Street order",
    ("GB/T 30428.2-2013", "event", "06"): "Other",
}

MAX_DUPLICATE_RADIUS_M = 500.0
#: Upper bound of an editable limit: a year of days, generous for every unit.
MAX_LIMIT_VALUE = 366 * 24 * 60
MAX_AREA_CLASS = 9
EDITABLE = (
    "default_department", "auto_dispatch", "enabled", "duplicate_radius_m",
    "name_en", "local_code", "time_limits",
)


class CategoryError(ValueError):
    """A category, standard or time-limit value is invalid; ``field`` names the bad part.

    Examples
    --------
    >>> err = CategoryError("duplicate_radius_m", "must be > 0 and <= 500, got 900")
    >>> err.field, str(err)
    ('duplicate_radius_m', 'duplicate_radius_m: must be > 0 and <= 500, got 900')
    """

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class CategoryNotFound(CategoryError):
    """No category has the given id.

    Examples
    --------
    >>> CategoryNotFound(7).field
    'id'
    """

    def __init__(self, category_id: object):
        super().__init__("id", f"no category has id {category_id!r}")


@dataclass(frozen=True)
class ResolvedLimit:
    """The time limit that applies to a stage, and where it comes from.

    ``level`` says which row won: ``category+area``, ``category``, ``default+area`` or ``default``.

    Examples
    --------
    >>> ResolvedLimit(2.0, "working_days", "citygrid default", "default", 1).as_dict()
    {'value': 2.0, 'unit': 'working_days'}
    """

    value: float
    unit: str
    source: str | None
    level: str
    time_limit_id: int

    def as_dict(self) -> dict[str, Any]:
        """``{"value", "unit"}`` for JSON answers."""
        return {"value": self.value, "unit": self.unit}


# ---------------------------------------------------------------- seed reading


def _read_csv(name: str) -> list[dict[str, str]]:
    with (SEED_DIR / name).open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _check_standard(standard: str, field: str = "standard") -> str:
    if standard not in CATEGORY_STANDARDS:
        raise CategoryError(field, f"unknown standard {standard!r}; expected one of {', '.join(CATEGORY_STANDARDS)}")
    return standard


def _directory_rows(standard: str) -> list[dict[str, str]]:
    filename, code_col = CATEGORY_FILES[standard]
    rows = []
    for raw in _read_csv(filename):
        kind = _KIND_OF.get(raw["kind"])
        if kind is None or raw["standard_ref"] != standard:
            raise CategoryError("seed", f"{filename}: row {raw!r} has an unknown kind or standard_ref")
        rows.append({
            "standard_ref": standard, "kind": kind, "code": raw[code_col],
            "major_code": raw["major_code"], "major_name": raw["major_name"], "name": raw["name"],
        })
    return rows


def _department_plan(standard: str) -> tuple[dict, dict]:
    """(kind, major) → dept and (kind, code) → (dept, name_en) from the mapping file."""
    majors: dict[tuple[str, str], str] = {}
    codes: dict[tuple[str, str], tuple[str, str]] = {}
    for raw in _read_csv(DEPARTMENTS_CSV):
        if raw["standard"] != standard:
            continue
        kinds = KINDS if raw["kind"] == "any" else (raw["kind"],)
        for kind in kinds:
            if raw["code"]:
                en = raw["name_en"] or ""
                # Events 01–05 of 2026 are "<component>异常": the English follows suit.
                if raw["kind"] == "any" and kind == "event" and en:
                    en = f"{en} fault"
                codes[(kind, raw["code"])] = (raw["department"], en)
            else:
                majors[(kind, raw["major_code"])] = raw["department"]
    return majors, codes


# ---------------------------------------------------------------- loading


def load_categories(
    session: Session,
    actor: Actor,
    standards: Sequence[str] = CATEGORY_STANDARDS,
) -> dict[str, int]:
    """Upsert the seed directories and their seed time limits; safe to run again.

    Directory fields (names, major class) follow the seed files; the default department and
    English name are filled only where still empty, so admin edits survive a reload and a
    department created later (the demo) is picked up by the next load. Seed time limits are
    added only where no row with the same key exists. One audit row is written.

    Returns counts: one entry per standard (rows in its directory), ``inserted``,
    ``with_department`` and ``time_limits_added``.

    Examples
    --------
    >>> load_categories(None, None, standards=("GB/T 1-1999",))
    Traceback (most recent call last):
    ...
    app.services.categories.CategoryError: standards: unknown standard 'GB/T 1-1999'; expected one of GB/T 47678.5-2026, GB/T 30428.2-2013
    """
    for s in standards:
        _check_standard(s, "standards")
    dept_ids = dict(session.execute(sa.select(Department.code, Department.id)).all())
    counts: dict[str, int] = {"inserted": 0, "with_department": 0}
    for standard in standards:
        majors, codes = _department_plan(standard)
        values = []
        for row in _directory_rows(standard):
            dept_code, name_en = codes.get((row["kind"], row["code"]), (None, None))
            dept_code = dept_code or majors.get((row["kind"], row["major_code"]))
            values.append({**row, "name_en": name_en or None, "default_department_id": dept_ids.get(dept_code)})
        stmt = pg_insert(Category.__table__).values(values)
        ex = stmt.excluded
        table = Category.__table__
        stmt = stmt.on_conflict_do_update(
            constraint="uq_categories_standard_kind_code",
            set_={
                "major_code": ex.major_code,
                "major_name": ex.major_name,
                "name": ex.name,
                "name_en": sa.func.coalesce(table.c.name_en, ex.name_en),
                "default_department_id": sa.func.coalesce(table.c.default_department_id, ex.default_department_id),
                "updated_at": sa.func.now(),
            },
        ).returning(sa.literal_column("xmax = 0").label("inserted"), table.c.default_department_id)
        result = session.execute(stmt).all()
        counts[standard] = len(result)
        counts["inserted"] += sum(1 for r in result if r.inserted)
        counts["with_department"] += sum(1 for r in result if r.default_department_id is not None)
    counts["time_limits_added"] = _seed_time_limits(session, standards)
    record(session, actor, "categories.load", "categories", None, dict(counts))
    LOGGER.info("categories loaded: %s", counts)
    refcache.invalidate()
    return counts


def _seed_time_limits(session: Session, standards: Iterable[str]) -> int:
    standards = set(standards)
    ids = {
        (r.standard_ref, r.kind, r.code): r.id
        for r in session.execute(
            sa.select(Category.id, Category.standard_ref, Category.kind, Category.code)
            .where(Category.standard_ref.in_(standards))
        )
    }
    existing = set(session.execute(
        sa.select(TimeLimit.category_id, TimeLimit.stage, TimeLimit.urgency, TimeLimit.area_class)
    ).all())
    new = []
    for raw in _read_csv(TIME_LIMITS_CSV):
        if raw["standard"]:
            if raw["standard"] not in standards:
                continue
            category_id = ids.get((raw["standard"], raw["kind"], raw["code"]))
            if category_id is None:
                raise CategoryError("seed", f"{TIME_LIMITS_CSV}: no category {raw['standard']} {raw['kind']} {raw['code']}")
        else:
            category_id = None
        area = int(raw["area_class"]) if raw["area_class"] else None
        key = (category_id, raw["stage"], raw["urgency"], area)
        if key in existing:
            continue
        existing.add(key)
        new.append({
            "category_id": category_id, "stage": raw["stage"], "urgency": raw["urgency"],
            "area_class": area, "limit_value": float(raw["value"]), "limit_unit": raw["unit"],
            "source": f"{raw['source']} — {raw['note']}" if raw["note"] else raw["source"],
        })
    if new:
        session.execute(sa.insert(TimeLimit), new)
    return len(new)


# ---------------------------------------------------------------- time limits


_LEVELS = ("category+area", "category", "default+area", "default")


def _rank(row: TimeLimit | Any, urgency: str, area_class: int | None) -> tuple[int, int] | None:
    """Sort key of a candidate row (lower wins), or None when it does not apply."""
    if row.urgency not in (urgency, "normal"):
        return None
    if row.area_class is not None and row.area_class != area_class:
        return None
    level = (0 if row.category_id is not None else 2) + (0 if row.area_class is not None else 1)
    # Specificity first; within one level an exact urgency beats the normal fallback.
    return level, 0 if row.urgency == urgency else 1


def _pick(rows: Iterable[Any], urgency: str, area_class: int | None) -> ResolvedLimit | None:
    ranked = [(k, r) for r in rows if (k := _rank(r, urgency, area_class)) is not None]
    if not ranked:
        return None
    key, row = min(ranked, key=lambda kr: (kr[0], kr[1].id))
    return ResolvedLimit(float(row.limit_value), row.limit_unit, row.source, _LEVELS[key[0]], row.id)


def _check_choice(value: object, allowed: Sequence[str], field: str) -> str:
    if value not in allowed:
        raise CategoryError(field, f"must be one of {', '.join(allowed)}; got {value!r}")
    return value  # type: ignore[return-value]


def resolve_time_limit(
    session: Session,
    category_id: int | None,
    stage: str,
    urgency: str = "normal",
    area_class: int | None = None,
) -> ResolvedLimit | None:
    """The limit for a stage: the most specific row wins, in one query.

    Order: category + area class > category > default + area class > default; within one
    level a row of the requested urgency beats the ``normal`` row (the fallback when no urgent
    row exists). So a category's own limit beats an urgent default. ``None`` means no limit is
    configured for the stage (不设时限).

    Examples
    --------
    >>> resolve_time_limit(None, 1, "lunch")
    Traceback (most recent call last):
    ...
    app.services.categories.CategoryError: stage: must be one of accept, verify, file, dispatch, handle, send_check, check, close; got 'lunch'
    """
    _check_choice(stage, STAGES, "stage")
    _check_choice(urgency, URGENCIES, "urgency")
    cat = TimeLimit.category_id.is_(None)
    if category_id is not None:
        cat = sa.or_(cat, TimeLimit.category_id == category_id)
    rows = session.scalars(
        sa.select(TimeLimit).where(
            cat,
            TimeLimit.stage == stage,
            TimeLimit.urgency.in_({urgency, "normal"}),
            sa.or_(TimeLimit.area_class.is_(None), TimeLimit.area_class == area_class),
        )
    ).all()
    return _pick(rows, urgency, area_class)


def _limit_dict(row: TimeLimit) -> dict[str, Any]:
    return {
        "id": row.id, "stage": row.stage, "urgency": row.urgency, "area_class": row.area_class,
        "value": row.limit_value, "unit": row.limit_unit, "source": row.source,
    }


# ---------------------------------------------------------------- reading


def _dept(d: Department | None, language: str | None) -> dict[str, str | None] | None:
    if d is None:
        return None
    return {"code": d.code, "name": in_language(d.name, d.name_en, language), "name_zh": d.name, "name_en": d.name_en}


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def category_tree(
    session: Session,
    standard: str,
    q: str | None = None,
    kind: str | None = None,
    include_disabled: bool = False,
    language: str | None = "zh",
) -> list[dict[str, Any]]:
    """The directory as kind → major → minor, optionally filtered.

    ``q`` matches a Chinese or English name substring (case-insensitive), a code prefix, or a
    major class name (then the whole major is kept); majors left empty are dropped. Each
    category carries its default department and its normal handling limit.

    ``name`` of each kind, major and category is in ``language`` (English where an English
    name exists, else the standard's Chinese name); ``name_zh`` and ``name_en`` are the
    stored names.

    Examples
    --------
    >>> category_tree(None, "GB/T 47678.5-2026", kind="thing")
    Traceback (most recent call last):
    ...
    app.services.categories.CategoryError: kind: must be one of component, event; got 'thing'
    """
    _check_standard(standard)
    if kind is not None:
        _check_choice(kind, KINDS, "kind")
    stmt = (
        sa.select(Category, Department)
        .outerjoin(Department, Department.id == Category.default_department_id)
        .where(Category.standard_ref == standard)
        .order_by(Category.kind, Category.major_code, Category.code)
    )
    if kind is not None:
        stmt = stmt.where(Category.kind == kind)
    if not include_disabled:
        stmt = stmt.where(Category.enabled.is_(True))
    q = (q or "").strip()
    if q:
        like = f"%{_escape_like(q)}%"
        stmt = stmt.where(sa.or_(
            Category.name.ilike(like),
            Category.name_en.ilike(like),
            Category.major_name.ilike(like),
            Category.code.startswith(q, autoescape=True),
        ))
    rows = session.execute(stmt).all()
    limits = {
        r.category_id: r
        for r in session.scalars(
            sa.select(TimeLimit).where(
                TimeLimit.stage == "handle", TimeLimit.urgency == "normal", TimeLimit.area_class.is_(None)
            )
        )
    }
    default = limits.get(None)
    tree: dict[str, dict[str, Any]] = {}
    for cat, dept in rows:
        key = (standard, cat.kind)
        k = tree.setdefault(cat.kind, {
            "kind": cat.kind, "name": in_language(KIND_NAMES[key], KIND_NAMES_EN[key], language),
            "name_zh": KIND_NAMES[key], "name_en": KIND_NAMES_EN[key], "majors": {},
        })
        if cat.major_code not in k["majors"]:
            major_en = MAJOR_NAMES_EN.get((standard, cat.kind, cat.major_code))
            k["majors"][cat.major_code] = {
                "code": cat.major_code, "name": in_language(cat.major_name, major_en, language),
                "name_zh": cat.major_name, "name_en": major_en, "categories": [],
            }
        major = k["majors"][cat.major_code]
        limit = limits.get(cat.id, default)
        major["categories"].append({
            "id": cat.id, "code": cat.code, "name": in_language(cat.name, cat.name_en, language),
            "name_zh": cat.name, "name_en": cat.name_en,
            "default_department": _dept(dept, language), "auto_dispatch": cat.auto_dispatch, "enabled": cat.enabled,
            "handle_limit": None if limit is None else {"value": limit.limit_value, "unit": limit.limit_unit},
        })
    out = []
    for k in sorted(tree.values(), key=lambda v: KINDS.index(v["kind"])):
        k["majors"] = list(k["majors"].values())
        out.append(k)
    return out


def category_detail(session: Session, category_id: int, language: str | None = "zh") -> dict[str, Any]:
    """One category with its own time-limit rows and the effective limit of every stage.

    ``name`` and the department's ``name`` are in ``language`` (see :func:`category_tree`).

    Examples
    --------
    >>> CategoryNotFound(0).message
    'no category has id 0'
    """
    cat = session.get(Category, category_id)
    if cat is None:
        raise CategoryNotFound(category_id)
    rows = session.scalars(
        sa.select(TimeLimit)
        .where(sa.or_(TimeLimit.category_id == cat.id, TimeLimit.category_id.is_(None)))
        .order_by(TimeLimit.stage, TimeLimit.urgency, TimeLimit.area_class.nulls_first(), TimeLimit.id)
    ).all()
    effective = {}
    for stage in STAGES:
        of_stage = [r for r in rows if r.stage == stage]
        per = {}
        for urgency in URGENCIES:
            hit = _pick(of_stage, urgency, None)
            per[urgency] = None if hit is None else {**hit.as_dict(), "level": hit.level, "source": hit.source}
        effective[stage] = per
    return {
        "id": cat.id, "standard_ref": cat.standard_ref, "kind": cat.kind, "code": cat.code,
        "full_code": cat.full_code, "major_code": cat.major_code, "major_name": cat.major_name,
        "name": in_language(cat.name, cat.name_en, language), "name_zh": cat.name, "name_en": cat.name_en,
        "local_code": cat.local_code,
        "default_department": _dept(cat.default_department, language), "auto_dispatch": cat.auto_dispatch,
        "duplicate_radius_m": cat.duplicate_radius_m, "enabled": cat.enabled,
        "time_limits": [_limit_dict(r) for r in rows if r.category_id == cat.id],
        "effective_time_limits": effective,
    }


# ---------------------------------------------------------------- editing


def _bool(value: object, field: str) -> bool:
    if not isinstance(value, bool):
        raise CategoryError(field, f"must be true or false; got {value!r}")
    return value


def _text(value: object, field: str, max_len: int) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise CategoryError(field, f"must be a string or null; got {value!r}")
    value = value.strip()
    if len(value) > max_len:
        raise CategoryError(field, f"must be at most {max_len} characters; got {len(value)}")
    return value or None


def _number(value: object, field: str, lo: float, hi: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise CategoryError(field, f"must be a finite number; got {value!r}")
    if not lo < value <= hi:
        raise CategoryError(field, f"must be > {lo:g} and <= {hi:g}; got {value:g}")
    return float(value)


def _limit_changes(value: object) -> list[dict[str, Any]]:
    """Validated time-limit edits; ``value: null`` removes the category's own row."""
    if not isinstance(value, list):
        raise CategoryError("time_limits", f"must be a list of {{stage, urgency, area_class, value, unit}}; got {value!r}")
    out, seen = [], set()
    for i, item in enumerate(value):
        f = f"time_limits[{i}]"
        if not isinstance(item, Mapping):
            raise CategoryError(f, f"must be an object; got {item!r}")
        unknown = set(item) - {"stage", "urgency", "area_class", "value", "unit"}
        if unknown:
            raise CategoryError(f"{f}.{sorted(unknown)[0]}", "unknown field; expected stage, urgency, area_class, value, unit")
        stage = _check_choice(item.get("stage"), STAGES, f"{f}.stage")
        urgency = _check_choice(item.get("urgency", "normal"), URGENCIES, f"{f}.urgency")
        area = item.get("area_class")
        if area is not None and (isinstance(area, bool) or not isinstance(area, int) or not 1 <= area <= MAX_AREA_CLASS):
            raise CategoryError(f"{f}.area_class", f"must be null or a whole number 1–{MAX_AREA_CLASS}; got {area!r}")
        if "value" not in item:
            raise CategoryError(f"{f}.value", "is required (null removes the category's own limit)")
        limit = None
        unit = None
        if item["value"] is not None:
            limit = _number(item["value"], f"{f}.value", 0, MAX_LIMIT_VALUE)
            unit = _check_choice(item.get("unit"), LIMIT_UNITS, f"{f}.unit")
        key = (stage, urgency, area)
        if key in seen:
            raise CategoryError(f, f"repeats stage {stage!r}, urgency {urgency!r}, area_class {area!r}")
        seen.add(key)
        out.append({"stage": stage, "urgency": urgency, "area_class": area, "value": limit, "unit": unit})
    return out


def update_category(session: Session, actor: Actor, category_id: int, changes: Mapping[str, Any]) -> Category:
    """Apply admin edits to a category after validating every field; audit the diff.

    Editable: ``default_department`` (department code or null), ``auto_dispatch``,
    ``enabled``, ``duplicate_radius_m`` (0 < r ≤ 500), ``name_en``, ``local_code`` and
    ``time_limits`` (list of ``{stage, urgency, area_class, value, unit}``; ``value`` null
    removes the category's own row so the default applies). Nothing is changed when any field
    is invalid.

    Examples
    --------
    >>> update_category(None, None, 1, {"colour": "red"})
    Traceback (most recent call last):
    ...
    app.services.categories.CategoryError: colour: unknown field; editable: default_department, auto_dispatch, enabled, duplicate_radius_m, name_en, local_code, time_limits
    """
    if not isinstance(changes, Mapping) or not changes:
        raise CategoryError("body", "must be a non-empty object of fields to change")
    for key in changes:
        if key not in EDITABLE:
            raise CategoryError(str(key), f"unknown field; editable: {', '.join(EDITABLE)}")
    new: dict[str, Any] = {}
    if "auto_dispatch" in changes:
        new["auto_dispatch"] = _bool(changes["auto_dispatch"], "auto_dispatch")
    if "enabled" in changes:
        new["enabled"] = _bool(changes["enabled"], "enabled")
    if "duplicate_radius_m" in changes:
        new["duplicate_radius_m"] = _number(changes["duplicate_radius_m"], "duplicate_radius_m", 0, MAX_DUPLICATE_RADIUS_M)
    if "name_en" in changes:
        new["name_en"] = _text(changes["name_en"], "name_en", 150)
    if "local_code" in changes:
        new["local_code"] = _text(changes["local_code"], "local_code", 16)
    dept_change = None
    if "default_department" in changes:
        code = changes["default_department"]
        if code is not None:
            if not isinstance(code, str):
                raise CategoryError("default_department", f"must be a department code or null; got {code!r}")
            dept_change = session.scalar(sa.select(Department).where(Department.code == code))
            if dept_change is None:
                raise CategoryError("default_department", f"no department has code {code!r}")
    limits = _limit_changes(changes["time_limits"]) if "time_limits" in changes else []

    cat = session.get(Category, category_id)
    if cat is None:
        raise CategoryNotFound(category_id)
    diff: dict[str, list[Any]] = {}
    for field, value in new.items():
        old = getattr(cat, field)
        if old != value:
            diff[field] = [old, value]
            setattr(cat, field, value)
    if "default_department" in changes:
        old_code = cat.default_department.code if cat.default_department else None
        new_code = dept_change.code if dept_change else None
        if old_code != new_code:
            diff["default_department"] = [old_code, new_code]
            cat.default_department = dept_change
    if limits:
        limit_diff = _apply_limits(session, cat.id, limits)
        if limit_diff:
            diff["time_limits"] = limit_diff
    session.flush()
    record(session, actor, "category.update", "category", cat.id, {"code": cat.full_code, "standard": cat.standard_ref, "changes": diff})
    refcache.invalidate()
    return cat


def _apply_limits(session: Session, category_id: int, limits: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = {
        (r.stage, r.urgency, r.area_class): r
        for r in session.scalars(sa.select(TimeLimit).where(TimeLimit.category_id == category_id))
    }
    diff = []
    for item in limits:
        key = (item["stage"], item["urgency"], item["area_class"])
        row = rows.get(key)
        old = None if row is None else {"value": row.limit_value, "unit": row.limit_unit}
        if item["value"] is None:
            if row is not None:
                session.delete(row)
        elif row is None:
            session.add(TimeLimit(
                category_id=category_id, stage=item["stage"], urgency=item["urgency"], area_class=item["area_class"],
                limit_value=item["value"], limit_unit=item["unit"], source="admin edit",
            ))
        else:
            row.limit_value, row.limit_unit, row.source = item["value"], item["unit"], "admin edit"
        now = None if item["value"] is None else {"value": item["value"], "unit": item["unit"]}
        if old != now:
            diff.append({"stage": item["stage"], "urgency": item["urgency"], "area_class": item["area_class"],
                         "old": old, "new": now})
    return diff
