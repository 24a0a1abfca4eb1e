"""Every nudge's Snooze and Not relevant: stored before the ack (who pressed is recorded); the nudge then shows
who answered in place of its buttons. Refusals go to the clicker alone."""

from __future__ import annotations

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient

from handlers.ids import Action
from handlers.reviews import commit_then_tell, for_clicked, place_of
from storage.nudges.models import NudgeResponse
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

    app.action(Action.nudge_snooze.value)(answer(NudgeResponse.snoozed))
    app.action(Action.nudge_not_relevant.value)(answer(NudgeResponse.not_relevant))
