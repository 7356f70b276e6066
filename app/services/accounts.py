"""Users, password checks, sign-in sessions and API tokens."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from ..config import ROLES
from ..models import ApiToken, Department, User, UserSession
from .audit import Actor, record

# A hash to compare against when the user does not exist, so that timing does not reveal
# which usernames are real.
_DUMMY_HASH = generate_password_hash("not-a-real-password")


class AccountError(ValueError):
    """A user cannot be created as asked; ``field`` names the bad value."""

    def __init__(self, field: str, message: str):
        self.field = field
        super().__init__(f"{field}: {message}")


def _check_password(password: str) -> None:
    if len(password) < 8:
        raise AccountError("password", "at least 8 characters")


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
    _check_password(password)
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


def issue_token(
    session: Session, user: User, ttl_hours: int, label: str | None = None, actor: Actor | None = None
) -> tuple[str, ApiToken]:
    """Create a bearer token; the clear text is returned once and never stored.

    ``actor`` (the user, with the request's id and address) is who the audit row names.
    """
    token = "cg_" + secrets.token_urlsafe(32)
    row = ApiToken(
        user_id=user.id,
        token_hash=_token_digest(token),
        label=label,
        expires_at=datetime.now(timezone.utc) + timedelta(hours=ttl_hours),
    )
    session.add(row)
    session.flush()
    record(session, actor or Actor(user.id, user.username, user.role), "token.issue", "api_token", row.id,
           {"label": label} if label else None)
    return token, row


def caller_for_token(session: Session, token: str) -> tuple[User, ApiToken] | None:
    """The active user owning an unexpired, unrevoked token, and the token (one query: it runs
    per request)."""
    row = session.execute(
        sa.select(User, ApiToken)
        .join(ApiToken, ApiToken.user_id == User.id)
        .where(
            ApiToken.token_hash == _token_digest(token),
            ApiToken.revoked.is_(False),
            ApiToken.expires_at > sa.func.now(),
            User.active.is_(True),
        )
    ).one_or_none()
    return None if row is None else (row[0], row[1])


def tokens_of(session: Session, user: User) -> list[ApiToken]:
    """A user's tokens, newest first (revoked and expired ones included)."""
    return list(session.scalars(
        sa.select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id.desc())
    ))


def revoke_token(session: Session, actor: Actor, caller: User, token_id: int) -> ApiToken | None:
    """Revoke one token: the caller's own, or anyone's for an admin; None if not theirs to see.

    Revoking a revoked token again changes nothing and writes no audit row.
    """
    row = session.get(ApiToken, token_id)
    if row is None or (row.user_id != caller.id and caller.role != "admin"):
        return None
    if not row.revoked:
        row.revoked = True
        record(session, actor, "token.revoke", "api_token", row.id, {"user_id": row.user_id})
        session.flush()
    return row


# -- sign-in sessions -----------------------------------------------------------------------

#: last_seen_at / last_used_at are written at most this often, not on every request.
TOUCH_EVERY = timedelta(minutes=5)


def start_session(
    session: Session, user: User, lifetime: timedelta, ip: str | None, user_agent: str | None
) -> UserSession:
    """A new server-side session for ``user``, valid for ``lifetime`` from now; its id goes into
    the signed cookie."""
    now = datetime.now(timezone.utc)
    row = UserSession(
        id=secrets.token_urlsafe(32), user_id=user.id, created_at=now, last_seen_at=now,
        expires_at=now + lifetime, ip=ip, user_agent=(user_agent or "")[:255] or None,
    )
    session.add(row)
    session.flush()
    return row


def caller_for_session(session: Session, session_id: str) -> tuple[User, UserSession] | None:
    """The active user of a live (not ended, not expired) session, and the session (one query)."""
    row = session.execute(
        sa.select(User, UserSession)
        .join(UserSession, UserSession.user_id == User.id)
        .where(
            UserSession.id == session_id,
            UserSession.ended_at.is_(None),
            UserSession.expires_at > sa.func.now(),
            User.active.is_(True),
        )
    ).one_or_none()
    return None if row is None else (row[0], row[1])


def end_session(session: Session, session_id: str, reason: str = "logout") -> bool:
    """End one session; False if it had already ended."""
    done = session.execute(
        sa.update(UserSession)
        .where(UserSession.id == session_id, UserSession.ended_at.is_(None))
        .values(ended_at=sa.func.now(), end_reason=reason)
    )
    return done.rowcount > 0


def end_all_access(session: Session, user: User, reason: str) -> tuple[int, int]:
    """End every session of ``user`` and revoke every token; (sessions, tokens) ended."""
    sessions = session.execute(
        sa.update(UserSession)
        .where(UserSession.user_id == user.id, UserSession.ended_at.is_(None))
        .values(ended_at=sa.func.now(), end_reason=reason)
    ).rowcount
    tokens = session.execute(
        sa.update(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked.is_(False)).values(revoked=True)
    ).rowcount
    return sessions, tokens


def touch(session: Session, *, session_id: str | None = None, token_id: int | None = None) -> None:
    """Note that a session or token was just used (the caller commits, off the request)."""
    if session_id is not None:
        session.execute(sa.update(UserSession).where(UserSession.id == session_id)
                        .values(last_seen_at=sa.func.now()))
    if token_id is not None:
        session.execute(sa.update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=sa.func.now()))


def set_password(session: Session, actor: Actor, user: User, password: str) -> None:
    """Change a password; every session and token of the user ends with the old one.

    The one place passwords change, so no path can leave old credentials working.
    """
    _check_password(password)
    user.password_hash = hash_password(password)
    sessions, tokens = end_all_access(session, user, "password")
    record(session, actor, "user.password", "user", user.id, {"sessions_ended": sessions, "tokens_revoked": tokens})
    session.flush()


def set_active(session: Session, actor: Actor, user: User, active: bool) -> None:
    """Activate or deactivate a user; deactivation ends every session and token."""
    user.active = active
    detail: dict = {"active": active}
    if not active:
        sessions, tokens = end_all_access(session, user, "deactivated")
        detail.update(sessions_ended=sessions, tokens_revoked=tokens)
    record(session, actor, "user.activate" if active else "user.deactivate", "user", user.id, detail)
    session.flush()
