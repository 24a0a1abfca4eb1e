"""The weekly digest's buttons: Review N pending opens the clicker's Waiting for me list on App Home; Full report
posts every section in the digest's thread (its Nudge N stuck partners is the roll-up's press, handlers/nudges.py).
The value is the digest's id, checked against the clicker; refusals go to the clicker alone."""

from __future__ import annotations

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient

from handlers.blocks.text import escape
from handlers.common import DATABASE_BUSY, answer_text, channel_of
from handlers.home import publish_home
from handlers.ids import Action
from handlers.reviews import for_clicked
from storage.lists import HomeFilter
from storage.db import DatabaseBusy
from workflows.digest import digest_of, full_report
from workflows.services import Services, WorkflowError

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
        """Every section of the digest's week and scope, in its thread. Whose digest it is is checked before the
        ack; the report is built after it (every figure, and Salesforce's, may take seconds). Pressing again is
        harmless: the report is queued once per digest."""
        def build(actor, nudge_id: int) -> None:
            digest_of(services, actor, nudge_id)
            ack()
            try:
                message = full_report(services, actor, nudge_id).message
            except DatabaseBusy:
                message = DATABASE_BUSY
            except WorkflowError as refused:
                message = escape(str(refused))
            answer_text(client, actor.slack_user_id, message, channel_id=channel_of(body))
        for_clicked(services, ack, body, context, client, build)
