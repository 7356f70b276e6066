"""A loopback TCP proxy that can be cut, to take the database away from an app under test.

The shared test cluster is never stopped: the app talks to this proxy, and cutting the proxy
is, for the app, the database going away (connections reset, new ones turned away).
"""

from __future__ import annotations

import socket
import threading


class CuttableProxy:
    """Forward ``127.0.0.1:<port>`` to ``(host, port)`` until :meth:`cut`; :meth:`restore` reopens.

    While cut, every forwarded connection is closed and new connections are closed as soon as
    they are accepted (the client sees the server hang up) or, with ``cut(hold=True)``, kept
    open without an answer (a dead network: only the client's own timeout ends the wait).
    """

    def __init__(self, host: str, port: int):
        self.target = (host, port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._cut = False
        self._hold = False
        self._closed = False
        threading.Thread(target=self._accept, name="tcpcut-accept", daemon=True).start()

    def cut(self, *, hold: bool = False) -> None:
        """Close every forwarded connection; turn new ones away (or hold them unanswered)."""
        with self._lock:
            self._cut, self._hold = True, hold
            sockets, self._open = self._open, set()
        for sock in sockets:
            _close(sock)

    def restore(self) -> None:
        """Forward new connections again."""
        with self._lock:
            self._cut = False
            held, self._open = self._open, set()
        for sock in held:  # connections held during the cut are dropped, not revived
            _close(sock)

    def close(self) -> None:
        """Stop listening and close everything."""
        self._closed = True
        self.cut()
        _close(self._listener)

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                if self._cut:
                    if self._hold:
                        self._open.add(client)
                    else:
                        _close(client)
                    continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                _close(client)
                continue
            with self._lock:
                self._open.update((client, upstream))
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(src, dst), name="tcpcut-pump", daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            with self._lock:
                self._open.discard(src)
                self._open.discard(dst)
            _close(src)
            _close(dst)


def _close(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()
