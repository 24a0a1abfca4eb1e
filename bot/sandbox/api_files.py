"""Emulated file uploads, the way slack_sdk's files_upload_v2 drives Slack:
  1. files.getUploadURLExternal (filename, length) -> upload_url, file_id;
  2. a POST of the bytes to upload_url (Slack's file service; here /upload/v1/<token> on the same loopback server),
     answered `OK - <length>` with HTTP 200;
  3. files.completeUploadExternal (files=[{id, title}], channel_id, initial_comment, thread_ts) -> files, and the
     file is shared: a message in the channel (with the comment as its text) carries it.
"""

from __future__ import annotations

import json
import secrets
import time

from bot.sandbox.api_common import ApiError, channel_arg
from bot.sandbox.state import Message, State, UploadedFile

MAX_FILE_BYTES = 1 << 30  # Slack takes files up to 1 GB
MAX_ALT_TXT = 1000
MAX_COMMENT = 4000
MIME_TYPES = {"png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "gif": "image/gif",
              "csv": "text/csv", "txt": "text/plain", "pdf": "application/pdf"}


def get_upload_url_external(state: State, args: dict) -> dict:
    filename = str(args.get("filename") or "")
    if not filename:
        raise ApiError("invalid_arguments")
    try:
        length = int(args.get("length") or 0)
    except (TypeError, ValueError):
        raise ApiError("invalid_arguments") from None
    if length <= 0:
        raise ApiError("missing_argument")  # Slack's answer to a length of 0
    if length > MAX_FILE_BYTES:
        raise ApiError("file_upload_size_restricted")
    alt_txt = args.get("alt_txt") or None
    if alt_txt and len(str(alt_txt)) > MAX_ALT_TXT:
        raise ApiError("alt_txt_too_large")
    file_id, token = state.next_id("F"), secrets.token_urlsafe(24)
    with state.lock:
        state.files[file_id] = UploadedFile(file_id, filename, length, token, alt_txt=alt_txt)
    return {"upload_url": f"{state.base_url}upload/v1/{token}", "file_id": file_id}


def receive_upload(state: State, token: str, data: bytes) -> tuple[int, str]:
    """The upload URL: (HTTP status, plain-text body). Unknown or used URLs are refused as Slack's file service
    refuses them (404); the bytes are kept, whatever their length, and checked when the upload is completed."""
    with state.lock:
        found = next((f for f in state.files.values() if f.upload_token == token and not f.completed), None)
        if found is None:
            return 404, "Not Found"
        found.data = bytes(data)
    return 200, f"OK - {len(data)}"


def _files_arg(args: dict) -> list[dict]:
    value = args.get("files")
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise ApiError("invalid_arguments") from None
    if not isinstance(value, list) or not value or not all(isinstance(f, dict) and f.get("id") for f in value):
        raise ApiError("invalid_arguments")
    return value


def file_dict(state: State, file: UploadedFile, channel_id: str | None) -> dict:
    """A file object as Slack shows it to the uploader (the fields a client reads)."""
    extension = file.filename.rsplit(".", 1)[-1].lower() if "." in file.filename else ""
    data = {
        "id": file.id, "created": int(time.time()), "name": file.filename, "title": file.title or file.filename,
        "mimetype": MIME_TYPES.get(extension, "application/octet-stream"), "filetype": extension or "binary",
        "user": state.bot_user_id, "size": len(file.data or b""), "is_external": False, "is_public": False,
        "permalink": f"https://{state.teams[state.team_id].domain}.slack.com/files/{state.bot_user_id}/{file.id}",
    }
    if file.alt_txt:
        data["alt_txt"] = file.alt_txt
    if channel_id:
        data["ims" if state.channels[channel_id].is_im else "channels"] = [channel_id]
    return data


def complete_upload_external(state: State, args: dict) -> dict:
    wanted = _files_arg(args)
    channel = None
    if args.get("channel_id"):
        # A channel id, not a user id: a DM is shared into by its D... id (conversations.open).
        channel = channel_arg(state, args, "channel_id", allow_user=False)
        if state.bot_user_id not in channel.members:
            raise ApiError("not_in_channel")
    comment = args.get("initial_comment")
    if comment and len(str(comment)) > MAX_COMMENT:
        raise ApiError("msg_too_long")
    with state.lock:
        files = [state.files.get(str(f["id"])) for f in wanted]
        # Never uploaded (no bytes), already completed, or unknown: Slack cannot find such a file.
        if any(f is None or f.data is None or f.completed for f in files):
            raise ApiError("file_not_found")
        if any(len(f.data) != f.length for f in files):
            raise ApiError("invalid_arguments")
        for spec, file in zip(wanted, files):
            file.title, file.completed = (str(spec.get("title")) if spec.get("title") else None), True
            if channel is not None:
                file.channels.append(channel.id)
        shown = [file_dict(state, file, channel.id if channel else None) for file in files]
        if channel is not None:
            thread_ts = str(args.get("thread_ts") or "") or None
            state.messages.setdefault(channel.id, []).append(Message(
                channel.id, state.next_ts(), str(comment or ""), [], state.bot_user_id, thread_ts=thread_ts,
                bot_id=state.bot_id, files=shown))
    return {"files": [{"id": file["id"], "title": file["title"]} for file in shown]}


HANDLERS = {
    "files.getUploadURLExternal": get_upload_url_external,
    "files.completeUploadExternal": complete_upload_external,
}
