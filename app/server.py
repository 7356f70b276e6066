"""How `citygrid serve` runs a WSGI app: gunicorn + uvicorn workers behind the ASGI front.

One home for the server configuration, so that the benchmarks serve their baselines exactly
as `citygrid serve` serves citygrid (same worker, front, thread pool and timeouts).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

__all__ = ["run"]


def run(load_wsgi: Callable[[], Any], *, bind: str, workers: int, threads: int, body_timeout: float,
        max_body: int | None = None, control_socket: str | None = None, accesslog: str | None = "-") -> None:
    """Serve the WSGI app made by ``load_wsgi`` (called in each worker) until stopped.

    ``max_body`` defaults to the app's ``MAX_CONTENT_LENGTH``. gunicorn's default control
    socket is one path per user (``~/.gunicorn/gunicorn.ctl``): a second server would take it
    over and stopping either would remove it, so there is none unless ``control_socket`` names one.
    """
    from gunicorn.app.base import BaseApplication

    class _Server(BaseApplication):
        def load_config(self):
            self.cfg.set("bind", bind)
            self.cfg.set("workers", workers)
            self.cfg.set("worker_class", "app.asgi_worker.Worker")
            self.cfg.set("timeout", 60)
            self.cfg.set("accesslog", accesslog)
            if control_socket:
                self.cfg.set("control_socket", os.path.abspath(control_socket))
            else:
                self.cfg.set("control_socket_disable", True)

        def load(self):
            from .asgi import Front

            wsgi = load_wsgi()
            limit = max_body if max_body is not None else wsgi.config.get("MAX_CONTENT_LENGTH")
            if not limit:
                raise ValueError("serving needs a body size limit: set MAX_CONTENT_LENGTH or pass max_body")
            return Front(wsgi, max_body=limit, body_timeout=body_timeout, threads=threads)

    _Server().run()
