"""Serve a Bolt App over real HTTP on 127.0.0.1 in a background thread, for the driver to call."""

from __future__ import annotations

from bot.server import HttpServer


class AppServer:
    """`AppServer(bolt_app).start()`; `url` is the Request URL (`http://127.0.0.1:PORT/slack/events`)."""

    def __init__(self, bolt_app, *, path: str = "/slack/events", threads: int = 8) -> None:
        from slack_bolt.adapter.wsgi import SlackRequestHandler

        self.path = path
        self._server = HttpServer(SlackRequestHandler(bolt_app, path=path), threads=threads)

    @property
    def url(self) -> str:
        return self._server.url + self.path

    def start(self) -> AppServer:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    def __enter__(self) -> AppServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
