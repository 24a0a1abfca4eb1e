"""Serving the app: HTTP (waitress, a production WSGI server) or Socket Mode, plus GET /healthz."""

from __future__ import annotations

import errno
import logging
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import parse_qsl

from slack_bolt import Ack, App, BoltResponse
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_bolt.adapter.wsgi.http_request import WsgiHttpRequest
from slack_bolt.adapter.wsgi.http_response import WsgiHttpResponse
from slack_bolt.request import BoltRequest
from slack_sdk.signature import SignatureVerifier
from slack_sdk.socket_mode.response import SocketModeResponse
from sqlalchemy.engine import Engine
from waitress import wasyncore
from waitress.server import create_server

from bot.settings import StartupProblem
from storage.ack_hands import answering
from storage.db import database_answers

logger = logging.getLogger(__name__)
EVENTS_PATH = "/slack/events"
# Payload types whose listeners may write before they ack (not a select's suggestions, typed key by key, nor a
# closed form): background work makes way for them as they arrive.
WRITES_BEFORE_ACK = frozenset({"view_submission", "block_actions"})
HEALTH_PATH = "/healthz"
MAX_BODY_BYTES = 1024 * 1024  # Slack's payloads are far smaller; anything bigger is not from Slack

# What Slack sends in a request body's `type`; anything else is not a Slack request we could handle.
SLACK_TYPES = frozenset({
    "url_verification", "event_callback", "app_rate_limited", "block_actions", "block_suggestion",
    "view_submission", "view_closed", "shortcut", "message_action", "interactive_message",
    "dialog_submission", "dialog_suggestion", "dialog_cancellation",
})
# Fields Slack always sends as an object, a list or a string, wherever they appear at the top level.
TOP_LEVEL_TYPES = {
    "type": str, "user": dict, "channel": dict, "container": dict, "message": dict, "view": dict, "event": dict,
    "actions": list, "authorizations": list, "response_urls": list, "trigger_id": str, "response_url": str,
    "event_id": str, "value": str, "action_id": str, "block_id": str, "callback_id": str, "api_app_id": str,
}
NULLABLE_OBJECTS = ("team", "enterprise")  # an object, or null for some surfaces
INTERACTIONS = frozenset({"block_actions", "block_suggestion", "view_submission", "view_closed", "shortcut",
                          "message_action"})
NEEDS_TRIGGER = frozenset({"block_actions", "view_submission", "shortcut", "message_action"})


class BadRequest(ValueError):
    """A signed request whose body is not what Slack sends; the message names what is wrong."""


def check_shape(body: object, *, from_form: bool) -> None:
    """Refuse bodies Slack never sends, before Bolt or a listener walks into a wrong type."""
    if not isinstance(body, dict):
        raise BadRequest("the body is not an object")
    if from_form and "type" not in body:
        if not isinstance(body.get("command"), str) and "ssl_check" not in body:
            raise BadRequest("a form body without a payload or a command")
        return
    if body.get("type") not in SLACK_TYPES:
        raise BadRequest("an unknown or missing type")
    for field, kind in TOP_LEVEL_TYPES.items():
        if field in body and not isinstance(body[field], kind):
            raise BadRequest(f"`{field}` is not a {kind.__name__}")
    for field in NULLABLE_OBJECTS:
        if body.get(field) is not None and not isinstance(body[field], dict):
            raise BadRequest(f"`{field}` is not an object")
    for item in body.get("actions", []) + body.get("authorizations", []):
        if not isinstance(item, dict) or not all(isinstance(item.get(k, ""), str) for k in ("action_id", "value")):
            raise BadRequest("an action or authorization is not an object of strings")
    if body["type"] in INTERACTIONS and not isinstance((body.get("user") or {}).get("id"), str):
        raise BadRequest("an interaction without a user id")
    if body["type"] in NEEDS_TRIGGER and "trigger_id" not in body:
        raise BadRequest("an interaction without a trigger_id")
    if body["type"] in ("view_submission", "view_closed") and "view" not in body:
        raise BadRequest("a view payload without its view")
    if "view" in body:
        _check_view(body["view"])
    if "event" in body and not isinstance(body["event"].get("type"), str):
        raise BadRequest("the event has no type")


def _check_view(view: dict) -> None:
    for field in ("id", "callback_id", "private_metadata"):
        if not isinstance(view.get(field, ""), str):
            raise BadRequest(f"`view.{field}` is not a string")
    state = view.get("state", {})
    values = state.get("values", {}) if isinstance(state, dict) else None
    if not isinstance(values, dict) or not all(
            isinstance(actions, dict) and all(isinstance(v, dict) for v in actions.values())
            for actions in values.values()):
        raise BadRequest("`view.state.values` is not an object of objects")


