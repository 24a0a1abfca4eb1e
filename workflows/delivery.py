"""When Slack refuses a message for good: partner managers are told once, naming the partner and channel."""

from __future__ import annotations

import logging


from storage.db import transaction
from storage.models import Partner
from storage.queries import program_runners
from storage.slack.models import SlackMessage, SlackMessageKind
from workflows.services import Services

logger = logging.getLogger(__name__)

FIXES = {
    "not_in_channel": "invite @Partnerbot to the channel (it retries by itself when it joins)",
    "channel_not_found": "check the partner's slack_channel_id and import the partner again",
    "is_archived": "unarchive the channel, or import the partner with its new channel",
    "missing_scope": "add the {scope} scope to the Slack app (see manifest.yml) and reinstall it",
}
SCOPES = {SlackMessageKind.pin: "pins:write", SlackMessageKind.upload: "files:write"}
WHAT = {SlackMessageKind.pin: "pin the partner desk in", SlackMessageKind.upload: "upload a file (the digest's "
        "chart) to"}


def failure_notice(message: SlackMessage, partner: Partner | None) -> str:
    """The plain text partner managers get (escaped by the notifier)."""
    where = f"the channel {message.channel}" if not message.channel.startswith(("U", "W")) else \
        f"a direct message to {message.channel}"
    whose = f" for partner {partner.name}" if partner else ""
    fix = FIXES.get(message.last_error or "", "fix the cause").format(scope=SCOPES.get(message.kind, "needed"))
    what = WHAT.get(message.kind, "post to")
    return (f"I couldn't {what} {where}{whose}: Slack says {message.last_error}. To fix it, {fix}, then run "
            f"`partnerbot slack retry`.")


def report_failed_delivery(services: Services, message: SlackMessage) -> int:
    """Tell the partner's manager (else the partner managers, else the admins) once a day per partner,
    channel and error; never about a notice to them (that would loop). Queued without kicking: the sender
    that called this sends it next."""
    if message.lane.startswith("notice:"):
        logger.warning("a notice to %s could not be delivered: %s", message.channel, message.last_error)
        return 0
    # Once a day at most for the same cause: a retry that fails the same way a week later is news again.
    key = f"slack-failed:{message.partner_id}:{message.channel}:{message.last_error}:{services.clock():%Y-%m-%d}"
    with transaction(services.engine) as session:
        partner = session.get(Partner, message.partner_id) if message.partner_id else None
        runners = program_runners(session)
        recipients = ([partner.manager_slack_id] if partner and partner.manager_slack_id else
                      [m.slack_user_id for m in runners if m.role == "partner_manager"] or
                      [m.slack_user_id for m in runners])
        text = failure_notice(message, partner)
        for recipient in recipients:
            services.notifier.tell_user(session, recipient, text, key=f"{key}:{recipient}")
    return len(recipients)
