"""Faults that leave the caller unsure whether the call took effect: after-effect errors, timeouts, random."""

from __future__ import annotations

import threading
from urllib.error import URLError

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.sandbox import Sandbox, SandboxError
from tests.sandbox.conftest import INTERNAL, SECRET, TOKEN, populate

TIMED_OUT = (TimeoutError, URLError)  # urllib raises TimeoutError on a slow answer, URLError on a slow connect


def test_server_error_after_the_effect_hides_a_posted_message(client, sandbox):
    sandbox.fail("chat.postMessage", status=500, after_effect=True)
    with pytest.raises(SlackApiError) as raised:
        client.chat_postMessage(channel=INTERNAL, text="did it go?")
    assert raised.value.response.status_code == 500
    assert [m.text for m in sandbox.messages(INTERNAL)] == ["did it go?"]
    call = sandbox.calls("chat.postMessage")[0]
    assert (call.status, call.fault.kind, call.fault.after_effect) == (500, "500", True)


def test_ok_false_after_the_effect(client, sandbox):
    sandbox.fail("chat.postMessage", error="internal_error", after_effect=True)
    with pytest.raises(SlackApiError) as raised:
        client.chat_postMessage(channel=INTERNAL, text="posted anyway")
    assert raised.value.response.status_code == 200 and raised.value.response["error"] == "internal_error"
    assert len(sandbox.messages(INTERNAL)) == 1


def test_before_the_effect_nothing_happens(client, sandbox):
    sandbox.fail("chat.postMessage", status=503)
    with pytest.raises(SlackApiError):
        client.chat_postMessage(channel=INTERNAL, text="lost")
    assert sandbox.messages(INTERNAL) == [] and sandbox.calls()[0].fault.after_effect is False


def test_a_rate_limited_call_never_takes_effect():
    with Sandbox(SECRET, TOKEN) as sandbox, pytest.raises(SandboxError):
        sandbox.fail("chat.postMessage", status=429, after_effect=True)


def test_timeout_after_the_effect(sandbox):
    sandbox.fail("chat.postMessage", delay=1.0, after_effect=True)
    impatient = WebClient(token=TOKEN, base_url=sandbox.api_url, timeout=0.2)
    with pytest.raises(TIMED_OUT):
        impatient.chat_postMessage(channel=INTERNAL, text="slow")
    assert [m.text for m in sandbox.messages(INTERNAL)] == ["slow"]
    assert sandbox.calls("chat.postMessage")[0].fault.kind == "timeout"


def test_a_patient_caller_gets_the_real_answer_late_or_a_gateway_timeout(sandbox):
    patient = WebClient(token=TOKEN, base_url=sandbox.api_url, timeout=5)
    sandbox.fail("chat.postMessage", delay=0.2, after_effect=True)
    assert patient.chat_postMessage(channel=INTERNAL, text="late")["ok"]
    sandbox.fail("chat.postMessage", delay=0.2)
    with pytest.raises(SlackApiError) as raised:
        patient.chat_postMessage(channel=INTERNAL, text="never")
    assert (raised.value.response.status_code, raised.value.response["error"]) == (504, "request_timeout")
    assert [m.text for m in sandbox.messages(INTERNAL)] == ["late"]


def test_timeout_before_the_effect_posts_nothing(sandbox):
    sandbox.fail("chat.postMessage", delay=1.0)
    with pytest.raises(TIMED_OUT):
        WebClient(token=TOKEN, base_url=sandbox.api_url, timeout=0.2).chat_postMessage(channel=INTERNAL, text="x")
    assert sandbox.messages(INTERNAL) == []


def test_fail_keeps_its_old_forms(client, sandbox):
    with pytest.raises(SandboxError):
        sandbox.fail("chat.postMessage")
    sandbox.fail("users.info", error="user_not_visible", times=2)
    for _ in range(2):
        with pytest.raises(SlackApiError):
            client.users_info(user="U0ALEX")
    assert client.users_info(user="U0ALEX")["ok"]
    assert [c.fault.kind if c.fault else None for c in sandbox.calls()] == ["user_not_visible"] * 2 + [None]


