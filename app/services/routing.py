"""Routing rules category × area → department, and the department suggested for a new case."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..models import Category, Cell, Community, Department, RoutingRule, Street
from .audit import Actor, record

__all__ = [
    "RoutingError",
    "RoutingRuleNotFound",
    "add_rule",
    "delete_rule",
    "list_rules",
    "rule_dict",
    "suggest_department",
]

LOGGER = logging.getLogger(__name__)

MAX_RULE_CELLS = 10_000
MAX_NOTE = 2000


class RoutingError(ValueError):
    """A routing rule value is invalid; ``field`` names the bad part.

    Examples
    --------
    >>> err = RoutingError("street_code", "no street has code '999'")
    >>> err.field, str(err)
    ('street_code', "street_code: no street has code '999'")
    """

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class RoutingRuleNotFound(RoutingError):
    """No routing rule has the given id.

    Examples
    --------
    >>> RoutingRuleNotFound(3).message
    'no routing rule has id 3'
    """

    def __init__(self, rule_id: object):
        super().__init__("id", f"no routing rule has id {rule_id!r}")


# Specificity: 3 = the rule's cell set holds the cell, 2 = community, 1 = street, 0 = whole
# district (no area); the category's default department ranks below every rule (-1).
# Ties: a category-specific rule beats a generic one (category_id NULL), then the lowest id.
# Rules naming an inactive department are skipped. One round trip: this runs on every intake.
# The ranking of candidate departments for a case at a place; {cell}, {community} and
# {street} are SQL expressions (bind parameters here, a located cell's columns in intake).
SUGGEST_SQL_TEMPLATE = """
    SELECT d.id, d.code
    FROM (
        SELECT r.department_id,
               CASE WHEN r.cell_codes IS NOT NULL THEN 3
                    WHEN r.community_code IS NOT NULL THEN 2
                    WHEN r.street_code IS NOT NULL THEN 1
                    ELSE 0 END AS specificity,
               (r.category_id IS NOT NULL) AS specific,
               r.id AS rule_id
        FROM routing_rules r
        WHERE (r.category_id = :category_id OR r.category_id IS NULL)
          AND CASE WHEN r.cell_codes IS NOT NULL THEN CAST({cell} AS varchar) = ANY (r.cell_codes)
                   WHEN r.community_code IS NOT NULL THEN r.community_code = {community}
                   WHEN r.street_code IS NOT NULL THEN r.street_code = {street}
                   ELSE TRUE END
        UNION ALL
        SELECT c.default_department_id, -1, TRUE, 0
        FROM categories c
        WHERE c.id = :category_id AND c.default_department_id IS NOT NULL
    ) m
    JOIN departments d ON d.id = m.department_id AND d.active
    ORDER BY m.specificity DESC, m.specific DESC, m.rule_id
    LIMIT 1
