"""Every nudge's Snooze and Not relevant, the manager roll-up's Nudge them all and a stalled deal's Still working:
stored before the ack (who pressed is recorded); the nudge then shows who answered in place of its buttons. Refusals
go to the clicker alone."""

from __future__ import annotations

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient

from handlers.common import answer_text, channel_of
from handlers.ids import Action
from handlers.common import request_key
from handlers.reviews import commit_then_tell, for_clicked, place_of
from storage.nudges.models import NudgeResponse
from workflows.nudge_managers import NudgeAllOutcome, nudge_them_all
from workflows.nudge_deals import still_working
from workflows.nudges import answer_nudge
from workflows.services import Services


def register(app: App, services: Services) -> None:
    def answer(response: NudgeResponse):
        def handle_nudge_answer(ack: Ack, body: dict, context: BoltContext, client: WebClient):
            """The nudge's kind stops for its subject, for the snooze period or for good."""
            for_clicked(services, ack, body, context, client, lambda actor, nudge_id: commit_then_tell(
                services, client, ack, actor, body, place_of(body),
                lambda: answer_nudge(services, actor, nudge_id, response), tell=lambda _: None))
        return handle_nudge_answer

    def handle_nudge_them_all(ack: Ack, body: dict, context: BoltContext, client: WebClient):
        """The roll-up's stuck partners each get their nudge now (once per period); the roll-up then says so."""
        def tell(actor, outcome: NudgeAllOutcome) -> None:
            if not outcome.changed:  # pressed before: the roll-up already shows by whom
                answer_text(client, actor.slack_user_id, outcome.message, channel_id=channel_of(body))

        for_clicked(services, ack, body, context, client, lambda actor, nudge_id: commit_then_tell(
            services, client, ack, actor, body, place_of(body), lambda: nudge_them_all(services, actor, nudge_id),
            tell=lambda outcome: tell(actor, outcome)))

    app.action(Action.nudge_snooze.value)(answer(NudgeResponse.snoozed))
    app.action(Action.nudge_not_relevant.value)(answer(NudgeResponse.not_relevant))
    app.action(Action.nudge_them_all.value)(handle_nudge_them_all)

    @app.action(Action.nudge_still_working.value)
    def handle_still_working(ack: Ack, body: dict, context: BoltContext, client: WebClient):
        """The AE keeps a stalled deal open: recorded in its history, its quiet period starts again."""
        for_clicked(services, ack, body, context, client, lambda actor, nudge_id: commit_then_tell(
            services, client, ack, actor, body, place_of(body), lambda: still_working(
                services, actor=actor, nudge_id=nudge_id, request_key=request_key(body))))
