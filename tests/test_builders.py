"""Block Kit builders on their own: Slack's limits hold, user text is escaped, buttons carry the right ids."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

from handlers.blocks.lists import build_deals_list, build_help
from handlers.blocks.messages import build_partner_desk, build_partner_update, build_registration_root
from handlers.blocks.registration import (
    build_lead_details_modal,
    build_registration_modal,
    details_registration,
    lead_details_view,
    parse_view_state,
)
from handlers.blocks.review import build_review_reminder, build_review_request, build_review_settled
from handlers.ids import Action, Block, Callback
from storage.actors import Actor, ActorKind
from storage.lists import Cursor, Page
from storage.models import (
    Partner,
    PartnerType,
    PricingModel,
    Registration,
    RegistrationStatus,
    ReviewKind,
    Role,
)
from workflows.program import Program
from workflows.services import ConflictEvidence

WHEN = datetime(2026, 11, 2, tzinfo=timezone.utc)
NASTY = "<!channel> & <@U0EVIL> *bold*"


def registration(**changes) -> Registration:
    values = dict(id=7, partner_id=1, submitted_by_slack_id="U0DANA", company=NASTY, company_key="x",
                  domain="acme.com", contact_name="Jane <b>", contact_email="jane@acme.com", region="EMEA",
                  product_line="Platform", estimated_value=Decimal("50000"), currency="USD",
                  pricing_model=PricingModel.usage_based, starting_monthly_usage=Decimal("5000"),
                  company_size="51-200", budget="approved", timeline="0-1m", notes="Call <!here> now",
                  status=RegistrationStatus.under_review, review_kind=ReviewKind.ae, score=72,
                  score_breakdown={"fit": {"points": 30, "max": 35, "why": "size 51-200"}},
                  assigned_to_slack_id="U0ALEX", routing_reason="rule <x>", created_at=WHEN, updated_at=WHEN)
    values.update(changes)
    return Registration(**values)


PARTNER = Partner(id=1, name="North<wind>", type=PartnerType.reseller, slack_channel_id="C0NORTH")


def rendered(message) -> str:
    return str([b.to_dict() for b in message.blocks])


def test_user_text_is_escaped_everywhere():
    reg = registration()
    for message in (build_registration_root(reg, PARTNER), build_review_request(reg, PARTNER, []),
                    build_review_settled(reg.model_copy(update={"status": RegistrationStatus.rejected,
                                                                "decision_reason": "<!everyone>"}), PARTNER, "U0ALEX"),
                    build_partner_update(reg, 48), build_partner_desk(PARTNER, 90),
                    build_review_reminder(reg, PARTNER, 50, 48)):
        text = rendered(message)
        assert "<!channel>" not in text and "<!here>" not in text and "<!everyone>" not in text
        assert "<@U0EVIL>" not in text and "North<wind>" not in text
        assert message.text  # a plain fallback always goes with blocks


def test_review_request_buttons_and_score():
    message = build_review_request(registration(), PARTNER, [])
    actions = message.blocks[-1].to_dict()
    assert actions["block_id"] == Block.review_actions
    assert [(e["action_id"], e["value"]) for e in actions["elements"]] == [
        (Action.accept, "7"), (Action.reject, "7"), (Action.reassign, "7"), (Action.ask_partner, "7")]
    accept = actions["elements"][0]
    assert accept["confirm"]["confirm"]["text"] == "Accept" and "undo" in accept["confirm"]["text"]["text"]
    assert "Score 72/100" in rendered(message) and "Fit 30/35" in rendered(message)


def test_conflict_review_shows_evidence_and_the_rule():
    other = registration(id=3, company="Acme", status=RegistrationStatus.approved,
                         protection_expires_at=datetime(2027, 1, 31, tzinfo=timezone.utc))
    rival = Partner(id=2, name="Globex", type=PartnerType.referral)
    conflict = registration(review_kind=ReviewKind.conflict, assigned_to_slack_id="U0PRIYA")
    message = build_review_request(conflict, PARTNER, [ConflictEvidence(other, rival, "same domain")])
    text = rendered(message)
    assert "REG-00003" in text and "*Globex*" in text and "protected until 31 Jan 2027" in text
    assert "same domain" in text and "approving this one is an override" in text
    ids = [e["action_id"] for e in message.blocks[-1].to_dict()["elements"]]
    assert ids == [Action.clear_conflict, Action.reject_conflict, Action.ask_partner]  # conflicts stay with managers


def test_registration_modal_fits_slack_and_parses_back():
    modal = build_registration_modal(Program(), prefill_text="https://acme.com", choose_partner=True,
                                     origin_channel_id="C0NORTH").to_dict()
    assert modal["callback_id"] == Callback.lead_registration and len(modal["title"]["text"]) <= 24
    assert len(modal["blocks"]) <= 100
    block_ids = [b["block_id"] for b in modal["blocks"]]
    assert block_ids[0] == Block.partner and Block.company in block_ids
    domain_block = next(b for b in modal["blocks"] if b["block_id"] == Block.domain)
    assert domain_block["element"]["initial_value"] == "https://acme.com"
    partner_view = build_registration_modal(Program(), prefill_text="Acme Inc", choose_partner=False,
                                            origin_channel_id=None, partner_name="Northwind").to_dict()
    assert Block.partner not in [b.get("block_id") for b in partner_view["blocks"]]
    state = {"state": {"values": {"company": {"company": {"type": "plain_text_input", "value": "Acme"}},
                                  "region": {"region": {"type": "static_select",
                                                        "selected_option": {"value": "EMEA"}}},
                                  "budget": {"budget": {"type": "static_select", "selected_option": None}}}}}
    assert parse_view_state(state) == {"company": "Acme", "region": "EMEA", "budget": None}


def test_registration_form_asks_only_what_routing_needs_then_optional_details():
    first = build_registration_modal(Program(), choose_partner=False, origin_channel_id="C0NORTH").to_dict()
    inputs = [b["block_id"] for b in first["blocks"] if b["type"] == "input"]
    assert inputs == [Block.company, Block.domain, Block.contact_name, Block.contact_email, Block.country,
                      Block.product_line, Block.estimated_value, Block.currency, Block.pricing_model,
                      Block.starting_monthly_usage, Block.attribution]
    details = build_lead_details_modal(registration_id=42, reference="REG-00042", company=NASTY,
                                       partner_name="Northwind", origin_channel_id="C0NORTH").to_dict()
    assert details["callback_id"] == Callback.lead_details and details["notify_on_close"] is True
    assert len(details["title"]["text"]) <= 24 and details["close"]["text"] == "Skip"
    assert [b["block_id"] for b in details["blocks"] if b["type"] == "input"] == [
        Block.company_size, Block.budget, Block.timeline, Block.notes]
    assert all(b.get("optional") for b in details["blocks"] if b["type"] == "input")
    assert "<!channel>" not in details["blocks"][0]["text"]["text"]  # escaped
    assert details_registration(details) == 42
    # What the ack sends, built from a template made once: the same view, for any registration.
    for n, company in ((42, NASTY), (7, "Globex")):
        assert lead_details_view(registration_id=n, reference=f"REG-{n:05d}", company=company, partner_name="N&W",
                                 origin_channel_id="C0NORTH") == build_lead_details_modal(
            registration_id=n, reference=f"REG-{n:05d}", company=company, partner_name="N&W",
            origin_channel_id="C0NORTH").to_dict()
    for forged in ('{"registration": "42"}', '{"registration": true}', '[1]', 'nope', '{"registration": -1}'):
        assert details_registration({"private_metadata": forged}) is None


def test_lists_and_help_depend_on_who_asks():
    partner = Actor("U0DANA", "T0NORTH", ActorKind.partner, partner_id=1, partner_type=PartnerType.reseller)
    manager = Actor("U0PRIYA", "T0OURS", ActorKind.internal, role=Role.partner_manager)
    rows = [(registration(id=i), PARTNER) for i in range(1, 21)]
    listing = build_deals_list(Page(rows, 30, False, 0, Cursor(WHEN, 1, True, 20), None), manager)
    assert len(listing.blocks) <= 50 and "Showing 1–20 of 30" in rendered(listing)
    assert [b.action_id for b in listing.blocks[-1].elements] == [Action.deals_older]
    assert "No registrations" in build_deals_list(Page([], 0, False, 0, None, None), partner).text
    assert "partner desk" in rendered(build_help(partner)) and "conflicts" in rendered(build_help(manager))
    assert "don't know you" in rendered(build_help(Actor("U1", None, ActorKind.unknown)))


def test_many_conflicts_still_fit_one_message():
    rival = Partner(id=2, name="Globex", type=PartnerType.referral)
    evidence = [ConflictEvidence(registration(id=i, company="Acme " + "x" * 150, notes=""), rival, "same domain")
                for i in range(1, 40)]
    conflict = registration(review_kind=ReviewKind.conflict)
    message = build_review_request(conflict, PARTNER, evidence)
    for block in message.blocks:
        block.to_dict()  # slack_sdk raises if a text is over Slack's limits
    assert "…and 31 more" in rendered(message)


def test_longest_escape_heavy_input_still_fits_slack():
    """Escaping grows `&`, `<`, `>` up to five-fold; every message must still be accepted by Slack."""
    worst = registration(company="&<>" * 66, contact_name="<" * 200, domain="a" * 60 + ".com",
                         notes="R&D <" * 725, decision_reason="&" * 1000, routing_reason=">" * 500,
                         status=RegistrationStatus.rejected)
    partner = Partner(id=1, name="&" * 200, type=PartnerType.reseller)
    rival = ConflictEvidence(registration(id=2, company="<" * 200, status=RegistrationStatus.approved,
                                          protection_expires_at=WHEN), partner, "same domain")
    messages = [build_registration_root(worst, partner), build_partner_update(worst, 48),
                build_review_request(worst.model_copy(update={"status": RegistrationStatus.under_review}), partner,
                                     []),
                build_review_request(worst.model_copy(update={"review_kind": ReviewKind.conflict}), partner,
                                     [rival] * 8),
                build_review_settled(worst, partner, "U0ALEX"), build_review_reminder(worst, partner, 50, 48),
                build_partner_desk(partner, 90),
                build_deals_list(Page([(worst, partner)] * 20, 10_000, True, 10**9, Cursor(WHEN, 2, True, 10**9 + 20),
                                      Cursor(WHEN, 1, False, 10**9)),
                                 Actor("U0P", "T0", ActorKind.internal, role=Role.admin))]
    for message in messages:
        for block in message.blocks:
            block.to_dict()  # slack_sdk raises SlackObjectFormationError past Slack's limits
        assert len(message.blocks) <= 50


FORGED = "Thanks!\n*Status:* :white_check_mark: Approved\n\n>Protected until 1 Jan 2099\r\n• Approved by <@U0PRIYA>"


def mrkdwn_lines(message) -> list[str]:
    """Every line of every mrkdwn text in the message, as Slack would lay them out."""
    texts = []

    def walk(node):
        if isinstance(node, dict):
            if node.get("type") == "mrkdwn":
                texts.append(node["text"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)
    walk([b.to_dict() for b in message.blocks])
    return [line for text in texts for line in text.splitlines()]


def test_notes_and_reasons_cannot_forge_the_bots_own_lines():
    rejected = registration(notes=FORGED, decision_reason=FORGED, status=RegistrationStatus.rejected)
    messages = [build_review_request(registration(notes=FORGED), PARTNER, []),
                build_review_settled(rejected, PARTNER, "U0ALEX"), build_partner_update(rejected, 48)]
    for message in messages:
        lines = mrkdwn_lines(message)
        assert any("*Status:* :white_check_mark: Approved" in line for line in lines)  # shown, but as a quote
        for forged in ("*Status:*", "• Approved by", "Thanks!", "Protected until"):
            assert not any(line.startswith(forged) for line in lines), (forged, lines)
        assert ">" in lines and ">*Status:* :white_check_mark: Approved" in lines  # empty lines are quoted too
        assert ">&gt;Protected until 1 Jan 2099" in lines  # a quote inside the quote stays text


def test_a_long_many_line_note_is_quoted_and_still_fits_slack():
    many = registration(notes="*Status:* Approved\n" * 400, decision_reason="\n" * 2000,
                        status=RegistrationStatus.rejected)
    for message in (build_review_request(many, PARTNER, []), build_review_settled(many, PARTNER, "U0ALEX"),
                    build_partner_update(many, 48)):
        for block in message.blocks:
            block.to_dict()  # raises past Slack's 3,000 characters
        assert not any(line.startswith("*Status:*") for line in mrkdwn_lines(message))


def test_reviewer_messages_escape_user_text_and_fit_slack():
    from handlers.blocks.review import build_review_handed_over, build_undo_prompt
    from handlers.blocks.review_threads import (
        build_co_sell_withdrawn,
        build_decision_withdrawn,
        build_partner_question,
        build_partner_reply,
    )

    worst = registration(company="&<>" * 66, close_reason="<!here> " * 120, status=RegistrationStatus.lost)
    partner = Partner(id=1, name="&" * 200, type=PartnerType.reseller)
    messages = [
        build_review_settled(worst, partner, "U0ALEX"),
        build_review_handed_over(worst, partner, actor_slack_id="U0ALEX", reason="<!channel> " * 100),
        build_review_reminder(worst.model_copy(update={"status": RegistrationStatus.under_review}), partner, 50, 48,
                              link="https://acme.slack.com/archives/D1/p1"),
        build_partner_question(worst, "U0ALEX", "<!channel> " * 100),
        build_partner_reply(worst, partner, "U0DANA", "<!everyone> " * 200, "https://acme.slack.com/archives/C1/p2"),
        build_decision_withdrawn(worst.model_copy(update={"status": RegistrationStatus.approved}),
                                 RegistrationStatus.won),
        build_co_sell_withdrawn(worst.model_copy(update={"company": "<!here> " * 25,
                                                         "status": RegistrationStatus.approved})),
        build_undo_prompt("REG-00007 marked lost.", 12, WHEN),
    ]
    for message in messages:
        for block in message.blocks:
            block.to_dict()  # slack_sdk raises past Slack's limits (confirm dialogs included)
        text = rendered(message)
        assert "<!here>" not in text and "<!channel>" not in text and "<!everyone>" not in text
        assert len(message.blocks) <= 50 and message.text
    lost = rendered(messages[0])
    assert "&lt;!here&gt;" in lost  # the lost reason, quoted
    reminder = messages[2]
    assert "<https://acme.slack.com/archives/D1/p1|Open the review request>" in rendered(reminder)
    assert [e["action_id"] for e in reminder.blocks[-1].to_dict()["elements"]] == [
        Action.accept, Action.reject, Action.reassign, Action.ask_partner]
    forged = build_review_reminder(registration(), PARTNER, 50, 48, link="https://x|<!channel>")
    assert "Open the review request" not in rendered(forged)  # only a plain Slack link is ever linked
    undo = messages[-1].blocks[1].to_dict()["elements"][0]
    assert (undo["action_id"], undo["value"]) == (Action.undo, "12")
    assert "<!date^" in rendered(messages[-1])  # the time in the reader's own zone


def test_review_modals_fit_slack():
    from handlers.blocks.review_modals import (
        build_ask_modal,
        build_lost_modal,
        build_reassign_modal,
        build_reject_modal,
        parse_modal_metadata,
    )

    aes = [(f"U{i:04d}", "Name " * 30) for i in range(150)]
    modals = [build_reject_modal(7, ReviewKind.conflict, "D0ALEX"), build_reject_modal(7, ReviewKind.ae, "home"),
              build_lost_modal(7, "REG-00007", None), build_reassign_modal(7, "REG-00007", aes, "D0ALEX"),
              build_ask_modal(7, "REG-00007", "C0NORTH")]
    for modal in modals:
        data = modal.to_dict()  # raises past Slack's limits (title 24, option text 75, 100 options)
        assert len(data["blocks"]) <= 100 and len(data["private_metadata"]) <= 3000
        assert parse_modal_metadata(data["private_metadata"]).registration_id == 7
    conflict = modals[0].to_dict()
    labels = [o["text"]["text"] for o in conflict["blocks"][0]["element"]["options"]]
    assert "Another partner registered it first" in labels
    reassign = modals[3].to_dict()["blocks"][0]["element"]["options"]
    assert len(reassign) == 100 and reassign[0]["value"] == "routing"
    assert parse_modal_metadata('{"registration": "7"}').registration_id is None  # only our own shape
    assert parse_modal_metadata("7").registration_id == 7  # the override modal's bare id


def test_app_home_with_a_full_page_of_buttons_fits_slack():
    from handlers.blocks.home import build_home, shown_filter
    from storage.lists import HomeFilter
    from storage.models import ReviewDecision
    from workflows.people import HomeView

    ae = Actor("U0ALEX", "T0OURS", ActorKind.internal, role=Role.ae)
    rows = [(registration(id=i, company=NASTY), PARTNER) for i in range(1, 11)]
    rows += [(registration(id=i, status=RegistrationStatus.approved, protection_expires_at=WHEN), PARTNER)
             for i in range(11, 21)]
    undo = [(ReviewDecision(id=i, registration_id=i, actor_slack_id="U0ALEX", from_status="under_review",
                            to_status="approved"), registration(id=i, company=NASTY,
                                                                status=RegistrationStatus.approved))
            for i in range(3)]
    page = Page(rows, 45, False, 0, Cursor(WHEN, 2, True, 20), None)
    view = build_home(HomeView(page, HomeFilter.open, (12, False), (10_000, True), undo), ae).to_dict()
    assert len(view["blocks"]) <= 100
    text = str(view)
    assert "<!channel>" not in text and "more than 10,000" in text and "Showing 1–20 of 45" in text
    actions = [e["action_id"] for b in view["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert actions.count(Action.accept) == 10 and actions.count(Action.mark_won) == 10
    assert actions[-1] == Action.home_older and text.count(Action.undo.value) == 3
    assert shown_filter(view) == HomeFilter.open and shown_filter({"private_metadata": "x"}) == HomeFilter.all



def test_long_sections_keep_whole_lines_so_no_escape_is_cut_in_half():
    from handlers.blocks.text import SECTION_LIMIT, escape, whole_lines

    lines = ["*Top partners*"] + [escape(f"{n}. Smith & Sons <Holdings> & Co: 1,000 USD") for n in range(200)]
    text = whole_lines(lines, SECTION_LIMIT)
    assert len(text) <= SECTION_LIMIT
    kept = text.splitlines()
    assert kept[-1].startswith("… and ") and kept[-1].endswith(" more lines")
    assert all(line in lines for line in kept[:-1])  # every line shown is whole: no "&am…" at the end
    assert int(kept[-1].split()[2]) == len(lines) - (len(kept) - 1)
    assert whole_lines(["a", "b"], SECTION_LIMIT) == "a\nb"
