"""The ASGI front of `citygrid serve`: bodies read with a deadline before Flask runs, streams on the event loop.

Flask stays a WSGI app running in a bounded thread pool (a2wsgi), so a thread is only
ever busy with a request that is ready to be handled:

* a request body is read here, on the event loop, within ``body_timeout`` seconds and
  ``max_body`` bytes (413 at once for a larger Content-Length, 413 for a chunked body that
  grows past it, 408 for one that arrives too slowly), spooled to a temporary file when
  large, and only then handed to Flask as ``wsgi.input``;
* ``GET /api/v1/stream`` is authenticated and scoped by the Flask view as before; under
  this front the view does not stream but fills the request's :class:`StreamSlot` and
  answers with a marker header, and the stream itself runs here as a coroutine fed by the
  process's :class:`~app.services.live.Hub` (no thread held while it is open).

Nothing here identifies the server software in a response header.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
from dataclasses import dataclass
from typing import Any

from .services import live

__all__ = ["Front", "StreamSlot", "asgi_stream_slot"]

LOGGER = logging.getLogger(__name__)

#: The scope (and so ``environ["asgi.scope"]``) key of a request's :class:`StreamSlot`.
STREAM_SLOT = "citygrid.stream"
#: Internal response header by which the stream view asks the front to take over; never sent.
STREAM_MARKER = b"x-citygrid-stream"
_BODY = "citygrid.body"
#: Bodies up to this size stay in memory; larger ones go to a temporary file.
SPOOL_BYTES = 1024 * 1024
#: Headers of the marker answer that the stream does not send on.
_DROP_ON_STREAM = (STREAM_MARKER, b"content-length")


@dataclass
class StreamSlot:
    """What the stream view hands to the front: the hub and the caller's checked scope."""

    hub: live.Hub | None = None
    department: str | None = None
    heartbeat: float = 15.0

    def claim(self, hub: live.Hub, department: str | None, heartbeat: float) -> dict[str, str]:
        """Take the stream over for this request; returns the headers of the marker answer."""
        self.hub, self.department, self.heartbeat = hub, department, heartbeat
        return {STREAM_MARKER.decode(): "1"}


def asgi_stream_slot(environ: dict[str, Any]) -> StreamSlot | None:
    """The request's :class:`StreamSlot` when it runs under :class:`Front`, else None (plain WSGI)."""
    scope = environ.get("asgi.scope")
    return scope.get(STREAM_SLOT) if isinstance(scope, dict) else None


@dataclass
class _Body:
    file: Any
    size: int


class _Refused(Exception):
    """A request body the front refuses; carries the problem to answer with."""

    def __init__(self, problem) -> None:
        super().__init__(problem.detail)
        self.problem = problem


