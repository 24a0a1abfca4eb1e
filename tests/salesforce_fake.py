"""A local Salesforce org behind HTTPS on 127.0.0.1 that the real simple-salesforce client talks to.

Speaks what the CRM writer uses: SOAP and JWT login, sObject create/upsert/update, sObject Collections,
Composite, a small SOQL subset, limits (see `salesforce_fake_org`); with Salesforce's status codes and bodies,
an API-call counter, the `Sforce-Limit-Info` header, and injectable faults: "500", "503", "timeout" (the
write happens, the answer is lost), "limit" (403 REQUEST_LIMIT_EXCEEDED), "session" (401 INVALID_SESSION_ID)
and "expire" (the session really ends, so the client must log in again).
"""

from __future__ import annotations

import json
import random
import ssl
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit
from xml.etree import ElementTree

import jwt
import requests
import trustme
from requests.adapters import HTTPAdapter

try:  # imported as a top-level module by pytest, as part of `tests` by the benchmark
    from salesforce_fake_org import NOT_FOUND, FakeOrg
except ImportError:
    from tests.salesforce_fake_org import NOT_FOUND, FakeOrg

FAULTS = {
    "500": (500, [{"errorCode": "UNKNOWN_EXCEPTION", "message": "An unexpected error occurred."}]),
    "503": (503, [{"errorCode": "SERVER_UNAVAILABLE", "message": "Server unavailable, please try again."}]),
    "limit": (403, [{"errorCode": "REQUEST_LIMIT_EXCEEDED", "message": "TotalRequests Limit exceeded."}]),
    "session": (401, [{"errorCode": "INVALID_SESSION_ID", "message": "Session expired or invalid"}]),
}


class _LoginRedirect(HTTPAdapter):
    """Sends https://login.salesforce.com (and friends) to the fake, the way DNS would for a real org."""

    def __init__(self, base_url: str):
        super().__init__()
        self.base_url = base_url

    def send(self, request, **kwargs):
        parts = urlsplit(request.url)
        request.url = self.base_url + parts.path + (f"?{parts.query}" if parts.query else "")
        return super().send(request, **kwargs)