def _answer(start_response, status: str, body: bytes) -> list[bytes]:
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


def _read_body(environ: dict) -> bytes | None:
    """The raw body, or None when it is over MAX_BODY_BYTES; never reads more than one byte past the limit."""
    try:
        declared = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return None
    if declared > MAX_BODY_BYTES:
        return None
    stream = environ.get("wsgi.input")
    body = stream.read(min(declared, MAX_BODY_BYTES + 1) if declared else MAX_BODY_BYTES + 1) if stream else b""
    return None if len(body) > MAX_BODY_BYTES else body


def _is_plain_form(request: BoltRequest) -> bool:
    """A form without `payload` (slash commands, ssl_check), told apart as Bolt's own parser does."""
    raw = request.raw_body
    return request.content_type != "application/json" and not raw.startswith("{") and \
        "payload" not in dict(parse_qsl(raw, keep_blank_values=True))


def _signed(verifier: SignatureVerifier, environ: dict, body: str) -> bool:
    timestamp = environ.get("HTTP_X_SLACK_REQUEST_TIMESTAMP", "")
    if not timestamp.isdigit():  # SignatureVerifier would raise on int("abc")
        return False
    return verifier.is_valid(body, timestamp, environ.get("HTTP_X_SLACK_SIGNATURE"))


class _SignallingAck(Ack):
    """Bolt's ack(), which also says that the listener has given its answer."""

    def __init__(self, answered: threading.Event):
        super().__init__()
        self.answered = answered

    def __call__(self, *args, **kwargs) -> BoltResponse:
        try:
            return super().__call__(*args, **kwargs)
        finally:
            self.answered.set()


class AnswerAtAck:
    """Answers Slack the moment a listener calls ack(), where Bolt (process_before_response=False, as `serve`
    runs) runs the listener on a thread and looks for its ack every 10 ms: the same answer, up to 10 ms sooner.

    Bolt's dispatch runs on this pool and goes on after the answer has left (its look for the ack, then nothing);
    its own answer is used whenever it comes first (middleware that answered, a listener that failed before
    acking). With process_before_response=True (the tests, the demo) the listener's work after its ack belongs
    before the answer, so dispatch is called as it is."""

    def __init__(self, app: App, *, enabled: bool = True, threads: int = 16):
        self.app, self.enabled = app, enabled and not app.process_before_response
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="bolt-dispatch") if self.enabled \
            else None

    def request(self, **parts) -> BoltRequest:
        if not self.enabled:
            return BoltRequest(**parts)
        return BoltRequest(**parts, context={"ack": _SignallingAck(threading.Event())})

    def dispatch(self, request: BoltRequest) -> BoltResponse:
        ack = request.context.get("ack")
        if not isinstance(ack, _SignallingAck) or _answered_by_bolt(request):
            return self.app.dispatch(request)
        dispatched = self._pool.submit(self.app.dispatch, request)
        dispatched.add_done_callback(lambda _: ack.answered.set())
        ack.answered.wait()
        if dispatched.done() or ack.response is None:
            return dispatched.result()
        return ack.response


def _answered_by_bolt(request: BoltRequest) -> bool:
    """Events (and Slack's URL check): Bolt acknowledges them itself before their listener starts on its own
    thread, so its dispatch returns at once with the answer, and a hop to another thread would only delay it."""
    return isinstance(request.body, dict) and request.body.get("type") in ("event_callback", "url_verification")


def make_slack_endpoint(app: App, signing_secret: str, *, answer_at_ack: bool = True,
                        engine: Engine | None = None) -> Callable:
    """POST /slack/events: size, then signature, then shape are checked before Bolt sees the body; the answer
    leaves as soon as the listener acks (`answer_at_ack`, see AnswerAtAck). A form submitted or a button pressed
    (they may write before their ack) tells the database's background work to make way; on PostgreSQL every
    request does, until its answer is ready (`storage.ack_hands.answering`)."""
    verifier = SignatureVerifier(signing_secret)
    bolt = AnswerAtAck(app, enabled=answer_at_ack)

    def endpoint(environ: dict, start_response) -> Iterable[bytes]:
        body = _read_body(environ)
        if body is None:
            logger.warning("refused a Slack request: body over %d bytes", MAX_BODY_BYTES)
            return _answer(start_response, "400 Bad Request", b'{"error":"body too large"}')
        try:
            text = body.decode("utf-8")  # the signature is over text; Slack only sends UTF-8
        except UnicodeDecodeError:
            return _answer(start_response, "400 Bad Request", b'{"error":"malformed request"}')
        if not _signed(verifier, environ, text):
            logger.warning("refused a Slack request: missing, bad or stale signature")
            return _answer(start_response, "401 Unauthorized", b'{"error":"invalid request"}')
        http = WsgiHttpRequest(environ)
        try:
            request = bolt.request(body=text, query=http.query_string, headers=http.get_headers())
            check_shape(request.body, from_form=_is_plain_form(request))
        except Exception as exc:  # noqa: BLE001 - anything Bolt cannot parse is the sender's fault, not ours
            reason = str(exc) if isinstance(exc, BadRequest) else f"unparsable ({exc.__class__.__name__})"
            logger.warning("refused a signed Slack request: %s", reason)
            return _answer(start_response, "400 Bad Request", b'{"error":"malformed request"}')
        with answering(engine, may_write=request.body.get("type") in WRITES_BEFORE_ACK):
            reply = bolt.dispatch(request)
        response = WsgiHttpResponse(status=reply.status, headers=reply.headers, body=reply.body)
        start_response(response.status, response.get_headers())
        return response.get_body()

    return endpoint


