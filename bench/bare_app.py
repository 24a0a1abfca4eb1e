"""The benchmark's floor: a Bolt app whose listeners only ack, served exactly like Partnerbot (waitress).

Run as a process: SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET, SLACK_API_URL and PORT as for `partnerbot serve`.
BARE_ANSWER_AT_ACK=1 answers the moment a listener acks, as `serve` does; otherwise when Bolt's dispatch finds the
ack (Bolt's default: it looks every 10 ms).
"""

from __future__ import annotations

import os
import sys

from slack_bolt import App
from slack_sdk import WebClient

from bot.server import HttpServer, make_wsgi_app
from handlers.ids import Callback, Command, Event
from storage.db import make_engine


def main() -> None:
    sys.setswitchinterval(0.001)  # the same setting `partnerbot serve` uses, so the comparison is fair
    client = WebClient(token=os.environ["SLACK_BOT_TOKEN"], base_url=os.environ["SLACK_API_URL"])
    app = App(client=client, signing_secret=os.environ["SLACK_SIGNING_SECRET"], token_verification_enabled=False)
    app.command(Command.lead.value)(lambda ack: ack())
    app.view(Callback.lead_registration.value)(lambda ack: ack())
    app.event(Event.app_home_opened.value)(lambda: None)  # Bolt acks events itself, before the listener runs
    wsgi = make_wsgi_app(app, make_engine("sqlite://"), answer_at_ack=os.environ.get("BARE_ANSWER_AT_ACK") == "1")
    HttpServer(wsgi, host="127.0.0.1", port=int(os.environ["PORT"])).serve_forever()


if __name__ == "__main__":
    main()