class Front:
    """ASGI application serving a WSGI app with pre-read bodies and event-loop SSE streams.

    Parameters
    ----------
    wsgi_app
        The Flask application.
    max_body
        Largest request body in bytes (the app's MAX_CONTENT_LENGTH).
    body_timeout
        Seconds a client has to send a whole request body.
    threads
        Size of the thread pool the WSGI app runs in.
    """

    def __init__(self, wsgi_app, *, max_body: int, body_timeout: float, threads: int) -> None:
        from a2wsgi import WSGIMiddleware

        self.wsgi_app = wsgi_app
        self.max_body = max_body
        self.body_timeout = body_timeout
        self.bridge = WSGIMiddleware(self._wsgi, workers=threads)
        self.closing = asyncio.Event()

    # -- entry --------------------------------------------------------------------------

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":  # no websockets here
            await send({"type": "websocket.close", "code": 1000})
            return
        try:
            body = await self._read_body(scope, receive)
        except _Refused as refused:
            await _send_problem(scope, send, refused.problem)
            return
        if body is None:  # the client went away
            return
        slot = StreamSlot()
        held: list[dict] = []

        async def intercept(message: dict) -> None:
            # The stream view's marker answer is kept back (and its empty body dropped).
            if message["type"] == "http.response.start" and slot.hub is not None and message["status"] == 200 \
                    and any(name == STREAM_MARKER for name, _ in message.get("headers", ())):
                held.append(message)
            elif not held:
                await send(message)

        try:
            await self.bridge({**scope, STREAM_SLOT: slot, _BODY: body}, receive, intercept)
        finally:
            body.file.close()
        if held:
            start = held[0]
            start["headers"] = [(n, v) for n, v in start["headers"] if n not in _DROP_ON_STREAM]
            if scope["method"] == "HEAD":
                await send(start)
                await send({"type": "http.response.body", "body": b""})
            else:
                await self._stream(slot, start, receive, send)

    def _wsgi(self, environ, start_response):
        body: _Body = environ["asgi.scope"][_BODY]
        environ["wsgi.input"] = body.file
        environ["CONTENT_LENGTH"] = str(body.size)
        environ.pop("HTTP_TRANSFER_ENCODING", None)  # the body is already de-chunked
        return self.wsgi_app(environ, start_response)

    async def _lifespan(self, receive, send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self.close_streams()
                await send({"type": "lifespan.shutdown.complete"})
                return

    def close_streams(self) -> None:
        """End every open stream (shutdown: browsers reconnect to the next server)."""
        self.closing.set()

    # -- request bodies -----------------------------------------------------------------

    async def _read_body(self, scope, receive) -> _Body | None:
        from .errors import BadRequest, PayloadTooLarge, RequestTimeout

        length = chunked = None
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                length = value
            elif name == b"transfer-encoding":
                chunked = b"chunked" in value.lower()
        if length is not None:
            try:
                length = int(length)
            except ValueError:
                raise _Refused(BadRequest("Content-Length is not a number", field="Content-Length")) from None
            if length > self.max_body:
                raise _Refused(PayloadTooLarge(f"request body exceeds {self.max_body} bytes"))
        file = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)
        size = 0
        if length or chunked:
            try:
                async with asyncio.timeout(self.body_timeout):
                    more = True
                    while more:
                        message = await receive()
                        if message["type"] == "http.disconnect":
                            file.close()
                            return None
                        chunk = message.get("body", b"")
                        size += len(chunk)
                        if size > self.max_body:
                            raise _Refused(PayloadTooLarge(f"request body exceeds {self.max_body} bytes"))
                        file.write(chunk)
                        more = message.get("more_body", False)
            except TimeoutError:
                file.close()
                raise _Refused(RequestTimeout(
                    f"the request body did not arrive within {self.body_timeout:g} s")) from None
            except _Refused:
                file.close()
                raise
            file.seek(0)
        return _Body(file, size)

    # -- streams ------------------------------------------------------------------------

    async def _stream(self, slot: StreamSlot, start: dict, receive, send) -> None:
        hub = slot.hub
        q = live.LoopQueue(asyncio.get_running_loop())
        hub.subscribe(q)
        gone = asyncio.ensure_future(_disconnected(receive))
        closing = asyncio.ensure_future(self.closing.wait())
        getter: asyncio.Future | None = None
        try:
            await send(start)
            await _chunk(send, live.SSE_OPENING)
            while True:
                if getter is None:
                    getter = asyncio.ensure_future(q.queue.get())
                done, _ = await asyncio.wait({getter, gone, closing}, timeout=slot.heartbeat,
                                             return_when=asyncio.FIRST_COMPLETED)
                if gone in done or closing in done:
                    break
                if getter in done:
                    event, getter = getter.result(), None
                    if live.visible_to(event, slot.department):
                        await _chunk(send, live.sse_frame(event))
                else:
                    await _chunk(send, live.SSE_HEARTBEAT)
            if not gone.done():
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        except OSError:  # the connection broke mid-write
            pass
        finally:
            hub.unsubscribe(q)
            for task in (gone, closing, getter):
                if task is not None:
                    task.cancel()


async def _disconnected(receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


async def _chunk(send, text: str) -> None:
    await send({"type": "http.response.body", "body": text.encode(), "more_body": True})


async def _send_problem(scope, send, problem) -> None:
    """A problem+json answer from the front itself (the connection is closed after it)."""
    import json

    from .errors import PROBLEM_JSON, request_id_from

    headers = dict(scope.get("headers", ()))
    request_id = request_id_from(headers.get(b"x-request-id", b"").decode("latin-1"))
    body = {**problem.to_dict(), "instance": scope.get("path", ""), "request_id": request_id}
    data = json.dumps(body, ensure_ascii=False).encode()
    await send({"type": "http.response.start", "status": problem.status, "headers": [
        (b"content-type", PROBLEM_JSON.encode()), (b"content-length", str(len(data)).encode()),
        (b"x-request-id", request_id.encode("latin-1")), (b"cache-control", b"no-store"),
        (b"x-content-type-options", b"nosniff"), (b"connection", b"close"),
    ]})
    await send({"type": "http.response.body", "body": data})