"""

_SUGGEST_SQL = sa.text(
    "SELECT departments.* FROM departments WHERE id = ("
    + SUGGEST_SQL_TEMPLATE.format(cell=":cell", community=":community", street=":street").replace(
        "SELECT d.id, d.code", "SELECT d.id", 1)
    + ")"
)


def suggest_department(
    session: Session,
    category_id: int,
    cell_code: str | None,
    community_code: str | None,
    street_code: str | None,
) -> Department | None:
    """The department a case of this category at this place should go to, in one query.

    Matching rules are ranked by specificity — a cell set holding the cell > the community >
    the street > no area (whole district) — then a rule for this category beats a rule for
    every category (``category_id`` NULL), then the lowest rule id. Without a matching rule
    the category's default department is used; ``None`` when there is neither (the
    dispatcher picks). Rules and defaults naming an inactive department are skipped.

    Examples
    --------
    >>> "specificity DESC, m.specific DESC, m.rule_id" in SUGGEST_SQL_TEMPLATE
    True
    """
    stmt = sa.select(Department).from_statement(_SUGGEST_SQL)
    return session.scalars(
        stmt, {"category_id": category_id, "cell": cell_code, "community": community_code, "street": street_code}
    ).first()


def rule_dict(rule: RoutingRule) -> dict[str, Any]:
    """JSON shape of a rule.

    Examples
    --------
    >>> r = RoutingRule(id=1, category_id=None, street_code="410105001", note=None)
    >>> r.department = Department(code="water", name="供水")
    >>> rule_dict(r)["area"]
    {'kind': 'street', 'street_code': '410105001'}
    """
    if rule.cell_codes:
        area: dict[str, Any] = {"kind": "cells", "cell_codes": list(rule.cell_codes)}
    elif rule.community_code:
        area = {"kind": "community", "community_code": rule.community_code}
    elif rule.street_code:
        area = {"kind": "street", "street_code": rule.street_code}
    else:
        area = {"kind": "district"}
    return {
        "id": rule.id,
        "category_id": rule.category_id,
        "department": {"code": rule.department.code, "name": rule.department.name},
        "area": area,
        "note": rule.note,
    }


def _code(value: object, field: str, digits: int) -> str:
    if not isinstance(value, str) or len(value) != digits or not value.isdigit():
        raise RoutingError(field, f"must be a {digits}-digit code; got {value!r}")
    return value


def add_rule(
    session: Session,
    actor: Actor,
    *,
    category_id: int | None,
    department_code: str,
    street_code: str | None = None,
    community_code: str | None = None,
    cell_codes: Sequence[str] | None = None,
    note: str | None = None,
) -> RoutingRule:
    """Create a rule after checking every value; at most one area kind may be given.

    A rule with no area applies to the whole district; ``category_id`` None applies to every
    category. A second rule with the same category and the same area is refused.

    Examples
    --------
    >>> add_rule(None, None, category_id=None, department_code="water",
    ...          street_code="410105001", community_code="410105001001")
    Traceback (most recent call last):
    ...
    app.services.routing.RoutingError: area: give at most one of street_code, community_code, cell_codes; got street_code, community_code
    """
    given = [n for n, v in (("street_code", street_code), ("community_code", community_code),
                            ("cell_codes", cell_codes)) if v is not None]
    if len(given) > 1:
        raise RoutingError("area", f"give at most one of street_code, community_code, cell_codes; got {', '.join(given)}")
    if category_id is not None and (isinstance(category_id, bool) or not isinstance(category_id, int)):
        raise RoutingError("category_id", f"must be a category id or null; got {category_id!r}")
    if not isinstance(department_code, str) or not department_code:
        raise RoutingError("department_code", f"must be a department code; got {department_code!r}")
    if note is not None and (not isinstance(note, str) or len(note) > MAX_NOTE):
        raise RoutingError("note", f"must be a string of at most {MAX_NOTE} characters")
    cells: list[str] | None = None
    if street_code is not None:
        _code(street_code, "street_code", 9)
        if session.get(Street, street_code) is None:
            raise RoutingError("street_code", f"no street has code {street_code!r}")
    if community_code is not None:
        _code(community_code, "community_code", 12)
        if session.get(Community, community_code) is None:
            raise RoutingError("community_code", f"no community has code {community_code!r}")
    if cell_codes is not None:
        if isinstance(cell_codes, str) or not isinstance(cell_codes, Sequence) or not cell_codes:
            raise RoutingError("cell_codes", f"must be a non-empty list of 15-digit cell codes; got {cell_codes!r}")
        if len(cell_codes) > MAX_RULE_CELLS:
            raise RoutingError("cell_codes", f"at most {MAX_RULE_CELLS} cells; got {len(cell_codes)}")
        cells = sorted({_code(c, "cell_codes", 15) for c in cell_codes})
        known = set(session.scalars(
            sa.select(Cell.code).where(Cell.code.in_(cells), Cell.valid_to.is_(None))
        ))
        missing = [c for c in cells if c not in known]
        if missing:
            raise RoutingError("cell_codes", f"no current cell has code {', '.join(missing[:5])}"
                               + (f" (and {len(missing) - 5} more)" if len(missing) > 5 else ""))
    if category_id is not None and session.get(Category, category_id) is None:
        raise RoutingError("category_id", f"no category has id {category_id}")
    dept = session.scalar(sa.select(Department).where(Department.code == department_code))
    if dept is None:
        raise RoutingError("department_code", f"no department has code {department_code!r}")
    if not dept.active:
        raise RoutingError("department_code", f"department {department_code!r} is inactive")

    same = sa.select(RoutingRule.id).where(
        RoutingRule.category_id.is_(None) if category_id is None else RoutingRule.category_id == category_id,
        RoutingRule.street_code.is_(None) if street_code is None else RoutingRule.street_code == street_code,
        RoutingRule.community_code.is_(None) if community_code is None else RoutingRule.community_code == community_code,
        RoutingRule.cell_codes.is_(None) if cells is None else RoutingRule.cell_codes == cells,
    )
    existing = session.scalar(same.limit(1))
    if existing is not None:
        raise RoutingError(given[0] if given else "category_id",
                           f"routing rule {existing} already covers this category and area; delete it first")
    rule = RoutingRule(
        category_id=category_id, department=dept, street_code=street_code, community_code=community_code,
        cell_codes=cells, note=(note or None),
    )
    session.add(rule)
    session.flush()
    record(session, actor, "routing_rule.create", "routing_rule", rule.id, rule_dict(rule))
    return rule


def delete_rule(session: Session, actor: Actor, rule_id: int) -> None:
    """Delete a rule; audited with the rule as it was.

    Examples
    --------
    >>> str(RoutingRuleNotFound(99))
    'id: no routing rule has id 99'
    """
    rule = session.get(RoutingRule, rule_id)
    if rule is None:
        raise RoutingRuleNotFound(rule_id)
    detail = rule_dict(rule)
    session.delete(rule)
    session.flush()
    record(session, actor, "routing_rule.delete", "routing_rule", rule_id, detail)


def list_rules(
    session: Session,
    category_id: int | None = None,
    department_code: str | None = None,
) -> list[RoutingRule]:
    """Rules, optionally of one category (its own rules and the generic ones) or department.

    Examples
    --------
    >>> list_rules.__name__
    'list_rules'
    """
    stmt = sa.select(RoutingRule).join(RoutingRule.department).order_by(RoutingRule.id)
    if category_id is not None:
        stmt = stmt.where(sa.or_(RoutingRule.category_id == category_id, RoutingRule.category_id.is_(None)))
    if department_code is not None:
        stmt = stmt.where(Department.code == department_code)
    return list(session.scalars(stmt))
