"""`partnerbot serve` as a real process that cannot start: one line naming the setting and the fix, exit code 2."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from contextlib import contextmanager

import pytest

from bot.demo_data import BOT_USER, OUR_TEAM
from bot.sandbox import Sandbox
from tests.test_serve import free_port

TOKEN, SECRET, DB_PASSWORD = "xoxb-startup-secret-token", "startup-signing-secret", "db-pass-word-42"


@contextmanager
def slack(token: str = TOKEN):
    with Sandbox(SECRET, token, team_id=OUR_TEAM[0], team_name=OUR_TEAM[1], bot_user_id=BOT_USER) as sandbox:
        yield sandbox.api_url


def serve(tmp_path, **settings: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "SALESFORCE_", "DATABASE_", "PG"))}
    env.update(SLACK_BOT_TOKEN=TOKEN, SLACK_SIGNING_SECRET=SECRET, PORT=str(free_port()), HOST="127.0.0.1",
               DATABASE_URL=f"sqlite:///{tmp_path / 'startup.db'}", PROGRAM_FILE=str(tmp_path / "none.yml"),
               LOG_LEVEL="INFO")
    env.update(settings)
    return subprocess.run([sys.executable, "-m", "bot.cli", "serve"], env=env, cwd=tmp_path, capture_output=True,
                          text=True, timeout=60)


def assert_one_clear_line(result: subprocess.CompletedProcess, setting: str, *secrets: str) -> str:
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert setting in output
    assert "Traceback" not in output
    for secret in (TOKEN, SECRET, DB_PASSWORD, *secrets):
        assert secret not in output
    # INFO log lines (migrations, desks) and the Salesforce notice are not the problem's lines.
    problem = [line for line in output.splitlines() if line.strip() and " INFO " not in line
               and not line.startswith("No Salesforce settings")]
    assert 1 <= len(problem) <= 3, output
    return output


def test_a_database_url_that_does_not_parse(tmp_path):
    output = assert_one_clear_line(serve(tmp_path, DATABASE_URL=f"postgresql://u:{DB_PASSWORD}@host:notaport/db"),
                                   "DATABASE_URL")
    assert "not a database URL" in output


def test_a_sqlite_file_in_a_folder_that_does_not_exist(tmp_path):
    output = assert_one_clear_line(serve(tmp_path, DATABASE_URL=f"sqlite:///{tmp_path / 'no' / 'such' / 'x.db'}"),
                                   "DATABASE_URL")
    assert "does not exist" in output


def test_a_sqlite_path_that_cannot_be_opened(tmp_path):
    with slack() as api_url:
        output = assert_one_clear_line(serve(tmp_path, SLACK_API_URL=api_url, DATABASE_URL=f"sqlite:///{tmp_path}"),
                                       "DATABASE_URL")
    assert "unable to open" in output


@pytest.mark.parametrize("scheme", ["postgres", "postgresql", "postgresql+psycopg"])
def test_an_unreachable_database_and_the_postgres_scheme_hosts_hand_out(tmp_path, scheme):
    url = f"{scheme}://partnerbot:{DB_PASSWORD}@127.0.0.1:{free_port()}/partnerbot"
    with slack() as api_url:
        output = assert_one_clear_line(serve(tmp_path, SLACK_API_URL=api_url, DATABASE_URL=url), "DATABASE_URL")
    assert "postgresql+psycopg://partnerbot:***@127.0.0.1" in output  # the installed driver, password hidden
    assert "running" in output


def test_a_token_slack_rejects(tmp_path):
    with slack(token="xoxb-the-real-one") as api_url:
        output = assert_one_clear_line(serve(tmp_path, SLACK_API_URL=api_url), "SLACK_BOT_TOKEN")
    assert "invalid_auth" in output


@pytest.mark.parametrize("api_url", ["http://127.0.0.1:{port}/api/", "http://no-such-host.invalid/api/"])
def test_slack_unreachable(tmp_path, api_url):
    result = serve(tmp_path, SLACK_API_URL=api_url.format(port=free_port()))
    output = assert_one_clear_line(result, "SLACK_API_URL")
    assert "can't reach" in output


def test_the_port_in_use(tmp_path):
    with socket.socket() as taken, slack() as api_url:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        output = assert_one_clear_line(serve(tmp_path, SLACK_API_URL=api_url, PORT=str(port)), "PORT")
    assert f"port {port} on 127.0.0.1 is already in use" in output
    assert "serving Slack requests" not in output  # logged only once the port is ours


def test_a_host_that_is_not_this_machine(tmp_path):
    with slack() as api_url:
        output = assert_one_clear_line(serve(tmp_path, SLACK_API_URL=api_url, HOST="203.0.113.7"), "HOST")
    assert "203.0.113.7" in output


def test_a_program_file_that_cannot_be_read(tmp_path):
    folder = tmp_path / "program.yml"
    folder.mkdir()
    output = assert_one_clear_line(serve(tmp_path, PROGRAM_FILE=str(folder)), "PROGRAM_FILE")
    assert "can't read" in output


GUARDED = ("import sys, bot.cli, bot.serve\n"
           "def broken(*args):\n"
           "    raise RuntimeError('boom with ' + sys.argv[-1])\n"
           "bot.serve.run_server = broken\n"
           "sys.argv = ['partnerbot', 'serve']\n"
           "import bot.runtime; bot.runtime.check_slack = lambda settings: None\n"
           "bot.cli.main()\n")


def test_any_other_start_up_failure_is_one_redacted_line_and_debug_keeps_the_traceback(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "SALESFORCE_"))}
    env.update(SLACK_BOT_TOKEN=TOKEN, SLACK_SIGNING_SECRET=SECRET, DATABASE_URL=f"sqlite:///{tmp_path / 'x.db'}",
               PROGRAM_FILE=str(tmp_path / "none.yml"), LOG_LEVEL="INFO")
    command = [sys.executable, "-c", GUARDED.replace("sys.argv[-1]", repr(TOKEN))]
    result = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    output = assert_one_clear_line(result, "RuntimeError")
    assert "Partnerbot stopped: RuntimeError: boom with ***" in output
    debug = subprocess.run(command, env=dict(env, LOG_LEVEL="DEBUG"), cwd=tmp_path, capture_output=True, text=True,
                           timeout=60)
    assert debug.returncode == 2 and "Traceback" in debug.stderr
