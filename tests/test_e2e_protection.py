"""Deal nudges and protection extensions through the real app and the local Slack sandbox: the partner presses
Request extension on the expiry warning in its registration's thread, the AE presses Extend (or Decline, with a
reason) in a DM, and the partner reads the outcome in the thread; a stalled deal's AE presses Still working."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session, select

from storage.models import Registration
from tests.e2e_support import (  # noqa: F401
    bot,
    clock,
    copy_to,
    crm_events,
    dm_messages,
    registration_thread,
    text_of,
)
from tests.test_lifecycle import register, review_of
from tests.test_nudges import any_hour, only_partner_kinds
from workflows.nudge_jobs import send_due_nudges


def always_working_hours(services) -> None:
    """Nudges go out at once, whatever day and hour the test runs; the managers' roll-up and QBR stay out of it,
    and so does re-engagement (the demo's partners go quiet in the weeks these tests skip)."""
    program = only_partner_kinds(any_hour(services.program))
    quiet = program.nudges.reengagement.model_copy(update={"enabled": False})
    program = program.model_copy(update={"nudges": program.nudges.model_copy(update={"reengagement": quiet})})
    services.program = program
    services.notifier.program = program


def approved_and_nearly_expired(bot, clock, company: str) -> tuple[str, str, int]:
    """Dana registers `company`, its AE accepts it, and 80 of its 90 protected days go by quietly; returns the
    reference, the AE and the registration's id."""
    always_working_hours(bot.services)
    reference = register(bot, "U0DANA", "C0NORTH", company)
    ae, review = review_of(bot, reference)
    assert bot.driver.click(ae, "review_accept", message=(review.channel, review.ts)).status == 200
    clock.offset += timedelta(days=80)
    assert send_due_nudges(bot.services).created == {"stalled_registration": 1, "protection_expiry": 1}
    bot.worker.kick()
    with Session(bot.engine) as session:
        registration_id = session.exec(select(Registration.id).order_by(Registration.id.desc())).first()
    return reference, ae, registration_id


def warning_in_thread(bot, reference: str):
    _, replies = registration_thread(bot, "C0NORTH", reference)
    [warning] = [m for m in replies if "ends in 10 days" in text_of(m)]
    return warning


def in_dm(bot, user: str, words: str):
    return [m for m in dm_messages(bot.sandbox, user) if words in text_of(m)]


def copy_to_dm(bot, message, user: str) -> tuple[str, str]:
    """The message posted again in someone else's DM with the bot, as a forged request would press it."""
    blocks = [b.to_dict() if hasattr(b, "to_dict") else b for b in message.blocks]
    posted = bot.sandbox.client().chat_postMessage(channel=user, text=message.text, blocks=blocks)
    return posted["channel"], posted["ts"]


def last_private(bot, user: str) -> str:
    return text_of(bot.sandbox.ephemerals(user)[-1])


def test_the_partner_asks_for_more_protection_the_ae_extends_it_once_and_the_thread_says_so(bot, engine, clock):
    reference, ae, registration_id = approved_and_nearly_expired(bot, clock, "Acme")
    warning = warning_in_thread(bot, reference)
    assert "<@U0DANA>" in text_of(warning)
    assert [b.action_id for b in bot.sandbox.buttons(warning)] == ["protection_request_extension", "nudge_snooze",
                                                                    "nudge_not_relevant"]
    forged = copy_to(bot, warning, "C0GLOBEX")  # another partner's people cannot ask for it
    bot.driver.click("U0BOB", "protection_request_extension", message=forged)
    assert "I can't find that registration among yours" in last_private(bot, "U0BOB")
    spare = copy_to(bot, warning, "C0NORTH")  # pressed again once the extension is used up
    bot.driver.click("U0DANA", "protection_request_extension", message=(warning.channel, warning.ts))
    assert f"Asked <@{ae}> to extend {reference}'s protection by 30 days" in last_private(bot, "U0DANA")
    bot.driver.click("U0ERIK", "protection_request_extension", message=spare)  # Dana's colleague, meanwhile
    assert "already pending" in last_private(bot, "U0ERIK")
    warning = warning_in_thread(bot, reference)
    assert bot.sandbox.buttons(warning) == [] and "<@U0DANA> asked for an extension" in text_of(warning)

    [request] = in_dm(bot, ae, "asks to extend")
    assert [b.action_id for b in bot.sandbox.buttons(request)] == ["protection_extend", "protection_decline"]
    other_ae = "U0BEA" if ae == "U0ALEX" else "U0ALEX"
    bot.driver.click(other_ae, "protection_extend", message=copy_to_dm(bot, request, other_ae))
    assert in_dm(bot, other_ae, "Only the deal's account executive")  # told privately: in their DM there
    with Session(engine) as session:
        before = session.get(Registration, registration_id).protection_expires_at
    bot.driver.click(ae, "protection_extend", message=(request.channel, request.ts))
    assert "protection extended to" in last_private(bot, ae)
    after = before + timedelta(days=30)
    with Session(engine) as session:
        assert session.get(Registration, registration_id).protection_expires_at == after
    assert crm_events(engine, registration_id)[-1] == "extended"
    root, replies = registration_thread(bot, "C0NORTH", reference)
    assert f"Protected until {after:%-d %b %Y}" in text_of(root)
    assert any(f"is registered to you until {after:%-d %b %Y}" in text_of(m) for m in replies)
    [request] = in_dm(bot, ae, "asks to extend")
    assert bot.sandbox.buttons(request) == [] and f"Extended to {after:%-d %b %Y} by <@{ae}>" in text_of(request)

    bot.driver.click("U0DANA", "protection_request_extension", message=spare)
    assert "every extension the program allows (1)" in last_private(bot, "U0DANA")


def test_the_ae_declines_with_a_reason_the_partner_reads_in_its_thread(bot, engine, clock):
    reference, ae, _ = approved_and_nearly_expired(bot, clock, "Umbrella")
    warning = warning_in_thread(bot, reference)
    bot.driver.click("U0DANA", "protection_request_extension", message=(warning.channel, warning.ts))
    [request] = in_dm(bot, ae, "asks to extend")
    bot.driver.click(ae, "protection_decline", message=(request.channel, request.ts))
    modal = bot.sandbox.open_modal(ae)
    assert modal is not None and modal.callback_id == "protection_decline_reason"
    blank = bot.driver.submit(ae, modal.id, {"reason": "  "})
    assert "Say why" in blank.json["errors"]["reason"]
    assert bot.driver.submit(ae, modal.id, {"reason": "No budget until <!channel> Q3"}).status == 200
    _, replies = registration_thread(bot, "C0NORTH", reference)
    [told] = [m for m in replies if "No extension for" in text_of(m)]
    assert "No budget until &lt;!channel&gt; Q3" in text_of(told)
    [request] = in_dm(bot, ae, "asks to extend")
    assert bot.sandbox.buttons(request) == [] and f"Declined by <@{ae}>" in text_of(request)


def test_the_ae_of_a_stalled_deal_presses_still_working_and_the_nudge_says_so(bot, engine, clock):
    reference, ae, registration_id = approved_and_nearly_expired(bot, clock, "Initrode")
    [nudge] = in_dm(bot, ae, f"Is {reference} still in play?")
    assert [b.action_id for b in bot.sandbox.buttons(nudge)] == ["nudge_still_working", "deal_won", "deal_lost",
                                                                  "nudge_snooze", "nudge_not_relevant"]
    bot.driver.click("U0DANA", "nudge_still_working", message=copy_to(bot, nudge, "C0NORTH"))
    assert "isn't yours to answer" in last_private(bot, "U0DANA")
    bot.driver.click(ae, "nudge_still_working", message=(nudge.channel, nudge.ts))
    [nudge] = in_dm(bot, ae, f"Is {reference} still in play?")
    assert bot.sandbox.buttons(nudge) == [] and f"<@{ae}> is still working it" in text_of(nudge)
    assert send_due_nudges(bot.services).total == 0  # its quiet period starts again
