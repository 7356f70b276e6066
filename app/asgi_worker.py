"""The gunicorn worker `citygrid serve` uses: uvicorn's, without a Server header, ending streams at shutdown."""

from __future__ import annotations

import sys
from typing import Any

from gunicorn.arbiter import Arbiter
from uvicorn.server import Server
from uvicorn_worker import UvicornWorker

__all__ = ["Worker"]


class _Server(Server):
    """A uvicorn server that ends the front's open streams before waiting for connections to close.

    uvicorn waits for every open response before it sends lifespan shutdown, and an SSE
    response never ends by itself: without this a graceful stop would wait for the
    graceful timeout (and then be killed) while any command-centre page is open.
    """

    async def shutdown(self, sockets=None) -> None:
        close = getattr(self.config.app, "close_streams", None)
        if close is not None:
            close()
        await super().shutdown(sockets=sockets)


class Worker(UvicornWorker):
    """UvicornWorker with citygrid's settings.

    No ``Server`` header (nothing identifies the server software); proxy headers are left
    to the application, which trusts them only from a configured proxy.
    """

    CONFIG_KWARGS: dict[str, Any] = {
        "loop": "auto", "http": "auto", "server_header": False, "proxy_headers": False, "lifespan": "on",
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # A last resort for a response that still will not end: cancel it before the arbiter kills us.
        self.config.timeout_graceful_shutdown = max(self.cfg.graceful_timeout - 1, 1)

    async def _serve(self) -> None:
        # As UvicornWorker._serve, with the server above.
        self.config.app = self.wsgi
        server = _Server(config=self.config)
        self._install_sigquit_handler()
        await server.serve(sockets=self.sockets)
        if not server.started:
            sys.exit(Arbiter.WORKER_BOOT_ERROR)
