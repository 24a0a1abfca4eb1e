"""App Home listeners: which list it shows, its paging, and publishing it again after an action taken there."""

from __future__ import annotations

import logging

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from handlers.blocks.home import build_home, shown_filter
from handlers.blocks.lists import build_help
from handlers.common import actor_of
from handlers.ids import Action
from storage.actors import Actor
from storage.lists import Cursor, HomeFilter
from workflows.people import home_view
from workflows.services import Services

logger = logging.getLogger(__name__)


def publish_home(services: Services, client: WebClient, actor: Actor, *, show: HomeFilter = HomeFilter.all,
                 cursor: Cursor | None = None) -> None:
    """App Home for this user: their lists if they are on our team, otherwise what they can do."""
    if not actor.slack_user_id:
        return
    if actor.is_internal:
        view = build_home(home_view(services, actor, cursor, show=show), actor)
    else:
        view = {"type": "home", "blocks": [b.to_dict() for b in build_help(actor).blocks]}
    client.views_publish(user_id=actor.slack_user_id, view=view)


def clicked_on_home(body: dict) -> bool:
    view = body.get("view")
    return isinstance(view, dict) and view.get("type") == "home"


def refresh_home(services: Services, client: WebClient, actor: Actor, body: dict | None = None) -> None:
    """After an action on App Home: publish it again, on the list it showed (best effort: the action stands)."""
    try:
        publish_home(services, client, actor, show=shown_filter((body or {}).get("view")))
    except SlackApiError:
        logger.exception("could not refresh App Home for %s", actor.slack_user_id)


def _action_value(body: dict, key: str) -> object:
    actions = body.get("actions")
    action = actions[0] if isinstance(actions, list) and actions and isinstance(actions[0], dict) else {}
    value = action.get(key)
    return value.get("value") if key == "selected_option" and isinstance(value, dict) else value


def register(app: App, services: Services) -> None:
    @app.action(Action.home_filter.value)
    def handle_home_filter(ack: Ack, body: dict, context: BoltContext, client: WebClient):
        """The list chosen on App Home, from its first page; an unknown choice shows the default."""
        ack()
        try:
            show = HomeFilter(_action_value(body, "selected_option"))
        except ValueError:
            show = HomeFilter.all
        publish_home(services, client, actor_of(services, context, body), show=show)

    @app.action(Action.home_newer.value)
    @app.action(Action.home_older.value)
    def handle_home_paging(ack: Ack, body: dict, context: BoltContext, client: WebClient):
        """Previous / Next on App Home: the page the cursor points at, of the list shown, for the clicker only."""
        ack()
        publish_home(services, client, actor_of(services, context, body), show=shown_filter(body.get("view")),
                     cursor=Cursor.parse(_action_value(body, "value")))
