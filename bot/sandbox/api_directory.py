"""Emulated read methods over the sandbox directory: auth.test, users.*, conversations.*, team.info."""

from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.sandbox.api_common import ApiError, channel_arg
from bot.sandbox.state import Channel, State, User


def auth_test(state: State, args: dict) -> dict:
    team = state.teams[state.team_id]
    return {
        "url": f"https://{team.domain}.slack.com/",
        "team": team.name,
        "user": state.users[state.bot_user_id].name,
        "team_id": team.id,
        "user_id": state.bot_user_id,
        "bot_id": state.bot_id,
        "is_enterprise_install": False,
    }


def _tz_offset(tz: str) -> tuple[int, str]:
    try:
        now = datetime.now(timezone.utc).astimezone(ZoneInfo(tz))
    except (ZoneInfoNotFoundError, ValueError):
        return 0, "Coordinated Universal Time"
    offset = now.utcoffset()
    return int(offset.total_seconds()) if offset else 0, now.tzname() or tz


def user_dict(state: State, user: User) -> dict:
    """A user object as users.info shows it to our bot."""
    offset, label = _tz_offset(user.tz)
    external = user.team_id != state.team_id
    data = {
        "id": user.id,
        "team_id": user.team_id,
        "name": user.name,
        "deleted": False,
        "real_name": user.real_name,
        "tz": user.tz,
        "tz_label": label,
        "tz_offset": offset,
        "is_bot": user.is_bot,
        "is_app_user": False,
        "is_admin": False,
        "is_restricted": False,
        "is_ultra_restricted": False,
        "profile": {
            "real_name": user.real_name,
            "display_name": user.name,
            "title": user.title or "",
            "team": user.team_id,
        },
    }
    if user.email:
        data["profile"]["email"] = user.email
    if user.is_bot:
        data["profile"]["bot_id"] = state.bot_id if user.id == state.bot_user_id else ""
    if external:
        # Slack marks people from other organisations this way in shared channels.
        data["is_stranger"] = True
    return data


def users_info(state: State, args: dict) -> dict:
    user = state.users.get(str(args.get("user") or ""))
    if user is None:
        raise ApiError("user_not_found")
    return {"user": user_dict(state, user)}


def users_lookup_by_email(state: State, args: dict) -> dict:
    email = str(args.get("email") or "").lower()
    user = next((u for u in state.users.values() if (u.email or "").lower() == email), None)
    if user is None:
        raise ApiError("users_not_found")
    return {"user": user_dict(state, user)}


def channel_dict(state: State, channel: Channel) -> dict:
    """A conversation object as conversations.info shows it."""
    if channel.is_im:
        return {"id": channel.id, "is_im": True, "is_org_shared": False, "user": channel.user,
                "is_user_deleted": False, "created": 1700000000, "priority": 0}
    teams = sorted({state.users[m].team_id for m in channel.members if m in state.users} | {state.team_id})
    return {
        "id": channel.id,
        "name": channel.name,
        "name_normalized": channel.name,
        # Only private channels from before 2021 (G… ids) are still "groups"; newer ones are private channels.
        "is_channel": not channel.id.startswith("G"),
        "is_group": channel.id.startswith("G"),
        "is_im": False,
        "is_mpim": False,
        "is_private": channel.is_private,
        "is_archived": False,
        "is_general": False,
        "is_shared": channel.is_ext_shared,
        "is_ext_shared": channel.is_ext_shared,
        "is_org_shared": False,
        "is_pending_ext_shared": False,
        "is_member": state.bot_user_id in channel.members,
        "context_team_id": state.team_id,
        "conversation_host_id": state.team_id,
        "shared_team_ids": teams if channel.is_ext_shared else [state.team_id],
        "num_members": len(channel.members),
        "created": 1700000000,
        "creator": next(iter(channel.members), ""),
    }


def conversations_info(state: State, args: dict) -> dict:
    return {"channel": channel_dict(state, channel_arg(state, args))}


def conversations_members(state: State, args: dict) -> dict:
    channel = channel_arg(state, args)
    return {"members": list(channel.members), "response_metadata": {"next_cursor": ""}}


def conversations_open(state: State, args: dict) -> dict:
    raw = args.get("users") or ""
    users = raw if isinstance(raw, list) else [u.strip() for u in str(raw).split(",") if u.strip()]
    if args.get("channel"):
        return {"channel": channel_dict(state, channel_arg(state, args))}
    if len(users) != 1:
        # Group DMs (several users) are not part of what Partnerbot does.
        raise ApiError("not_emulated" if users else "users_list_not_supplied")
    if users[0] not in state.users:
        raise ApiError("user_not_found")
    channel_id = state.dm_channel_id(users[0])
    channel = state.channels[channel_id]
    if str(args.get("return_im", "")).lower() in ("true", "1"):
        return {"channel": channel_dict(state, channel)}
    return {"channel": {"id": channel_id}}


def team_info(state: State, args: dict) -> dict:
    team = state.teams.get(str(args.get("team") or state.team_id))
    if team is None:
        raise ApiError("team_not_found")
    return {"team": {"id": team.id, "name": team.name, "domain": team.domain,
                     "email_domain": "", "icon": {"image_default": True}}}


HANDLERS = {
    "auth.test": auth_test,
    "users.info": users_info,
    "users.lookupByEmail": users_lookup_by_email,
    "conversations.info": conversations_info,
    "conversations.members": conversations_members,
    "conversations.open": conversations_open,
    "team.info": team_info,
}
