"""An AE asks a partner in on an expansion (partner-influenced): the partner confirms it is involved with Join.

Where the thread root is in the partner's shared channel, its Join button is there, for any of the partner's
people. Where the partner cannot see the root (a referral partner's people see only their own deals, so the root
went to the AE's DM; or the partner has no channel), its listed contacts are asked by DM, each with a Join button,
and only they may join. Who may join is checked in storage (upsell_for_joining). Joining records when, replies in
the thread, shows the root as joined and tells the CRM of the attribution; a second click says it is already
joined.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from storage.actors import Actor
from storage.crm.upsells import record_upsell_change
from storage.models import AttributionType, CustomerAccount, Partner, Upsell, UpsellStatus
from storage.upsells import listed_contacts, upsell_for_joining
from workflows.acting import ActionOutcome, act_on_deal
from workflows.services import NotAllowed, Services, WorkflowError

JOINABLE = (UpsellStatus.open, UpsellStatus.accepted)


def asks_partner_in(upsell: Upsell) -> bool:
    """Whether the upsell still waits for its partner to say it is involved."""
    return (upsell.attribution == AttributionType.influenced and upsell.partner_joined_at is None
            and upsell.status in JOINABLE)


def ask_partner_in(session: Session, services: Services, upsell: Upsell, account: CustomerAccount,
                   partner: Partner) -> None:
    """When an influenced upsell's thread opens where the partner cannot see it, its listed contacts are asked by
    DM (in the caller's transaction); a root in the partner's channel carries Join itself."""
    if asks_partner_in(upsell) and upsell.partner_channel_id is None:
        services.notifier.upsell_join_asked(session, upsell, account, partner,
                                            contacts=listed_contacts(session, partner.id))


def _load(session: Session, upsell_id: int, actor: Actor) -> Upsell:
    upsell = upsell_for_joining(session, upsell_id, actor)
    if upsell is None:
        # The same words whether or not the id exists.
        raise NotAllowed("Only the people of the partner we asked in can join this upsell.")
    return upsell


def join_upsell(services: Services, *, actor: Actor, upsell_id: int,
                request_key: str | None = None) -> ActionOutcome:
    """The partner says it is involved: recorded once, told in the thread and to the CRM (committed before the
    ack). Joined already, or closed: nothing changes, and the clicker is told why."""
    def join(session: Session, upsell: Upsell, partner: Partner, now: datetime) -> str:
        if upsell.partner_joined_at is not None:
            raise WorkflowError(f"{partner.name} already joined {upsell.reference}: nothing changed.")
        # The status and updated_at stay: the accept SLA keeps counting from when the upsell opened.
        upsell.partner_joined_at = now
        session.add(upsell)
        record_upsell_change(session, upsell, "attribution")
        services.notifier.upsell_joined(session, upsell, session.get(CustomerAccount, upsell.account_id), partner,
                                        actor_slack_id=actor.slack_user_id,
                                        contacts=listed_contacts(session, partner.id))
        return f"Thanks: you joined {upsell.reference} for your company; follow it in its thread."

    return act_on_deal(services, request_key=request_key, load=lambda session: _load(session, upsell_id, actor),
                       allowed=JOINABLE, work=join,
                       refusal=lambda upsell: f"{upsell.reference} is {upsell.status.replace('_', ' ')}: there is "
                                              "nothing to join any more.")
