"""The partner part of the demo plays on the sandbox and shows each partner flow."""

from __future__ import annotations

import io

from rich.console import Console

from bot.demo import Walkthrough
from bot.demo_partner import play_partner_tools
from bot.local import local_bot


def test_play_partner_tools_shows_each_flow(engine):
    with local_bot(engine, process_before_response=True) as bot:
        bot.driver.bot_joined("C0NORTH")
        out = io.StringIO()
        play_partner_tools(bot, Walkthrough(bot, Console(file=out, width=1000), pause=0))
    text = out.getvalue()
    assert "Vandelay" in text and "chasing a decision" in text
    assert "protected until" in text or "Under review" in text
    assert "added an update" in text and text.count("Partner desk for Northwind") >= 2
    # Edit: the modal shows what was registered, the thread and the AE say what changed, and it is routed anew.
    assert "Estimated deal value: 36000" in text and "Estimated deal value: 42,000" in text
    assert "Edited by @Dana Scully: contact, amount" in text and "while you were reviewing it" in text
    assert "42,000 USD" in text and "REG-00001 updated (contact, amount)" in text
    assert "withdrew" in text and "Withdrawn: *Vandelay Industries* is no longer registered to you" in text and "AE @" in text