class FakeSalesforce(FakeOrg):
    """The org served over HTTPS: `start()`/`stop()` (or `with`); `calls` lists every counted API request."""

    def __init__(
        self,
        directory: Path,
        *,
        api_limit: int = 5_000_000,
        username: str = "bot@example.com",
        password: str = "pw-s3cret",
        security_token: str = "tok-s3cret",
        consumer_key: str = "fake-key",
        public_key_pem: bytes | None = None,
        seed: int = 0,
        timeout_seconds: float = 1.0,
        currency: str = "USD",
    ):
        super().__init__(api_limit=api_limit, currency=currency)
        self.directory = Path(directory)
        self.username, self.password, self.security_token = username, password, security_token
        self.consumer_key, self.public_key_pem = consumer_key, public_key_pem
        self.calls: list[str] = []
        self.faults: deque[str] = deque()
        self.injected: list[str] = []  # faults served so far, by kind
        self.fault_rate, self.fault_kinds, self.rng = 0.0, ("500",), random.Random(seed)
        self.timeout_seconds = timeout_seconds
        self.access_token = f"00D000000000001!{random.Random(seed + 1).getrandbits(64):x}"
        self.tokens = {self.access_token}
        self._server: ThreadingHTTPServer | None = None

    def start(self) -> "FakeSalesforce":
        ca = trustme.CA()
        self.ca_bundle = self.directory / "fake-salesforce-ca.pem"
        ca.cert_pem.write_to_path(str(self.ca_bundle))
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self.base_url = f"https://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self) -> "FakeSalesforce":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def mount_login(self, session: requests.Session, domains=("login", "test")) -> requests.Session:
        for domain in domains:
            session.mount(f"https://{domain}.salesforce.com", _LoginRedirect(self.base_url))
        return session

    # --- test helpers --------------------------------------------------------------------------
    def fail_next(self, *kinds: str) -> None:
        self.faults.extend(kinds)

    def expire_sessions(self) -> None:
        self.tokens.clear()

    def _next_fault(self) -> str | None:
        if self.faults:
            return self.faults.popleft()
        if self.fault_rate and self.rng.random() < self.fault_rate:
            return self.rng.choice(self.fault_kinds)
        return None

    def handle(self, method: str, target: str, raw: bytes, headers) -> tuple[int, object, dict, bool]:
        """Answer one HTTP request: (status, body, headers, lose the answer like a timed-out call)."""
        url = urlsplit(target)
        if url.path.startswith("/services/Soap/u/"):
            return self._soap_login(raw)
        if url.path == "/services/oauth2/token":
            return self._jwt_login(raw)
        if not url.path.startswith("/services/data/v"):
            return 404, NOT_FOUND, {}, False
        with self.lock:
            self.api_used += 1
            path = url.path.split("/", 4)[4] if url.path.count("/") >= 4 else ""
            self.calls.append(f"{method} {path}")
            limit_info = {"Sforce-Limit-Info": f"api-usage={self.api_used}/{self.api_limit}"}
            token = (headers.get("Authorization") or "").removeprefix("Bearer ").strip()
            if token not in self.tokens:
                return 401, FAULTS["session"][1], limit_info, False
            fault = self._next_fault()
            if fault:
                self.injected.append(fault)
            if fault == "expire":
                self.tokens.discard(token)
                fault = "session"
            if fault in FAULTS:
                return *FAULTS[fault], limit_info, False
            if self.api_used > self.api_limit:
                return *FAULTS["limit"], limit_info, False
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                return 400, [{"errorCode": "JSON_PARSER_ERROR", "message": "bad JSON"}], limit_info, False
            status, answer = self.route(method, path, parse_qs(url.query), body)
            return status, answer, limit_info, fault == "timeout"

    def _new_token(self) -> str:
        token = f"00D000000000001!{self.rng.getrandbits(64):x}"
        self.tokens.add(token)
        return token

    def _soap_login(self, raw: bytes) -> tuple[int, object, dict, bool]:
        values = {el.tag.rsplit("}", 1)[-1]: el.text or "" for el in ElementTree.fromstring(raw).iter()}
        if values.get("username") != self.username or values.get("password") != self.password + self.security_token:
            fault = (
                "<soapenv:Envelope xmlns:soapenv='http://schemas.xmlsoap.org/soap/envelope/' "
                "xmlns:sf='urn:fault.partner.soap.sforce.com'><soapenv:Body><soapenv:Fault>"
                "<faultcode>sf:INVALID_LOGIN</faultcode><detail><sf:LoginFault>"
                "<sf:exceptionCode>INVALID_LOGIN</sf:exceptionCode><sf:exceptionMessage>Invalid username, "
                "password, security token; or user locked out.</sf:exceptionMessage></sf:LoginFault>"
                "</detail></soapenv:Fault></soapenv:Body></soapenv:Envelope>"
            )
            return 500, fault, {"Content-Type": "text/xml"}, False
        xml = (
            "<soapenv:Envelope xmlns:soapenv='http://schemas.xmlsoap.org/soap/envelope/'><soapenv:Body>"
            "<loginResponse xmlns='urn:partner.soap.sforce.com'><result>"
            f"<serverUrl>{self.base_url}/services/Soap/u/59.0/00D000000000001</serverUrl>"
            f"<sessionId>{self._new_token()}</sessionId></result></loginResponse></soapenv:Body></soapenv:Envelope>"
        )
        return 200, xml, {"Content-Type": "text/xml"}, False

    def _jwt_login(self, raw: bytes) -> tuple[int, object, dict, bool]:
        form = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
        try:
            claims = jwt.decode(
                form.get("assertion", ""),
                self.public_key_pem or b"",
                algorithms=["RS256"],
                audience=["https://login.salesforce.com", "https://test.salesforce.com"],
                options={"verify_exp": False},
            )  # simple-salesforce sends exp as a string
            if claims.get("iss") != self.consumer_key or claims.get("sub") != self.username:
                raise jwt.InvalidTokenError("issuer or subject")
            if int(claims["exp"]) < time.time():
                raise jwt.InvalidTokenError("expired")
        except (jwt.PyJWTError, ValueError, KeyError):
            return 400, {"error": "invalid_grant", "error_description": "invalid assertion"}, {}, False
        return (
            200,
            {"access_token": self._new_token(), "instance_url": self.base_url, "token_type": "Bearer"},
            {},
            False,
        )


def _handler_for(fake: FakeSalesforce):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in two writes: with Nagle's algorithm the body waits for the client's
        # delayed ACK (tens of ms per call), a stall of this fake that real Salesforce does not have.
        disable_nagle_algorithm = True

        def _serve(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            status, body, headers, lose = fake.handle(self.command, self.path, raw, self.headers)
            if lose:
                time.sleep(fake.timeout_seconds)  # done, but the client gives up before hearing so
            data = b"" if body is None else (body if isinstance(body, str) else json.dumps(body)).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", headers.pop("Content-Type", "application/json;charset=UTF-8"))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
                self.close_connection = True

        do_GET = do_POST = do_PATCH = do_DELETE = _serve

        def log_message(self, *args) -> None:
            pass

    return Handler
