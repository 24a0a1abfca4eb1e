"""Socket Mode for the sandbox: `apps.connections.open` hands out a ws:// URL served here, and requests
travel to the app as envelopes over that WebSocket, each acknowledged by its envelope_id, as with Slack."""

from __future__ import annotations

import json
import queue
import secrets
import threading

from bot.sandbox.state import SandboxError


class SocketModeServer:
    """A WebSocket endpoint on 127.0.0.1 that the app's Socket Mode client connects to."""

    def __init__(self) -> None:
        from websockets.sync.server import serve  # a test-time dependency: only Socket Mode tests need it

        self._acks: dict[str, queue.Queue] = {}
        self._connections: list = []
        self._lock = threading.Lock()
        self._server = serve(self._session, "127.0.0.1", 0)
        self._thread = threading.Thread(target=self._server.serve_forever, name="socket-mode", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        host, port = self._server.socket.getsockname()[:2]
        return f"ws://{host}:{port}/link/?ticket={secrets.token_hex(8)}"

    def _session(self, connection) -> None:
        connection.send(json.dumps({"type": "hello", "num_connections": 1,
                                    "connection_info": {"app_id": "A0PARTNERBOT"}}))
        with self._lock:
            self._connections.append(connection)
        from websockets.exceptions import ConnectionClosed

        try:
            for raw in connection:
                message = json.loads(raw)
                waiting = self._acks.get(message.get("envelope_id", ""))
                if waiting is not None:
                    waiting.put(message)
        except ConnectionClosed:
            pass  # the app went away (stopped, or reconnecting): Slack just forgets the connection
        finally:
            with self._lock:
                self._connections.remove(connection)

    def connected(self) -> bool:
        with self._lock:
            return bool(self._connections)

    def send(self, envelope_type: str, payload: dict, *, timeout: float = 3.0) -> dict:
        """Deliver one envelope and return the app's acknowledgement (Slack waits 3 s for it)."""
        with self._lock:
            if not self._connections:
                raise SandboxError("no Socket Mode connection: the app has not connected")
            connection = self._connections[-1]
        envelope_id = secrets.token_hex(16)
        self._acks[envelope_id] = queue.Queue()
        try:
            connection.send(json.dumps({"envelope_id": envelope_id, "type": envelope_type, "payload": payload,
                                        "accepts_response_payload": envelope_type != "events_api"}))
            return self._acks[envelope_id].get(timeout=timeout)
        except queue.Empty:
            raise SandboxError(f"the app did not acknowledge {envelope_type} within {timeout} s") from None
        finally:
            del self._acks[envelope_id]

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join(timeout=5)
