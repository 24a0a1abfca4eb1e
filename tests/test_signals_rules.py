"""Expansion signals' rules, without Slack: which phrase a message says and what it signals, which accounts it
names, the suggestion's button value within Slack's limit, and a message's text as people read it."""

from __future__ import annotations

import json

import pytest

from handlers.blocks.signals import MAX_VALUE, build_signal_suggestion, suggestion_value
from handlers.events import plain_text
from storage.models import UpsellSignal
from storage.signals import NamedAccount
from workflows.normalize import company_key
from workflows.program import DEFAULT_SIGNAL_PHRASES
from workflows.signals import Suggestion, domains_in, named_accounts, phrase_signal, signal_in

PHRASES = DEFAULT_SIGNAL_PHRASES


@pytest.mark.parametrize("text, signal", [
    ("They need MORE   seats next month", UpsellSignal.more_seats),
    ("we want to add users", UpsellSignal.more_seats),
    ("they are hitting the limit every week", UpsellSignal.usage_growth),
    ("ready for the Enterprise plan", UpsellSignal.plan_upgrade),
    ("time to upgrade!", UpsellSignal.plan_upgrade),
    ("looking to expand", UpsellSignal.plan_upgrade),  # a phrase that tells no signal: the default
    ("looking to expand, hitting the limit", UpsellSignal.usage_growth),  # a telling phrase wins over it
    ("they upgraded", None),  # inside another word
    ("re-expanding soon", None),
    ("morestats", None),
    ("nothing to see", None),
])
def test_the_phrase_a_message_says_and_its_signal(text, signal):
    assert signal_in(text, PHRASES) == signal


def test_phrases_from_the_program_file_map_to_signals_by_their_words():
    assert phrase_signal("more licences") == UpsellSignal.more_seats
    assert phrase_signal("usage is growing") == UpsellSignal.usage_growth
    assert phrase_signal("renewal") == UpsellSignal.renewal_at_risk
    assert phrase_signal("add-on") == UpsellSignal.new_product_line
    assert phrase_signal("Analytics", ("Platform", "Analytics")) == UpsellSignal.new_product_line
    assert phrase_signal("expand") is None
    assert signal_in("anything", ()) is None
    assert signal_in("they want (more) seats?", ("(more) seats?",)) == UpsellSignal.more_seats  # escaped


def account(account_id: int, name: str, domain: str | None = None) -> NamedAccount:
    return NamedAccount(partner_id=1, account_id=account_id, name=name, name_key=company_key(name), domain=domain)


ACME, ACME_ANALYTICS = account(1, "Acme Inc.", "acme.com"), account(2, "Acme Analytics GmbH", "acmeanalytics.de")
HOLDING, ATT = account(3, "The Holding Company"), account(4, "AT&T Inc.", "att.com")


@pytest.mark.parametrize("text, named", [
    ("ACME needs more seats", [1]),
    ("acme, inc. is growing", [1]),
    ("Acme Analytics GmbH and Acme both", [2, 1]),  # the longest name first: it is the one meant
    ("https://app.acme.com/settings is full", [1]),  # a subdomain folds into the account's domain
    ("write to ops@acmeanalytics.de", [2]),
    ("The Holding Company wants more", [3]),  # a name made of legal forms only keeps them
    ("AT&T needs more", [4]),
    ("Acmeville and acmecorp.com", []),
    ("acme.community", []),
])
def test_the_accounts_a_message_names(text, named):
    assert [a.account_id for a in named_accounts(text, [ACME, ACME_ANALYTICS, HOLDING, ATT])] == named


def test_domains_in_a_message_are_registrable_domains_only():
    assert domains_in("see www.Acme.co.uk/x, file.txt, v1.2 and e.g. this") == {"acme.co.uk"}


def test_the_button_value_fits_slacks_limit_whatever_the_characters():
    assert json.loads(suggestion_value(7, UpsellSignal.more_seats, "short")) == {
        "account": 7, "signal": "more_seats", "notes": "short"}
    for notes in ("x" * 5000, "“é”\n" * 2000, "🚀" * 1500, '"\\' * 1500):
        value = suggestion_value(7, UpsellSignal.usage_growth, notes)
        assert len(value) <= MAX_VALUE and value.isascii()
        cut = json.loads(value)["notes"]
        assert cut.endswith("…") and notes.startswith(cut[:-1]) and len(value) > MAX_VALUE - 20


def test_the_suggestion_escapes_the_account_name():
    suggestion = Suggestion(channel_id="C1", user_id="U1", thread_ts=None, account_id=3, account_name="<!channel> & Co",
                            signal=UpsellSignal.plan_upgrade, notes="n", slot_key="k")
    message = build_signal_suggestion(suggestion)
    shown = json.dumps([block.to_dict() for block in message.blocks]) + message.text
    assert "<!channel>" not in shown and "&lt;!channel&gt; &amp; Co" in shown


def test_plain_text_resolves_slacks_markup():
    assert plain_text("Hi <@U0ALEX>, <https://acme.com|acme.com> &amp; <mailto:jo@acme.com|jo@acme.com> "
                      "<!here> <#C0NORTH|partner-northwind> &lt;b&gt; <https://x.io>") == \
        "Hi @U0ALEX, acme.com & jo@acme.com @here #partner-northwind <b> https://x.io"
