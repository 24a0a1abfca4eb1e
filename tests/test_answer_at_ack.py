"""`serve` answers Slack the moment a listener acks, not when Bolt next looks for the ack (every 10 ms)."""

from __future__ import annotations

import threading

from slack_bolt import BoltResponse

from bot.server import AnswerAtAck


class BoltLike:
    """Stands in for Bolt's App.dispatch: does what a listener or middleware would, then holds until released."""

    def __init__(self, work, *, process_before_response: bool = False):
        self.work, self.process_before_response = work, process_before_response
        self.release, self.returned = threading.Event(), threading.Event()

    def dispatch(self, request):
        answer = self.work(request)
        self.release.wait(5)
        self.returned.set()
        return answer


def answered(app: BoltLike) -> BoltResponse:
    bolt = AnswerAtAck(app)
    try:
        return bolt.dispatch(bolt.request(body='{"type": "view_submission"}', headers={}))
    finally:
        app.release.set()


def test_the_answer_leaves_at_the_ack_while_the_listener_and_bolt_go_on():
    def listener(request):
        request.context.ack(response_action="errors", errors={"company": "Already registered"})
        return None  # Bolt's own answer comes later, after its next look

    app = BoltLike(listener)
    reply = answered(app)
    assert not app.returned.is_set()  # answered while Bolt's dispatch was still running
    assert reply.status == 200
    assert '"response_action": "errors"' in reply.body and "Already registered" in reply.body


def test_an_answer_bolt_gives_without_an_ack_is_waited_for():
    app = BoltLike(lambda request: BoltResponse(status=401, body="invalid"))  # e.g. middleware refusing
    app.release.set()
    reply = answered(app)
    assert app.returned.is_set() and (reply.status, reply.body) == (401, "invalid")


def test_with_process_before_response_everything_the_listener_does_comes_before_the_answer():
    def listener(request):
        request.context.ack()
        return request.context.ack.response

    app = BoltLike(listener, process_before_response=True)
    app.release.set()
    reply = answered(app)
    assert app.returned.is_set() and reply.status == 200


def test_events_are_dispatched_on_the_requests_own_thread_bolt_acks_them_before_their_listener_starts():
    """Bolt acknowledges an event itself and runs its listener on a thread of its own, so its dispatch returns at
    once: a hop to the pool would only add a thread switch (App Home's ack waited for two on a busy machine)."""
    seen = []

    def bolt_acking_the_event(request):
        seen.append(threading.current_thread())
        request.context.ack()
        return request.context.ack.response

    app = BoltLike(bolt_acking_the_event)
    app.release.set()
    bolt = AnswerAtAck(app)
    for body in ('{"type": "event_callback", "event": {"type": "app_home_opened"}}',
                 '{"type": "url_verification", "challenge": "x"}'):
        assert bolt.dispatch(bolt.request(body=body, headers={"content-type": ["application/json"]})).status == 200
    bolt.dispatch(bolt.request(body='{"type": "view_submission"}', headers={}))
    assert seen[:2] == [threading.current_thread()] * 2 and seen[2] is not threading.current_thread()
