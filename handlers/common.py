"""What every listener needs: who is acting, and how to answer them privately."""

from __future__ import annotations

import hashlib

from slack_bolt import BoltContext
from slack_sdk import WebClient

from handlers.blocks.messages import Message, build_notice
from storage.actors import Actor
from workflows.people import identify
from workflows.services import Services

UNKNOWN_USER = ("Hi! I don't know you yet, so I can't do that. If you work with us as a partner, ask your "
                "partner manager to add you to the partner program.")
DATABASE_BUSY = ("We're very busy right now and couldn't save that, so nothing changed. Please try again in a "
                 "moment.")
SOMETHING_WENT_WRONG = ("Sorry, something went wrong on our side and that didn't go through. Nothing was saved "
                        "half-way; please try again in a minute. The team has the details.")


def acting_user(context: BoltContext, body: dict) -> tuple[str, str | None]:
    """The acting user and *their* organisation (in a shared channel, not necessarily our team).

    Interactions carry the clicker's home team in `user.team_id` while `team.id` (and so Bolt's
    `actor_team_id`) is the workspace the message lives in; events carry it as `event.user_team`,
    which Bolt exposes as `actor_team_id`.
    """
    user = body.get("user") if isinstance(body.get("user"), dict) else {}
    user_id = user.get("id") or context.actor_user_id or context.user_id or body.get("user_id")
    team_id = user.get("team_id") or context.actor_team_id or context.team_id
    return user_id, team_id


def actor_of(services: Services, context: BoltContext, body: dict) -> Actor:
    user_id, team_id = acting_user(context, body)
    return identify(services, user_id=user_id, team_id=team_id)


def channel_of(body: dict) -> str | None:
    channel = body.get("channel") or {}
    return channel.get("id") if isinstance(channel, dict) else body.get("channel_id")


def clicked_value(body: dict) -> object:
    """The `value` of the button a block_actions payload says was clicked (a claim, never trusted alone)."""
    actions = body.get("actions")
    action = actions[0] if isinstance(actions, list) and actions and isinstance(actions[0], dict) else {}
    return action.get("value")


def clicked_id(body: dict) -> int | None:
    """The record id a clicked button carries as its value (a claim: the workflow checks it against the clicker)."""
    value = clicked_value(body)
    # "²".isdigit() is True too: only ASCII digits make an id.
    return int(value) if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) < 10 else None


def answer(client: WebClient, user_id: str, message: Message, *, channel_id: str | None = None,
           thread_ts: str | None = None) -> None:
    """Only this user sees it: ephemeral where there is a channel, otherwise a DM."""
    if channel_id and not channel_id.startswith("D"):
        client.chat_postEphemeral(channel=channel_id, user=user_id, text=message.text, blocks=message.blocks,
                                  thread_ts=thread_ts)
    else:
        client.chat_postMessage(channel=user_id, text=message.text, blocks=message.blocks)


def answer_text(client: WebClient, user_id: str, text: str, *, channel_id: str | None = None) -> None:
    answer(client, user_id, build_notice(text), channel_id=channel_id)


def request_key(body: dict) -> str | None:
    """What identifies one delivery of a view submission or button press, so a replay applies once.

    A view is submitted once per (id, hash); a click is one `action_ts` of one user on one action.
    """
    view = body.get("view") if body.get("type") == "view_submission" else None
    if isinstance(view, dict) and view.get("id") and view.get("hash"):
        return f"view:{view['id']}:{view['hash']}"[:64]
    actions = body.get("actions")
    if isinstance(actions, list) and actions and isinstance(actions[0], dict) and actions[0].get("action_ts"):
        action = actions[0]
        user = body.get("user") if isinstance(body.get("user"), dict) else {}
        identity = "|".join(str(part) for part in (user.get("id"), action.get("action_ts"), action.get("action_id"),
                                                    action.get("value")))
        return "action:" + hashlib.sha1(identity.encode()).hexdigest()
    return None
