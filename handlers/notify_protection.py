"""The protection side of the Slack notifier: an extension request in its decider's DM (Extend / Decline), that
message showing the decision in place, and the partner told in the registration's thread. Mixed into
handlers/notify.SlackNotifier, whose `_post` and `_update` queue each message in the workflow's transaction."""

from __future__ import annotations

from sqlmodel import Session

from handlers.blocks.messages import build_registration_root
from handlers.blocks.protection import build_extension_decided, build_extension_in_thread, build_extension_request
from storage.models import Partner, Registration
from storage.protection import ExtensionRequest, ExtensionStatus
from storage.reviews import thread_root_key


def extension_key(request: ExtensionRequest) -> str:
    return f"protection:extension:{request.id}"


class ProtectionNotices:
    def extension_requested(self, session: Session, request: ExtensionRequest, registration: Registration,
                            partner: Partner) -> None:
        """A DM to whom decides, with Extend / Decline; its key is the request's, so once."""
        self._post(session, key=extension_key(request), lane=f"reg:{registration.id}:review",
                   channel=request.decider_slack_id, message=build_extension_request(
                       request, registration, partner, extension_days=self.program.protection.extension_days))

    def extension_decided(self, session: Session, request: ExtensionRequest, registration: Registration,
                          partner: Partner) -> None:
        """The DM shows the decision in place of its buttons; the partner reads it in the registration's thread,
        whose root shows the new end of its protection."""
        self._update(session, lane=f"reg:{registration.id}:review", parent_key=extension_key(request),
                     message=build_extension_decided(request, registration, partner,
                                                     extension_days=self.program.protection.extension_days))
        lane, root = f"reg:{registration.id}:partner", thread_root_key(registration.id)
        self._post(session, key=f"{root}:extension:{request.id}", lane=lane, channel="", parent_key=root,
                   partner_id=partner.id, message=build_extension_in_thread(request, registration))
        if request.status == ExtensionStatus.extended:
            self._update(session, lane=lane, parent_key=root, message=build_registration_root(registration, partner))
