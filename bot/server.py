"""Serving the app: HTTP (waitress, a production WSGI server) or Socket Mode, plus GET /healthz."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable

from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from sqlalchemy.engine import Engine
from waitress import wasyncore
from waitress.server import create_server

from storage.db import database_answers

logger = logging.getLogger(__name__)
EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"


def make_wsgi_app(app: App | None, engine: Engine) -> Callable:
    """POST /slack/events goes to Bolt; GET /healthz answers 200 only while the database answers."""
    slack = SlackRequestHandler(app, path=EVENTS_PATH) if app is not None else None

    def wsgi(environ: dict, start_response) -> Iterable[bytes]:
        path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "")
        if path == HEALTH_PATH and method in ("GET", "HEAD"):
            healthy = database_answers(engine)
            body = b'{"status":"ok"}' if healthy else b'{"status":"database unavailable"}'
            start_response("200 OK" if healthy else "503 Service Unavailable",
                           [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
            return [body]
        if slack is not None and path == EVENTS_PATH and method == "POST":
            return slack(environ, start_response)
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"Not Found"]

    return wsgi


class HttpServer:
    """waitress on a host and port (0 = any free port) in a background thread; `url` once started."""

    def __init__(self, wsgi: Callable, *, host: str = "127.0.0.1", port: int = 0, threads: int = 8):
        self._server = create_server(wsgi, host=host, port=port, threads=threads, ident="partnerbot",
                                     clear_untrusted_proxy_headers=True)
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    @property
    def port(self) -> int:
        return self._server.effective_port

    @property
    def url(self) -> str:
        return f"http://{self._server.effective_host}:{self.port}"

    def start(self) -> "HttpServer":
        self._thread = threading.Thread(target=self.serve_forever, name="http", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        # waitress's own run() can block for a second after close() and race it (EBADF in a worker):
        # serve in short rounds and close everything from this thread once asked to stop.
        server = self._server
        while not self._stopping.is_set():
            wasyncore.loop(timeout=0.05, map=server._map, use_poll=server.adj.asyncore_use_poll, count=1)
        server.task_dispatcher.shutdown()
        wasyncore.close_all(server._map)

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
