"""Idempotency-Key claims: the first request with a key does the work, retries get its answer."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from ..models import IdempotencyRecord


def claim(session: Session, user_id: int, key: str, request_hash: str) -> bool:
    """Take ``key`` for this request, before any work (or case number) is spent on it.

    True: this request holds the key until its transaction ends, and must :func:`answer`
    before committing.  False: another request committed it; roll back and replay its
    answer (:func:`stored`).  While another transaction holds the key uncommitted, this
    waits on the primary key for it to commit (False) or roll back (True), so retries
    racing each other draw no case number and write no photo.
    """
    claimed = session.execute(
        insert(IdempotencyRecord)
        .values(user_id=user_id, key=key, request_hash=request_hash, status=0, body={})
        .on_conflict_do_nothing(index_elements=["user_id", "key"])
        .returning(IdempotencyRecord.key)
    ).first()
    return claimed is not None


def answer(session: Session, user_id: int, key: str, status: int, body: dict[str, Any]) -> None:
    """Record the answer to replay for ``key`` (claimed by this transaction)."""
    session.execute(
        sa.update(IdempotencyRecord)
        .where(IdempotencyRecord.user_id == user_id, IdempotencyRecord.key == key)
        .values(status=status, body=body)
    )


def stored(session: Session, user_id: int, key: str) -> IdempotencyRecord | None:
    """The committed record of ``key``, if any."""
    return session.get(IdempotencyRecord, (user_id, key))
