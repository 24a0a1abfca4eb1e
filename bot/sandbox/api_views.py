"""Emulated views.* methods: modals (open, push, update) and the App Home tab (publish)."""

from __future__ import annotations

from bot.sandbox import blockkit
from bot.sandbox.api_common import ApiError, invalid_blocks, json_arg, view_dict, view_hash
from bot.sandbox.state import State, View

MAX_STACK = 3


def _view_arg(args: dict, *, kind: str) -> dict:
    view = json_arg(args, "view")
    if not isinstance(view, dict):
        raise ApiError("invalid_arguments")
    if view.get("type") != kind:
        raise invalid_blocks([f"must be {kind} [json-pointer:/view/type]"], code="invalid_arguments")
    problem = blockkit.validate_view(view)
    if problem:
        raise invalid_blocks(problem[1], code=problem[0])
    return view


def _new_view(state: State, user: str, payload: dict, *, previous: View | None = None) -> View:
    view_id = state.next_id("V")
    return View(
        id=view_id,
        user=user,
        type=payload["type"],
        title=blockkit.plain(payload.get("title")),
        blocks=blockkit.assign_ids(payload.get("blocks") or []),
        callback_id=str(payload.get("callback_id", "")),
        private_metadata=str(payload.get("private_metadata", "")),
        external_id=str(payload.get("external_id", "")),
        hash=view_hash(view_id, 1),
        root_view_id=previous.root_view_id if previous else view_id,
        previous_view_id=previous.id if previous else None,
        submit=blockkit.plain(payload.get("submit")) or None,
        raw=dict(payload),
    )


def _trigger_user(state: State, trigger_id: str) -> str:
    """The user a trigger was issued to (the driver remembers it)."""
    return state.trigger_users.get(trigger_id, "")


def _modal_for_trigger(state: State, args: dict) -> tuple[str, dict]:
    """Check the modal and spend its trigger (once, within 3 s) as Slack does; returns (user, view)."""
    trigger_id = str(args.get("trigger_id") or "")
    payload = _view_arg(args, kind="modal")
    error = state.use_trigger(trigger_id)
    if error:
        raise ApiError(error)
    return _trigger_user(state, trigger_id), payload


def open_view(state: State, args: dict) -> dict:
    user, payload = _modal_for_trigger(state, args)
    with state.lock:
        for view in state.views.values():
            if view.user == user and view.type == "modal":
                view.closed = True  # a fresh views.open replaces whatever modal the user had open
        view = _new_view(state, user, payload)
        state.views[view.id] = view
    return {"view": view_dict(state, view)}


def push_view(state: State, args: dict) -> dict:
    user, payload = _modal_for_trigger(state, args)
    with state.lock:
        stack = [v for v in state.views.values() if v.user == user and v.type == "modal" and not v.closed]
        if len(stack) >= MAX_STACK:
            raise ApiError("push_limit_reached")
        view = _new_view(state, user, payload, previous=stack[-1] if stack else None)
        state.views[view.id] = view
    return {"view": view_dict(state, view)}


def update_view(state: State, args: dict) -> dict:
    view_id, external_id = args.get("view_id"), args.get("external_id")
    if not view_id and not external_id:
        raise ApiError("invalid_arguments")
    payload = json_arg(args, "view")
    if not isinstance(payload, dict):
        raise ApiError("invalid_arguments")
    with state.lock:
        candidates = list(state.views.values()) + list(state.homes.values())
        view = next(
            (v for v in candidates if (view_id and v.id == view_id) or (external_id and v.external_id == external_id)),
            None,
        )
        if view is None:
            raise ApiError("not_found")
        if args.get("hash") and args["hash"] != view.hash:
            raise ApiError("hash_conflict")
    problem = blockkit.validate_view({"type": view.type, **payload})
    if problem:
        raise invalid_blocks(problem[1], code=problem[0])
    _replace(state, view, payload)
    return {"view": view_dict(state, view)}


def _replace(state: State, view: View, payload: dict) -> None:
    with state.lock:
        version = int(view.hash.split(".")[0]) - 1700000000 + 1
        view.raw = dict(payload)
        view.blocks = blockkit.assign_ids(payload.get("blocks") or [])
        view.title = blockkit.plain(payload.get("title")) or view.title
        view.callback_id = str(payload.get("callback_id", view.callback_id))
        view.private_metadata = str(payload.get("private_metadata", ""))
        view.submit = blockkit.plain(payload.get("submit")) or None
        view.hash = view_hash(view.id, version)


def apply_response_action(state: State, view: View, action: str | None, new_view: object) -> str:
    """Do to a submitted modal what Slack does with the app's ack; returns what happened."""
    if action == "errors":
        return "errors"
    if action in ("update", "push"):
        if not isinstance(new_view, dict) or blockkit.validate_view({"type": "modal", **new_view}):
            return f"invalid {action}"  # Slack shows the user an error and keeps the modal as it was
        if action == "update":
            _replace(state, view, {"type": "modal", **new_view})
            return "updated"
        with state.lock:
            pushed = _new_view(state, view.user, {"type": "modal", **new_view}, previous=view)
            state.views[pushed.id] = pushed
        return "pushed"
    with state.lock:
        if action == "clear":
            for other in state.views.values():
                if other.root_view_id == view.root_view_id:
                    other.closed = True
            return "cleared"
        view.closed = True
    return "closed"


def publish(state: State, args: dict) -> dict:
    user = str(args.get("user_id") or "")
    if user not in state.users:
        raise ApiError("user_not_found")
    payload = _view_arg(args, kind="home")
    with state.lock:
        home = state.homes.get(user)
        if home is not None and args.get("hash") and args["hash"] != home.hash:
            raise ApiError("hash_conflict")
        view = _new_view(state, user, payload)
        if home is not None:
            view.id, view.root_view_id = home.id, home.id
            view.hash = view_hash(home.id, int(home.hash.split(".")[0]) - 1700000000 + 1)
        state.homes[user] = view
        state.views[view.id] = view
    return {"view": view_dict(state, view)}


HANDLERS = {
    "views.open": open_view,
    "views.push": push_view,
    "views.update": update_view,
    "views.publish": publish,
}