def make_wsgi_app(app: App | None, engine: Engine, *, signing_secret: str | None = None,
                  answer_at_ack: bool = True) -> Callable:
    """POST /slack/events goes to Bolt; GET /healthz answers 200 only while the database answers.
    `answer_at_ack=False` leaves Bolt to answer when it finds the ack (the ack bench's floor)."""
    # Bolt keeps the secret it verifies with; the endpoint checks with the same one before parsing.
    secret = signing_secret or (getattr(app, "_signing_secret", None) if app is not None else None)
    slack = make_slack_endpoint(app, secret, answer_at_ack=answer_at_ack, engine=engine) \
        if app is not None and secret else None

    def wsgi(environ: dict, start_response) -> Iterable[bytes]:
        path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "")
        if path == HEALTH_PATH and method in ("GET", "HEAD"):
            healthy = database_answers(engine)
            body = b'{"status":"ok"}' if healthy else b'{"status":"database unavailable"}'
            return _answer(start_response, "200 OK" if healthy else "503 Service Unavailable", body)
        if slack is not None and path == EVENTS_PATH and method == "POST":
            try:
                return slack(environ, start_response)
            except Exception:  # noqa: BLE001 - the traceback goes to the log, never into the response
                logger.exception("the Slack endpoint failed")
                return _answer(start_response, "503 Service Unavailable", b'{"error":"try again"}')
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"Not Found"]

    return wsgi


class SafeSocketModeHandler(SocketModeHandler):
    """Socket Mode has no signature to check: an envelope Bolt cannot parse is logged and acknowledged,
    so Slack does not redeliver it and the connection keeps serving."""

    def handle(self, client, req) -> None:
        try:
            check_shape(req.payload, from_form="type" not in (req.payload or {}))
            BoltRequest(mode="socket_mode", body=req.payload)
        except Exception as exc:  # noqa: BLE001 - the sender's fault, not ours
            logger.warning("ignored a malformed Socket Mode %s envelope: %s", req.type,
                           exc if isinstance(exc, BadRequest) else exc.__class__.__name__)
            client.send_socket_mode_response(SocketModeResponse(envelope_id=req.envelope_id))
            return
        super().handle(client, req)


def bind_http(wsgi: Callable, *, host: str, port: int) -> "HttpServer":
    """The server, bound (waitress binds on construction); an address it can't take is a StartupProblem."""
    try:
        return HttpServer(wsgi, host=host, port=port)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise StartupProblem(f"PORT: port {port} on {host} is already in use; stop the other process or set "
                                 "PORT to a free port") from None
        if exc.errno == errno.EACCES:
            raise StartupProblem(f"PORT: this process may not listen on port {port} (ports below 1024 need "
                                 "privileges); set PORT to 1024 or above") from None
        raise StartupProblem(f"HOST: can't listen on {host}:{port} ({exc.strerror or exc}); set HOST to an address "
                             "of this machine, or 0.0.0.0 for all") from None


class HttpServer:
    """waitress on a host and port (0 = any free port), bound on construction; `url` once started."""

    def __init__(self, wsgi: Callable, *, host: str = "127.0.0.1", port: int = 0, threads: int = 8):
        # waitress buffers a body before calling the app: cap what it buffers well above what we accept.
        self._server = create_server(wsgi, host=host, port=port, threads=threads, ident="partnerbot",
                                     clear_untrusted_proxy_headers=True, max_request_body_size=8 * MAX_BODY_BYTES)
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    @property
    def port(self) -> int:
        return int(self._server.effective_port)

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
