"""Users, password checks and API tokens."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from ..config import ROLES
from ..models import ApiToken, AuditEntry, Department, User
from .audit import Actor, record

# A hash to compare against when the user does not exist, so that timing does not reveal
# which usernames are real.
_DUMMY_HASH = generate_password_hash("not-a-real-password")


class AccountError(ValueError):
    """A user cannot be created as asked; ``field`` names the bad value."""

    def __init__(self, field: str, message: str):
        self.field = field
        super().__init__(f"{field}: {message}")


#: Failed sign-ins (per username, and per client address) tolerated within the window.
MAX_FAILURES = 10
FAILURE_WINDOW = timedelta(minutes=15)
FAILURE_ACTIONS = ("login.failed", "token.failed")


def too_many_failures(session: Session, username: str, ip: str | None) -> bool:
    """Whether sign-in for this username or from this address is locked for a while.

    Counted from the audit log, so the limit holds across server processes.
    """
    since = datetime.now(timezone.utc) - FAILURE_WINDOW
    who = [AuditEntry.actor == username[:64]]
    if ip:
        who.append(AuditEntry.ip == ip)
    failures = session.scalar(
        sa.select(sa.func.count())
        .select_from(AuditEntry)
        .where(AuditEntry.action.in_(FAILURE_ACTIONS), AuditEntry.at >= since, sa.or_(*who))
    )
    return failures >= MAX_FAILURES


def hash_password(password: str) -> str:
    """Salted scrypt hash (werkzeug's default)."""
    return generate_password_hash(password)


def authenticate(session: Session, username: str, password: str) -> User | None:
    """The active user with these credentials, or None."""
    user = session.scalar(sa.select(User).where(User.username == username))
    if user is None:
        check_password_hash(_DUMMY_HASH, password)
        return None
    if not check_password_hash(user.password_hash, password) or not user.active:
        return None
    return user


def add_user(
    session: Session,
    actor: Actor,
    *,
    username: str,
    password: str,
    role: str,
    district_code: str,
    display_name: str | None = None,
    department_code: str | None = None,
    phone: str | None = None,
) -> User:
    """Create a user after checking every field."""
    if not username or len(username) > 64 or not username.replace("_", "").replace("-", "").replace(".", "").isalnum():
        raise AccountError("username", "1–64 letters, digits, '.', '_' or '-'")
    if role not in ROLES:
        raise AccountError("role", f"unknown role {role!r}; expected one of {', '.join(ROLES)}")
    if len(password) < 8:
        raise AccountError("password", "at least 8 characters")
    if session.scalar(sa.select(User.id).where(User.username == username)) is not None:
        raise AccountError("username", f"{username!r} already exists")
    department = None
    if department_code:
        department = session.scalar(sa.select(Department).where(Department.code == department_code))
        if department is None:
            raise AccountError("department", f"unknown department {department_code!r}")
    if role == "department" and department is None:
        raise AccountError("department", "a department user needs a department")
    user = User(
        username=username,
        display_name=display_name or username,
        password_hash=hash_password(password),
        role=role,
        department=department,
        district_code=district_code,
        phone=phone,
    )
    session.add(user)
    session.flush()
    record(session, actor, "user.add", "user", user.id, {"username": username, "role": role})
    return user


def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(session: Session, user: User, ttl_hours: int, label: str | None = None) -> tuple[str, ApiToken]:
    """Create a bearer token; the clear text is returned once and never stored."""
    token = "cg_" + secrets.token_urlsafe(32)
    row = ApiToken(
        user_id=user.id,
        token_hash=_token_digest(token),
        label=label,
        expires_at=datetime.now(timezone.utc) + timedelta(hours=ttl_hours),
    )
    session.add(row)
    session.flush()
    record(session, Actor(user.id, user.username, user.role), "token.issue", "api_token", row.id)
    return token, row


def user_for_token(session: Session, token: str) -> User | None:
    """The active user owning an unexpired, unrevoked token (one query: it runs per request)."""
    return session.scalar(
        sa.select(User)
        .join(ApiToken, ApiToken.user_id == User.id)
        .where(
            ApiToken.token_hash == _token_digest(token),
            ApiToken.revoked.is_(False),
            ApiToken.expires_at > sa.func.now(),
            User.active.is_(True),
        )
    )
