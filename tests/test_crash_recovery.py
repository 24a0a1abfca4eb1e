"""`kill -9` of a real `partnerbot serve` around the ack: nothing acknowledged is lost, nothing is doubled."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
from sqlmodel import Session, select

from bot.demo_data import BOT_USER, OUR_TEAM, import_demo_records, populate_sandbox
from bot.sandbox import Sandbox
from storage.models import Registration, RegistrationStatus
from tests.e2e_support import DETAILS, GOOD_FORM, text_of
from tests.test_serve import free_port, wait_until_healthy


def start_serve(env: dict, cwd) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "bot.cli", "serve"], env=env, cwd=cwd,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@pytest.mark.parametrize("kill_after_ms,mid_send", [(0, False), (30, False), (80, False), (500, True)],
                         ids=["at-ack", "30ms", "80ms", "mid-send"])
def test_killed_right_after_the_ack_the_restarted_bot_delivers_everything_once(engine, database_url, tmp_path,
                                                                              kill_after_ms, mid_send):
    """`mid-send`: Slack posts the thread root but holds its answer; the process dies waiting for it."""
    import_demo_records(engine)
    secret, token, port = "crash-signing-secret", "xoxb-crash-test", free_port()
    with Sandbox(secret, token, team_id=OUR_TEAM[0], team_name=OUR_TEAM[1], bot_user_id=BOT_USER) as sandbox:
        populate_sandbox(sandbox)
        env = dict(os.environ, SLACK_BOT_TOKEN=token, SLACK_SIGNING_SECRET=secret, SLACK_API_URL=sandbox.api_url,
                   DATABASE_URL=database_url, PORT=str(port), PROGRAM_FILE=str(tmp_path / "none.yml"))
        env.pop("SLACK_APP_TOKEN", None)
        base = f"http://127.0.0.1:{port}"
        process = start_serve(env, tmp_path)
        try:
            wait_until_healthy(base)
            desk = sandbox.wait_for(lambda: [m for m in sandbox.messages("C0NORTH") if "Partner desk" in text_of(m)],
                                   timeout=10)[0]
            driver = sandbox.driver(base + "/slack/events")
            driver.click("U0DANA", "register_lead", message=("C0NORTH", desk.ts))
            modal = sandbox.wait_for(lambda: sandbox.open_modal("U0DANA"), timeout=10)
            if mid_send:
                sandbox.fail("chat.postMessage", delay=5.0, after_effect=True)
            acked = driver.submit("U0DANA", modal.id, GOOD_FORM)
            time.sleep(kill_after_ms / 1000)
            process.kill()  # SIGKILL: no clean-up, whatever the worker was doing
            process.wait(timeout=10)
            assert acked.status == 200 and acked.json["response_action"] == "update"  # stored: the details step

            process = start_serve(env, tmp_path)
            wait_until_healthy(base)
            assert driver.submit("U0DANA", sandbox.open_modal("U0DANA").id, DETAILS).status == 200
            reviews = sandbox.wait_for(lambda: [m for m in sandbox.messages(sandbox.dm_channel("U0ALEX"))
                                                if "REG-00001" in text_of(m)], timeout=15)
            root = sandbox.wait_for(lambda: [m for m in sandbox.messages("C0NORTH")
                                             if "REG-00001" in text_of(m) and not m.thread_ts], timeout=15)
            thread = sandbox.wait_for(lambda: sandbox.messages("C0NORTH", thread_ts=root[0].ts), timeout=15)
            time.sleep(1.5)  # anything doubled would have arrived by now
        finally:
            process.kill()
            process.wait(timeout=10)
        assert len(reviews) == 1 and len(root) == 1
        assert len(sandbox.messages("C0NORTH", thread_ts=root[0].ts)) == 1 and "Under review" in text_of(thread[0])
        assert len([m for m in sandbox.messages("C0NORTH") if "Partner desk" in text_of(m)]) == 1
    with Session(engine) as session:
        [registration] = session.exec(select(Registration)).all()
    assert registration.status == RegistrationStatus.under_review
