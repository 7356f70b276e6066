"""Live case events: NOTIFY inside the acting transaction, one LISTEN thread per process fanning out to streams."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import queue
import threading
import time
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session

__all__ = [
    "CHANNEL",
    "MAX_PAYLOAD",
    "SSE_HEARTBEAT",
    "SSE_OPENING",
    "Hub",
    "LiveError",
    "LoopQueue",
    "case_event",
    "hub_for",
    "notify",
    "sse_frame",
    "visible_to",
    "wait_for",
]

LOGGER = logging.getLogger(__name__)

#: The PostgreSQL channel case events go through.
CHANNEL = "citygrid_cases"
#: PostgreSQL refuses NOTIFY payloads of 8000 bytes or more.
MAX_PAYLOAD = 7999
#: Events a slow client may have waiting before it is told to resync instead.
QUEUE_SIZE = 500
#: A stream is told to reload everything (it may have missed events) with this event.
RESYNC = {"type": "resync"}

#: The first text of every stream: browsers reconnect 3 s after a drop (the page then reloads its view).
SSE_OPENING = "retry: 3000\n: connected\n\n"
#: What keeps proxies from closing an idle stream.
SSE_HEARTBEAT = ": heartbeat\n\n"

_NOTIFY_SQL = sa.text("SELECT pg_notify(:channel, :payload)")


class LiveError(ValueError):
    """A live event that cannot be sent (not JSON, or too large for NOTIFY)."""


def case_event(case_id: int, number: str, state: str, light: str | None, department: str | None,
               action: str, at: datetime) -> dict[str, Any]:
    """The small event sent for a reported case or an action on one.

    Examples
    --------
    >>> from datetime import timezone
    >>> case_event(7, "2026010100000007", "filed", "green", None, "file",
    ...            datetime(2026, 1, 1, tzinfo=timezone.utc))["at"]
    '2026-01-01T00:00:00+00:00'
    """
    return {"id": case_id, "number": number, "state": state, "light": light,
            "department": department, "action": action, "at": at.isoformat()}


def visible_to(event: dict[str, Any], department: str | None) -> bool:
    """Whether a stream scoped to ``department`` (None: the whole district) gets ``event``.

    Examples
    --------
    >>> visible_to({"type": "case", "department": "parks"}, "roads"), visible_to(RESYNC, "roads")
    (False, True)
    """
    return department is None or event.get("type") != "case" or event.get("department") == department


def sse_frame(event: dict[str, Any]) -> str:
    """One Server-Sent Events message: ``event: <type>`` and the rest as JSON data.

    Examples
    --------
    >>> sse_frame({"type": "case", "id": 7})
    'event: case\\ndata: {"id":7}\\n\\n'
    """
    kind = event.get("type", "case")
    data = {k: v for k, v in event.items() if k != "type"}
    return f"event: {kind}\ndata: {json.dumps(data, ensure_ascii=False, separators=(',', ':'))}\n\n"


def _payload(event: dict[str, Any]) -> str:
    try:
        text = json.dumps(event, ensure_ascii=False, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise LiveError(f"live event is not JSON-serialisable: {exc}") from None
    size = len(text.encode())
    if size > MAX_PAYLOAD:
        raise LiveError(f"live event is {size} bytes; NOTIFY takes at most {MAX_PAYLOAD}")
    return text


def notify(session: Session, event: dict[str, Any]) -> None:
    """Queue ``event`` on :data:`CHANNEL` in the session's transaction.

    PostgreSQL delivers it to listeners only when that transaction commits, so a rolled
    back action announces nothing.  Raises :class:`LiveError` for payloads NOTIFY refuses.
    """
    session.execute(_NOTIFY_SQL, {"channel": CHANNEL, "payload": _payload(event)})


def _conninfo(url: str | URL) -> str:
    """A libpq URI for psycopg from a SQLAlchemy URL (drops the +driver part)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


