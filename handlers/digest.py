"""The weekly digest's buttons: Review N pending opens the clicker's Waiting for me list on App Home; Full report
posts every section in the digest's thread (its Nudge N stuck partners is the roll-up's press, handlers/nudges.py).
The value is the digest's id, checked against the clicker; refusals go to the clicker alone."""

from __future__ import annotations

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient

from handlers.common import answer_text, channel_of
from handlers.home import publish_home
from handlers.ids import Action
from handlers.reviews import commit_then_tell, for_clicked, place_of
from storage.lists import HomeFilter
from workflows.digest import DigestOutcome, digest_of, full_report
from workflows.services import Services

REVIEW_LIST = "Your *Waiting for me* list is on my *Home* tab: open Partnerbot in the sidebar and choose Home."


def register(app: App, services: Services) -> None:
    @app.action(Action.digest_review.value)
    def handle_digest_review(ack: Ack, body: dict, context: BoltContext, client: WebClient):
        """App Home shows the clicker's registrations waiting for their decision."""
        def show(actor, nudge_id: int) -> None:
            digest_of(services, actor, nudge_id)
            ack()
            publish_home(services, client, actor, show=HomeFilter.waiting)
            answer_text(client, actor.slack_user_id, REVIEW_LIST, channel_id=channel_of(body))
        for_clicked(services, ack, body, context, client, show)

    @app.action(Action.digest_full_report.value)
    def handle_digest_full_report(ack: Ack, body: dict, context: BoltContext, client: WebClient):
        """Every section of the digest's week and scope, in its thread."""
        def tell(actor, outcome: DigestOutcome) -> None:
            answer_text(client, actor.slack_user_id, outcome.message, channel_id=channel_of(body))

        for_clicked(services, ack, body, context, client, lambda actor, nudge_id: commit_then_tell(
            services, client, ack, actor, body, place_of(body), lambda: full_report(services, actor, nudge_id),
            tell=lambda outcome: tell(actor, outcome)))
