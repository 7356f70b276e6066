"""Write audit rows for every write (and for tax reads)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from ..models import AuditEntry


@dataclass(frozen=True)
class Actor:
    """Who is acting: a signed-in user, or a named system process (CLI, demo loader)."""

    id: int | None
    name: str
    role: str | None = None
    request_id: str | None = None
    ip: str | None = None


SYSTEM = Actor(id=None, name="system", role=None)


def record(
    session: Session,
    actor: Actor,
    action: str,
    entity: str,
    entity_id: str | int | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditEntry:
    """Add one audit row to the session (committed with the write it describes)."""
    entry = AuditEntry(
        actor_id=actor.id,
        actor=actor.name,
        role=actor.role,
        action=action,
        entity=entity,
        entity_id=None if entity_id is None else str(entity_id),
        detail=detail,
        request_id=actor.request_id,
        ip=actor.ip,
    )
    session.add(entry)
    return entry