class Hub:
    """One LISTEN connection on a background thread, fanning events out to subscriber queues.

    The thread starts with the first subscriber and reconnects after a failure; each
    subscriber then gets :data:`RESYNC`, since events sent while it was away are lost.
    """

    def __init__(self, url: str | URL, *, poll_seconds: float = 1.0, retry_seconds: float = 2.0) -> None:
        self.conninfo = _conninfo(url)
        self.poll_seconds = poll_seconds
        self.retry_seconds = retry_seconds
        self.pid = os.getpid()
        self._lock = threading.Lock()
        self._queues: set[queue.Queue] = set()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.listening = threading.Event()

    def subscribe(self, q: queue.Queue | LoopQueue | None = None) -> queue.Queue | LoopQueue:
        """``q`` (default: a new bounded queue) receives every event from now on.

        The listener thread starts with the first subscriber.
        """
        if q is None:
            q = queue.Queue(maxsize=QUEUE_SIZE)
        with self._lock:
            self._queues.add(q)
            if self._thread is None or not self._thread.is_alive():
                self._stop.clear()
                self._thread = threading.Thread(target=self._run, name="citygrid-live", daemon=True)
                self._thread.start()
        return q

    def unsubscribe(self, q: queue.Queue | LoopQueue) -> None:
        """Stop delivering to ``q``."""
        with self._lock:
            self._queues.discard(q)

    @property
    def subscribers(self) -> int:
        """How many queues are subscribed."""
        with self._lock:
            return len(self._queues)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the listener thread (tests, shutdown)."""
        self._stop.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def publish(self, event: dict[str, Any]) -> None:
        """Hand ``event`` to every subscriber; a full queue is emptied and told to resync."""
        with self._lock:
            targets = list(self._queues)
        for q in targets:
            if isinstance(q, LoopQueue):
                q.put_threadsafe(event)
            else:
                _offer(q, event)

    def _run(self) -> None:
        import psycopg

        first = True
        while not self._stop.is_set():
            try:
                with psycopg.connect(self.conninfo, autocommit=True) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self.listening.set()
                    if not first:
                        LOGGER.info("live listener reconnected")
                        self.publish(RESYNC)
                    first = False
                    while not self._stop.is_set():
                        for note in conn.notifies(timeout=self.poll_seconds):
                            try:
                                event = json.loads(note.payload)
                            except ValueError:
                                LOGGER.warning("ignoring a non-JSON payload on %s", CHANNEL)
                                continue
                            if isinstance(event, dict):
                                self.publish({"type": "case", **event})
            except Exception:  # noqa: BLE001 — any failure: log, wait, reconnect
                self.listening.clear()
                if self._stop.is_set():
                    break
                LOGGER.exception("live listener lost its connection; retrying in %.0f s", self.retry_seconds)
                self._stop.wait(self.retry_seconds)
        self.listening.clear()


def _offer(q: queue.Queue | asyncio.Queue, event: dict[str, Any]) -> None:
    """Put ``event`` on ``q``; a full queue is emptied and told to resync instead.

    The client stopped reading: rather than block everyone, its backlog is dropped.
    """
    try:
        q.put_nowait(event)
    except (queue.Full, asyncio.QueueFull):
        while True:
            try:
                q.get_nowait()
            except (queue.Empty, asyncio.QueueEmpty):
                break
        q.put_nowait(RESYNC)


class LoopQueue:
    """A subscriber read by an asyncio event loop (the ASGI server's streams).

    The hub's thread never touches the asyncio queue itself: each event is handed to the
    loop with ``call_soon_threadsafe``, and the overflow rule of :meth:`Hub.publish`
    (drop the backlog, send :data:`RESYNC`) runs there.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, maxsize: int = QUEUE_SIZE) -> None:
        self.loop = loop
        self.queue: asyncio.Queue = asyncio.Queue(maxsize)

    def put_threadsafe(self, event: dict[str, Any]) -> None:
        """Hand ``event`` over from any thread (ignored once the loop has closed)."""
        try:
            self.loop.call_soon_threadsafe(_offer, self.queue, event)
        except RuntimeError:  # the loop is closed: the stream is gone
            pass

    async def get(self, timeout: float) -> dict[str, Any] | None:
        """The next event, or None after ``timeout`` seconds (a heartbeat is due)."""
        try:
            return await asyncio.wait_for(self.queue.get(), timeout)
        except TimeoutError:
            return None


_HUBS: dict[str, Hub] = {}
_HUBS_LOCK = threading.Lock()


def hub_for(url: str | URL) -> Hub:
    """The process's hub for a database (a forked worker gets its own, not its parent's).

    Examples
    --------
    >>> hub_for("postgresql+psycopg://u@localhost/db") is hub_for("postgresql+psycopg://u@localhost/db")
    True
    """
    key = _conninfo(url)
    with _HUBS_LOCK:
        hub = _HUBS.get(key)
        if hub is None or hub.pid != os.getpid():
            hub = _HUBS[key] = Hub(key)
        return hub


def wait_for(q: queue.Queue, timeout: float) -> dict[str, Any] | None:
    """The next event of ``q``, or None after ``timeout`` seconds (a heartbeat is due)."""
    deadline = time.monotonic() + timeout
    try:
        return q.get(timeout=max(deadline - time.monotonic(), 0.0))
    except queue.Empty:
        return None