def random_outcomes(seed: int, calls: int = 40) -> list[str]:
    with Sandbox(SECRET, TOKEN) as sandbox:
        populate(sandbox)
        sandbox.fail_randomly("chat.postMessage", 0.5, kinds=("429", "500", "internal_error"), seed=seed)
        client = WebClient(token=TOKEN, base_url=sandbox.api_url)
        for i in range(calls):
            try:
                client.chat_postMessage(channel=INTERNAL, text=str(i))
            except SlackApiError:
                pass
        return [c.fault.kind if c.fault else "ok" for c in sandbox.calls("chat.postMessage")]


def test_random_faults_follow_the_rate_and_repeat_with_a_seed():
    first = random_outcomes(seed=7)
    assert first == random_outcomes(seed=7)
    assert 8 <= first.count("ok") <= 32 and {"429", "500", "internal_error"} <= set(first)


def test_random_faults_some_after_the_effect_and_stop_failing(client, sandbox):
    sandbox.fail_randomly("chat.postMessage", 1.0, kinds=("500",), seed=1)
    for i in range(30):
        with pytest.raises(SlackApiError):
            client.chat_postMessage(channel=INTERNAL, text=str(i))
    landed = [c for c in sandbox.calls("chat.postMessage") if c.fault.after_effect]
    assert 0 < len(landed) < 30 and len(sandbox.messages(INTERNAL)) == len(landed)
    sandbox.stop_failing("chat.postMessage")
    assert client.chat_postMessage(channel=INTERNAL, text="calm")["ok"]


def test_random_timeouts(sandbox):
    sandbox.fail_randomly("chat.postMessage", 1.0, kinds=("timeout",), seed=3, timeout_delay=0.5)
    impatient = WebClient(token=TOKEN, base_url=sandbox.api_url, timeout=0.1)
    for i in range(4):
        with pytest.raises(TIMED_OUT):
            impatient.chat_postMessage(channel=INTERNAL, text=str(i))
    landed = sum(c.fault.after_effect for c in sandbox.calls("chat.postMessage"))
    assert len(sandbox.messages(INTERNAL)) == landed


def test_random_faults_are_thread_safe(sandbox):
    sandbox.fail_randomly("chat.postMessage", 0.3, kinds=("429", "500", "internal_error"), seed=11)
    client = WebClient(token=TOKEN, base_url=sandbox.api_url)
    answered_ok: list[int] = []

    def worker(n: int) -> None:
        for i in range(15):
            try:
                client.chat_postMessage(channel=INTERNAL, text=f"{n}-{i}")
                answered_ok.append(1)
            except SlackApiError:
                pass

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    calls = sandbox.calls("chat.postMessage")
    after = sum(1 for c in calls if c.fault and c.fault.after_effect)
    assert len(calls) == 90 and len(sandbox.messages(INTERNAL)) == len(answered_ok) + after


def test_fail_randomly_checks_its_arguments(sandbox):
    for bad in ({"rate": 1.5}, {"kinds": ("418",)}, {"kinds": ()}):
        with pytest.raises(SandboxError):
            sandbox.fail_randomly("chat.postMessage", **{"rate": 0.1, **bad})
    with pytest.raises(SandboxError):
        sandbox.fail_randomly("chat.postMesage", 0.1)


def test_stop_failing_all_and_reset_drop_scripted_and_random_faults(client, sandbox):
    sandbox.fail("chat.postMessage", status=500, times=5)
    sandbox.fail_randomly("users.info", 1.0, kinds=("500",))
    sandbox.stop_failing()
    assert client.chat_postMessage(channel=INTERNAL, text="x")["ok"] and client.users_info(user="U0ALEX")["ok"]
    sandbox.fail_randomly("users.info", 1.0, kinds=("500",))
    sandbox.reset()
    assert client.users_info(user="U0ALEX")["ok"]
