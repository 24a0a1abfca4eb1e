"""Every id Slack sends back to us (commands, callbacks, actions, blocks), defined once."""

from enum import StrEnum


class Command(StrEnum):
    lead = "/lead"
    partner = "/partner"
    upsell = "/upsell"  # flag an upsell (internal users and partner guests; in a partner's channel, ask it in)


class Callback(StrEnum):
    lead_registration = "lead_registration"
    reject_reason = "reject_reason"
    override_reason = "override_reason"
    partner_update = "partner_update"  # a partner's note on its registration, for the AE
    withdraw_reason = "withdraw_reason"  # a partner withdraws its registration
    edit_registration = "edit_registration"  # a partner corrects its undecided registration
    reassign = "review_reassign"  # a reviewer hands the review to another AE or back to routing
    ask_partner = "review_ask_partner"  # a reviewer's question, posted in the partner's registration thread
    lost_reason = "deal_lost_reason"  # why a deal was lost
    lead_details = "lead_details"  # the registration form's optional second step (size, budget, timeline, notes)
    flag_upsell = "flag_upsell"  # message shortcut "Flag as upsell" (internal users, on a partner channel's message)
    upsell_form = "upsell_form"  # the Flag an upsell modal
    upsell_decline_reason = "upsell_decline_reason"  # the AE declines an upsell: why
    upsell_won_amount = "upsell_won_amount"  # the AE marks an upsell won: the final amount
    upsell_lost_reason = "upsell_lost_reason"  # the AE marks an upsell lost: why
    upsell_duplicate_reject = "upsell_duplicate_reject"  # the partner manager rejects a duplicate flag: why
    extension_decline = "protection_decline_reason"  # the AE declines a protection extension: why (partner reads it)


class Action(StrEnum):
    register_lead = "register_lead"
    my_deals = "my_deals"
    my_scorecard = "my_scorecard"  # the desk's My scorecard: the clicker's own (external users run no commands)
    accept = "review_accept"
    reject = "review_reject"
    clear_conflict = "conflict_clear"
    reject_conflict = "conflict_reject"
    mark_won = "deal_won"
    mark_lost = "deal_lost"
    choose_partner = "partner"  # external select inside the registration modal
    choose_country = "country"  # external select inside the registration modal: the region follows from it
    deals_newer = "deals_newer"  # paging buttons: the value is a storage.lists.Cursor, never trusted
    deals_older = "deals_older"
    home_newer = "home_newer"
    home_older = "home_older"
    add_update = "deal_add_update"  # partner-side buttons on a registration (My deals, its thread root)
    withdraw = "deal_withdraw"
    edit = "deal_edit"
    reassign = "review_reassign"  # reviewer tools on the review message, its reminders and App Home
    ask_partner = "review_ask_partner"
    undo = "review_undo"  # for UNDO_MINUTES after a decision; the value is the decision's id, never trusted
    home_filter = "home_filter"  # App Home: which list (a static select); paging keeps it in the view's metadata
    flag_upsell = "flag_upsell"  # the partner desk's Flag an upsell button
    choose_account = "account"  # external select inside the upsell modal: accounts the actor may see
    upsell_accept = "upsell_accept"  # the owner AE's buttons on the upsell thread; values are ids, never trusted
    upsell_decline = "upsell_decline"
    upsell_won = "upsell_won"
    upsell_lost = "upsell_lost"
    upsell_join = "upsell_join"  # the partner confirms it is involved in an AE's partner-influenced upsell
    upsell_duplicate_approve = "upsell_duplicate_approve"  # the partner manager on another partner's duplicate
    upsell_duplicate_reject = "upsell_duplicate_reject"
    suggest_upsell = "suggest_upsell"  # an expansion signal's private suggestion: opens the form prefilled
    partner_stage = "partner_stage"  # the partner card's stage menu: `partner id:stage`, both re-checked
    strategic_accept = "strategic_accept"  # a strategic proposal's buttons; the value is its id, never trusted
    strategic_dismiss = "strategic_dismiss"
    nudge_snooze = "nudge_snooze"  # every nudge: Snooze / Not relevant; the value is the nudge's id, never trusted
    nudge_not_relevant = "nudge_not_relevant"
    nudge_still_working = "nudge_still_working"  # a stalled registration's nudge to its AE (value: the nudge)
    request_extension = "protection_request_extension"  # the expiry warning (value: the registration)
    nudge_them_all = "nudge_them_all"  # a manager's weekly roll-up of stuck partners, and the weekly digest's
    # Nudge N stuck partners (value: the nudge)
    digest_review = "digest_review"  # the weekly digest's Review N pending: App Home's Waiting for me list (value:
    # the digest's nudge id, never trusted)
    digest_full_report = "digest_full_report"  # the weekly digest's Full report, in its thread (value: likewise)
    extension_extend = "protection_extend"  # the extension request's DM to the AE; the value is the request's id,
    extension_decline = "protection_decline"  # never trusted


class Block(StrEnum):
    """Input blocks of our modals; the lead form's ids are the LeadInput field names they fill."""

    company = "company"
    domain = "domain"
    contact_name = "contact_name"
    contact_email = "contact_email"
    region = "region"
    country = "country"
    product_line = "product_line"
    estimated_value = "estimated_value"
    currency = "currency"
    pricing_model = "pricing_model"
    starting_monthly_usage = "starting_monthly_usage"
    company_size = "company_size"
    budget = "budget"
    timeline = "timeline"
    attribution = "attribution"
    notes = "notes"
    partner = "partner"
    reason = "reason"
    review_actions = "review_actions"
    desk_actions = "desk_actions"
    reason_choice = "reason_choice"  # standard wording for a rejection or a lost deal
    assignee = "assignee"  # Reassign: another AE, or back to routing
    question = "question"  # Ask the partner
    account = "account"  # the upsell form: the customer account (options-loaded)
    signal = "signal"
    target = "target"  # product line or plan
    expected_value = "expected_value"
    recurrence = "recurrence"  # monthly recurring or one-time
    influenced = "influenced"  # internal users: "partner-influenced" (any partner, asked in to confirm)
    final_amount = "final_amount"  # Mark won: the amount signed, prefilled from the expected value


class Event(StrEnum):
    app_mention = "app_mention"
    member_joined_channel = "member_joined_channel"
    app_home_opened = "app_home_opened"
    channel_id_changed = "channel_id_changed"
    message = "message"  # thread replies in a registration's thread (the subscriptions below)


# What manifest.yml subscribes to for `message` events: public and private channels (shared partner
# channels) and DMs (a registration posted privately to its submitter).
MESSAGE_SUBSCRIPTIONS = ("message.channels", "message.groups", "message.im")
