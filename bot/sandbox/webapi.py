"""The Web API emulator: a threaded HTTP server on 127.0.0.1 that answers slack_sdk.WebClient like Slack."""

from __future__ import annotations

import json
import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

from bot.sandbox import api_chat, api_directory, api_files, api_history, api_pins, api_views, scopes
from bot.sandbox.api_common import ApiError
from bot.sandbox.method_data import KNOWN_METHODS
from bot.sandbox.state import State

logger = logging.getLogger(__name__)

HANDLERS = {**api_chat.HANDLERS, **api_views.HANDLERS, **api_directory.HANDLERS, **api_history.HANDLERS,
            **api_pins.HANDLERS, **api_files.HANDLERS}
JSON_ARGS = ("blocks", "view", "attachments", "metadata")


def parse_args(query: str, body: bytes, content_type: str) -> dict:
    """Merge query-string and body arguments the way Slack reads them (JSON or form-encoded)."""
    args: dict = dict(parse_qsl(query, keep_blank_values=True))
    if body:
        if content_type.startswith("application/json"):
            loaded = json.loads(body.decode("utf-8"))
            if isinstance(loaded, dict):
                args.update(loaded)
        elif content_type.startswith("application/x-www-form-urlencoded"):
            args.update(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
    for name in JSON_ARGS:
        # Form callers send these as JSON strings; decode them so records and handlers see objects.
        if isinstance(args.get(name), str):
            try:
                args[name] = json.loads(args[name])
            except ValueError:
                pass
    return args


def answer(state: State, method: str, args: dict, token: str | None) -> tuple[int, dict, dict, float]:
    """(HTTP status, extra headers, JSON body, seconds to hold the answer) for one Web API call; records it.

    The call is recorded before any hold, so a test sees what happened while the caller is still waiting."""
    started = time.perf_counter()
    fault = state.faults.take(method) if method in KNOWN_METHODS else None
    if fault is not None and not fault.after_effect:
        status, headers, body = fault.answer()
    else:
        status, headers, body = _answer(state, method, args, token)
        if fault is not None and fault.error is not None:
            # The call took effect, then the answer was lost: the caller cannot tell it from a refusal.
            status, headers, body = fault.answer()
    hold = fault.delay if fault is not None else 0.0
    state.record_call(method, args, body, status, time.perf_counter() - started + hold, fault)
    return status, headers, body, hold


def _answer(state: State, method: str, args: dict, token: str | None) -> tuple[int, dict, dict]:
    if method not in KNOWN_METHODS:
        return 404, {}, {"ok": False, "error": "unknown_method", "req_method": method}
    if not token:
        return 200, {}, {"ok": False, "error": "not_authed"}
    if method == "apps.connections.open":  # Socket Mode: an app-level token, not the bot token
        if state.socket_mode is None or token != state.socket_mode_token:
            return 200, {}, {"ok": False, "error": "invalid_auth"}
        return 200, {}, {"ok": True, "url": state.socket_mode.url}
    if token != state.bot_token:
        return 200, {}, {"ok": False, "error": "invalid_auth"}
    with state.lock:
        headers = {"x-oauth-scopes": ",".join(state.scopes)}
    accepted = scopes.accepted_scopes(method)
    if accepted:
        headers["x-accepted-oauth-scopes"] = ",".join(accepted)
    handler = HANDLERS.get(method)
    if handler is None:
        return 200, headers, {"ok": False, "error": "not_emulated", "req_method": method}
    try:
        scopes.check_scope(state, method, args)
        return 200, headers, {"ok": True, **handler(state, args)}
    except ApiError as error:
        return 200, headers, {"ok": False, "error": error.code, **error.extra}


class _RequestHandler(BaseHTTPRequestHandler):
    server_version = "PartnerbotSandbox/1"
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; without this, Nagle + delayed ACK adds ~40 ms.
    disable_nagle_algorithm = True
    state: State

    def do_POST(self) -> None:  # noqa: N802 (http.server naming)
        self._handle()

    def do_GET(self) -> None:  # noqa: N802
        self._handle()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        return  # keep test output clean; every call is recorded in state instead

    def _handle(self) -> None:
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        content_type = (self.headers.get("Content-Type") or "").lower()
        if url.path.startswith("/upload/v1/"):  # Slack's file service: the bytes themselves, not arguments
            status, text = api_files.receive_upload(self.state, url.path[len("/upload/v1/"):], raw)
            self.state.record_call("upload_url", {"bytes": len(raw)}, {"status": status}, status)
            self._send_text(status, text)
            return
        try:
            args = parse_args(url.query, raw, content_type)
        except ValueError:
            self._send(400, {}, {"ok": False, "error": "invalid_json"})
            return
        try:
            if url.path.startswith("/api/"):
                auth = self.headers.get("Authorization") or ""
                token = auth[7:].strip() if auth.startswith("Bearer ") else args.pop("token", None)
                args.pop("token", None)
                status, headers, body, hold = answer(self.state, url.path[len("/api/"):], args, token)
                if hold:
                    self.server.closing.wait(hold)  # returns at once when the sandbox stops
                self._send(status, headers, body)
            elif url.path.startswith("/response/"):
                self._send(*self._response_url(url.path[len("/response/"):], args))
            else:
                self._send(404, {}, {"ok": False, "error": "not_found"})
        except Exception:  # a sandbox bug must surface in the test, not hang the client
            logger.exception("sandbox failed on %s", self.path)
            self._send(500, {}, {"ok": False, "error": "sandbox_error"})

    def _response_url(self, token: str, body: dict) -> tuple[int, dict, dict]:
        try:
            api_chat.response_url(self.state, token, body)
            status, result = 200, {"ok": True}
        except ApiError as error:
            status, result = 404 if error.code == "expired_url" else 400, {"ok": False, "error": error.code}
        context = self.state.response_urls.get(token, {})
        self.state.record_call("response_url", {**body, "_context": context}, result, status)
        return status, {}, result

    def _send_text(self, status: int, text: str) -> None:
        self._send(status, {}, text, content_type="text/plain; charset=utf-8")

    def _send(self, status: int, headers: dict, body: dict | str, *,
              content_type: str = "application/json; charset=utf-8") -> None:
        data = (body if isinstance(body, str) else json.dumps(body)).encode("utf-8")
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the caller gave up waiting (a timeout fault): nobody to answer


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.closing = threading.Event()


class WebApiServer:
    """Owns the HTTP server thread; `url` is the base (`http://127.0.0.1:PORT/`)."""

    def __init__(self, state: State) -> None:
        self.state = state
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("sandbox not started")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/"

    def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        handler = type("BoundHandler", (_RequestHandler,), {"state": self.state})
        self._server = _Server((host, port), handler)
        self.state.base_url = self.url
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="slack-sandbox", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.closing.set()
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
