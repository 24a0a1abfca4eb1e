"""The lifecycle side of the Slack notifier: the strategic proposal a partner's manager accepts or dismisses, and
its decision shown in place. Mixed into handlers/notify.SlackNotifier, whose `_post` and `_update` queue each
message in the Slack outbox in the workflow's transaction."""

from __future__ import annotations

from sqlmodel import Session

from handlers.blocks.partner_card import build_strategic_proposal
from storage.models import Partner, StageProposal


def proposal_key(proposal: StageProposal) -> str:
    return f"lifecycle:proposal:{proposal.id}"


def _lane(partner: Partner) -> str:
    return f"partner:{partner.id}:lifecycle"


class LifecycleNotices:
    def strategic_proposed(self, session: Session, proposal: StageProposal, partner: Partner) -> None:
        """A DM to the partner's manager with Make strategic / Dismiss; its key is the proposal's, so once."""
        self._post(session, key=proposal_key(proposal), lane=_lane(partner), channel=proposal.recipient_slack_id,
                   message=build_strategic_proposal(proposal, partner))

    def strategic_decided(self, session: Session, proposal: StageProposal, partner: Partner) -> None:
        """The proposal shows who decided what in place of its buttons."""
        self._update(session, lane=_lane(partner), parent_key=proposal_key(proposal),
                     message=build_strategic_proposal(proposal, partner))
