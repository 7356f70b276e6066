"""Departments 专业部门 and demo users: one per role, one per department, one inspector per duty grid."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sqlalchemy import insert
from sqlalchemy.orm import Session

from ..config import Settings
from ..models import Department, User
from ..services.accounts import hash_password
from .errors import DemoError

__all__ = ["DEPARTMENTS", "ROLE_USERS", "TABLES", "People", "insert_people", "person_names"]

#: Tables this layer fills, in insert order.
TABLES = ("departments", "users")

#: (code, Chinese name, English name, works weekends).
DEPARTMENTS = (
    ("water", "供水", "Water supply", True),
    ("drainage", "排水", "Drainage", True),
    ("municipal_roads", "市政道路", "Municipal roads", False),
    ("sanitation", "环卫", "Sanitation", True),
    ("landscaping", "园林绿化", "Landscaping", False),
    ("traffic", "交通", "Traffic", True),
    ("law_enforcement", "城管执法", "Urban law enforcement", True),
    ("gas", "燃气", "Gas", True),
    ("power", "供电", "Power supply", True),
    ("telecom", "通信", "Telecommunications", False),
)

#: The demo accounts, one per role: (username, role, department code).
ROLE_USERS = (
    ("inspector1", "inspector", None),
    ("operator1", "operator", None),
    ("shift_leader1", "shift_leader", None),
    ("dispatcher1", "dispatcher", None),
    ("department1", "department", "municipal_roads"),
    ("tax_officer1", "tax_officer", None),
    ("leader1", "leader", None),
    ("admin1", "admin", None),
)

_SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程"
    "苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵"
)
_GIVEN = (
    "伟", "芳", "娜", "秀英", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟",
    "涛", "明", "超", "秀兰", "霞", "平", "刚", "桂英", "建华", "文", "华", "红", "建国", "志强",
    "海燕", "晓东", "丹", "鹏", "辉", "玉兰", "宁", "欣怡", "子涵", "浩然", "雨轩", "梓涵",
    "思远", "嘉怡", "俊杰", "佳琪", "振宇", "晨曦", "一鸣", "立新", "春梅",
)


@dataclass(frozen=True)
class People:
    """Ids of what :func:`insert_people` created.

    Examples
    --------
    >>> People({"water": 1}, {"inspector1": 3}, [3], [("inspector1", "inspector", "张伟")]).inspector_ids
    [3]
    """

    department_ids: dict[str, int]
    user_ids: dict[str, int]
    inspector_ids: list[int]
    #: (username, role, display name) of the role accounts in :data:`ROLE_USERS`.
    accounts: list[tuple[str, str, str]]


def person_names(count: int, seed: int) -> list[str]:
    """``count`` distinct, realistic Chinese names, deterministic by ``seed``.

    Examples
    --------
    >>> person_names(3, seed=1) == person_names(3, seed=1)
    True
    >>> len(set(person_names(500, seed=1)))
    500
    """
    total = len(_SURNAMES) * len(_GIVEN)
    if count > total:
        raise DemoError(f"{count} names asked for: at most {total} distinct names")
    picks = np.random.default_rng([seed, 5]).permutation(total)[:count]
    return [_SURNAMES[i // len(_GIVEN)] + _GIVEN[i % len(_GIVEN)] for i in picks.tolist()]


def insert_people(session: Session, settings: Settings, n_inspectors: int, seed: int) -> People:
    """Insert the departments and users; all users get ``settings.demo_password``.

    The users are the role accounts of :data:`ROLE_USERS`, ``dept_<code>1`` for every
    department, and ``inspector2`` … ``inspector<n>`` so that there are ``n_inspectors``
    inspectors.  The password is hashed once and the hash shared: hashing is slow by
    design, and every demo account has the same password anyway.

    Examples
    --------
    >>> insert_people.__name__
    'insert_people'
    """
    if n_inspectors < 1:
        raise DemoError(f"n_inspectors={n_inspectors}: at least 1 (inspector1)")
    district = settings.district_code
    dept_rows = [
        {
            "code": code,
            "name": name,
            "name_en": name_en,
            "district_code": district,
            "phone": f"0371-0000{k + 1:04d}",
            "works_weekends": weekends,
        }
        for k, (code, name, name_en, weekends) in enumerate(DEPARTMENTS)
    ]
    dept_ids = {
        code: id_
        for code, id_ in session.execute(
            insert(Department).returning(Department.code, Department.id, sort_by_parameter_order=True), dept_rows
        )
    }

    accounts = list(ROLE_USERS)
    accounts += [(f"dept_{code}1", "department", code) for code, *_ in DEPARTMENTS]
    accounts += [(f"inspector{k}", "inspector", None) for k in range(2, n_inspectors + 1)]
    names = person_names(len(accounts), seed)
    password_hash = hash_password(settings.demo_password)
    user_rows = [
        {
            "username": username,
            "display_name": names[k],
            "password_hash": password_hash,
            "role": role,
            "department_id": dept_ids[dept] if dept else None,
            "district_code": district,
            "phone": f"1380000{k + 1:04d}",
            "locale": "zh_CN",
        }
        for k, (username, role, dept) in enumerate(accounts)
    ]
    user_ids = {
        name: id_
        for name, id_ in session.execute(
            insert(User).returning(User.username, User.id, sort_by_parameter_order=True), user_rows
        )
    }
    inspectors = [user_ids["inspector1"]] + [user_ids[f"inspector{k}"] for k in range(2, n_inspectors + 1)]
    role_accounts = [(u, r, names[k]) for k, (u, r, _) in enumerate(ROLE_USERS)]
    return People(dept_ids, user_ids, inspectors, role_accounts)
