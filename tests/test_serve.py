"""`partnerbot serve` as a real process: HTTP on PORT, partner desks at start-up, /healthz, signed requests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import requests

from bot.demo_data import BOT_USER, OUR_TEAM, import_demo_records, populate_sandbox
from bot.sandbox import Sandbox
from storage.jobs import job_runs
from storage.leadership import is_held
from tests.e2e_support import text_of


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_healthy(base: str, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if requests.get(base + "/healthz", timeout=1).status_code == 200:
                return
        except (requests.ConnectionError, requests.Timeout):  # not bound yet, or bound and still starting
            time.sleep(0.1)
    raise AssertionError("serve did not answer /healthz in time")


def serve_over_http(sandbox, database_url: str, port: int, folder, **settings: str) -> subprocess.Popen:
    """`partnerbot serve` in HTTP mode against `sandbox` (its output merged into stdout), with `settings` added."""
    env = dict(os.environ, SLACK_BOT_TOKEN=sandbox.bot_token, SLACK_SIGNING_SECRET=sandbox.signing_secret,
               SLACK_API_URL=sandbox.api_url, DATABASE_URL=database_url, PORT=str(port),
               PROGRAM_FILE=str(folder / "none.yml"), LOG_LEVEL="INFO", **settings)
    env.pop("SLACK_APP_TOKEN", None)
    return subprocess.Popen([sys.executable, "-m", "bot.cli", "serve"], env=env, cwd=folder, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def test_serve_runs_http_mode_against_the_configured_slack(engine, database_url, tmp_path):
    import_demo_records(engine)
    secret, token, port = "test-signing-secret", "xoxb-serve-test", free_port()
    with Sandbox(secret, token, team_id=OUR_TEAM[0], team_name=OUR_TEAM[1], bot_user_id=BOT_USER) as sandbox:
        populate_sandbox(sandbox)
        process = serve_over_http(sandbox, database_url, port, tmp_path)
        try:
            base = f"http://127.0.0.1:{port}"
            wait_until_healthy(base)
            # Queued at start-up for the imported partner channel and sent by the worker, which may lag /healthz.
            sandbox.wait_for(lambda: [m for m in sandbox.messages("C0NORTH") if "Partner desk" in text_of(m)])
            desks = [m for m in sandbox.messages("C0NORTH") if "Partner desk" in text_of(m)]
            assert len(desks) == 1
            driver = sandbox.driver(base + "/slack/events")
            assert driver.command("U0ALEX", "/lead", "acme.com").status == 200
            assert sandbox.wait_for(lambda: sandbox.open_modal("U0ALEX")) is not None
            assert driver.command("U0ALEX", "/lead", "acme.com", forge=True).status == 401
            # App Home is read and published by the background process, not beside the ack.
            assert driver.home_opened("U0ALEX").status == 200
            home = sandbox.wait_for(lambda: sandbox.home("U0ALEX"))
            assert home.blocks[0]["text"]["text"] == "Partner leads"  # the internal user's lists, not the help
            # The scheduler runs in the background process by default; jobs never run run at once.
            sandbox.wait_for(lambda: {"crm_drain", "remind_overdue_reviews"} <= {
                name for name, run in job_runs(engine).items() if run.outcome == "ok"})
            assert is_held(engine, "scheduler")
        finally:
            process.terminate()
            output, _ = process.communicate(timeout=10)
    assert token not in output and secret not in output
    assert "serving Slack requests on port" in output
    assert "none.yml, which does not exist: running with the built-in rules" in output  # PROGRAM_FILE as set


def test_serve_with_scheduler_off_sends_but_schedules_nothing(engine, database_url, tmp_path):
    import_demo_records(engine)
    secret, token, port = "test-signing-secret", "xoxb-serve-test", free_port()
    with Sandbox(secret, token, team_id=OUR_TEAM[0], team_name=OUR_TEAM[1], bot_user_id=BOT_USER) as sandbox:
        populate_sandbox(sandbox)
        process = serve_over_http(sandbox, database_url, port, tmp_path, SCHEDULER="off")
        try:
            wait_until_healthy(f"http://127.0.0.1:{port}")
            # The background process is up and its worker sends...
            sandbox.wait_for(lambda: [m for m in sandbox.messages("C0NORTH") if "Partner desk" in text_of(m)])
            time.sleep(0.3)  # ...while a scheduler would have run its jobs, never run, at once
            assert job_runs(engine) == {} and not is_held(engine, "scheduler")
        finally:
            process.terminate()
            output, _ = process.communicate(timeout=10)
    assert "SCHEDULER=off: no scheduled jobs in this process" in output


def test_serve_refuses_bad_configuration_clearly(tmp_path):
    env = dict(os.environ, SLACK_BOT_TOKEN="xoxp-wrong-kind-of-token", PORT="0")
    result = subprocess.run([sys.executable, "-m", "bot.cli", "serve"], env=env, cwd=tmp_path,
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert "SLACK_BOT_TOKEN: must be a bot token starting with xoxb-" in result.stderr
    assert "PORT" in result.stderr and "xoxp-wrong-kind-of-token" not in result.stderr + result.stdout


def test_serve_refuses_incomplete_or_refused_salesforce_credentials(tmp_path):
    base = dict(os.environ, SLACK_BOT_TOKEN="xoxb-1", SLACK_SIGNING_SECRET="s", PORT=str(free_port()),
                DATABASE_URL=f"sqlite:///{tmp_path / 'x.db'}")
    incomplete = subprocess.run([sys.executable, "-m", "bot.cli", "serve"], capture_output=True, text=True,
                                env=dict(base, SALESFORCE_INSTANCE_URL="https://example.my.salesforce.com"),
                                cwd=tmp_path, timeout=60)
    assert incomplete.returncode == 2
    assert "SALESFORCE_ACCESS_TOKEN" in incomplete.stderr
    secret = "00Dsecret-token-value"
    refused = subprocess.run([sys.executable, "-m", "bot.cli", "serve"], capture_output=True, text=True,
                             env=dict(base, SALESFORCE_INSTANCE_URL=f"https://127.0.0.1:{free_port()}",
                                      SALESFORCE_ACCESS_TOKEN=secret), cwd=tmp_path, timeout=60)
    assert refused.returncode == 2
    assert "Salesforce is misconfigured" in refused.stderr
    assert secret not in refused.stderr + refused.stdout


def test_serve_in_socket_mode_takes_commands_over_the_websocket(engine, database_url, tmp_path):
    import_demo_records(engine)
    secret, token, app_token, port = "unused-in-socket-mode", "xoxb-socket-test", "xapp-1-socket-test", free_port()
    with Sandbox(secret, token, team_id=OUR_TEAM[0], team_name=OUR_TEAM[1], bot_user_id=BOT_USER) as sandbox:
        populate_sandbox(sandbox)
        sandbox.enable_socket_mode(app_token)
        env = dict(os.environ, SLACK_BOT_TOKEN=token, SLACK_APP_TOKEN=app_token, SLACK_API_URL=sandbox.api_url,
                   DATABASE_URL=database_url, PORT=str(port), PROGRAM_FILE=str(tmp_path / "none.yml"))
        env.pop("SLACK_SIGNING_SECRET", None)
        process = subprocess.Popen([sys.executable, "-m", "bot.cli", "serve"], env=env, cwd=tmp_path,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            connected = sandbox.wait_for(lambda: sandbox.state.socket_mode.connected(), timeout=20)
            assert connected, "the app never opened its Socket Mode connection"
            wait_until_healthy(f"http://127.0.0.1:{port}")
            # No signature in Socket Mode: a malformed envelope is acknowledged and dropped, and the socket lives on.
            assert sandbox.state.socket_mode.send("interactive", {"type": "block_actions", "user": "U0ALEX",
                                                                  "actions": "not a list"}) is not None
            ack = sandbox.driver("http://unused").socket_command("U0ALEX", "/lead", "acme.com")
            assert "envelope_id" in ack
            modal = sandbox.wait_for(lambda: sandbox.open_modal("U0ALEX"))
            assert modal.callback_id == "lead_registration"
        finally:
            process.terminate()
            output, _ = process.communicate(timeout=10)
    assert app_token not in output and token not in output
    assert "connected over Socket Mode" in output
    assert "ignored a malformed Socket Mode interactive envelope" in output and "Traceback" not in output
