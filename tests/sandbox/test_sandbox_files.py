"""File uploads as slack_sdk's files_upload_v2 makes them: files.getUploadURLExternal, a POST of the bytes to the
upload URL, files.completeUploadExternal into a channel (a DM by its D... id from conversations.open)."""

from __future__ import annotations

import urllib.request

import pytest
from slack_sdk.errors import SlackApiError

from bot.sandbox.scopes import manifest_scopes
from tests.sandbox.conftest import ALEX, SAM

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 200


def test_files_upload_v2_shares_the_bytes_in_a_dm_with_its_comment(client, sandbox):
    dm = client.conversations_open(users=ALEX)["channel"]["id"]
    answer = client.files_upload_v2(channel=dm, content=PNG, filename="digest.png", title="Pipeline",
                                    initial_comment="Your weekly chart")
    assert answer["file"]["title"] == "Pipeline"
    [message] = sandbox.messages(dm)
    assert message.text == "Your weekly chart"
    [shared] = message.files
    assert (shared["name"], shared["title"], shared["mimetype"], shared["size"]) == \
        ("digest.png", "Pipeline", "image/png", len(PNG))
    assert shared["ims"] == [dm]
    assert sandbox.state.files[shared["id"]].data == PNG
    [get_url] = sandbox.calls("files.getUploadURLExternal")
    assert (get_url.args["filename"], int(get_url.args["length"])) == ("digest.png", len(PNG))
    assert get_url.response["upload_url"].startswith(sandbox.base_url + "upload/v1/")
    assert [c.status for c in sandbox.calls("upload_url")] == [200]


def test_the_upload_url_takes_the_bytes_once_and_only_for_a_known_file(client, sandbox):
    issued = client.files_getUploadURLExternal(filename="a.png", length=len(PNG))
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(urllib.request.Request(issued["upload_url"] + "x", data=PNG, method="POST"))
    assert refused.value.code == 404
    with urllib.request.urlopen(urllib.request.Request(issued["upload_url"], data=PNG, method="POST")) as answer:
        assert (answer.status, answer.read()) == (200, f"OK - {len(PNG)}".encode())
    done = client.files_completeUploadExternal(files=[{"id": issued["file_id"], "title": "A"}])
    assert done["files"] == [{"id": issued["file_id"], "title": "A"}]  # no channel: a private file, no message
    assert sandbox.messages() == []
    with pytest.raises(SlackApiError) as again:  # completed already
        client.files_completeUploadExternal(files=[{"id": issued["file_id"], "title": "A"}])
    assert again.value.response["error"] == "file_not_found"


@pytest.mark.parametrize("args, error", [
    ({"filename": "a.png", "length": 0}, "missing_argument"),
    ({"filename": "", "length": 10}, "invalid_arguments"),
    ({"filename": "a.png", "length": (1 << 30) + 1}, "file_upload_size_restricted"),
    ({"filename": "a.png", "length": 10, "alt_txt": "x" * 1001}, "alt_txt_too_large"),
])
def test_get_upload_url_refuses_what_slack_refuses(client, args, error):
    with pytest.raises(SlackApiError) as refused:
        client.api_call("files.getUploadURLExternal", params=args)
    assert refused.value.response["error"] == error


def test_complete_refuses_files_never_uploaded_and_channels_it_cannot_share_into(client, sandbox):
    issued = client.files_getUploadURLExternal(filename="a.png", length=len(PNG))
    with pytest.raises(SlackApiError) as not_uploaded:
        client.files_completeUploadExternal(files=[{"id": issued["file_id"]}])
    assert not_uploaded.value.response["error"] == "file_not_found"
    urllib.request.urlopen(urllib.request.Request(issued["upload_url"], data=PNG, method="POST")).close()
    sandbox.add_channel("C0NOBOT", "no-bot", [ALEX], bot_member=False)
    for channel, error in ((ALEX, "channel_not_found"),  # a user id is not a channel id here
                           ("C0NOPE", "channel_not_found"), ("C0NOBOT", "not_in_channel")):
        with pytest.raises(SlackApiError) as refused:
            client.files_completeUploadExternal(files=[{"id": issued["file_id"]}], channel_id=channel)
        assert refused.value.response["error"] == error
    with pytest.raises(SlackApiError) as bad:
        client.api_call("files.completeUploadExternal", params={"files": "not json"})
    assert bad.value.response["error"] == "invalid_arguments"
    dm = client.conversations_open(users=SAM)["channel"]["id"]
    client.files_completeUploadExternal(files=[{"id": issued["file_id"], "title": "A"}], channel_id=dm)
    assert [m.files[0]["id"] for m in sandbox.messages(dm)] == [issued["file_id"]]


def test_uploads_need_files_write_which_the_manifest_asks_for(client, sandbox):
    assert {"files:write", "im:write"} <= set(manifest_scopes())
    sandbox.set_scopes([s for s in manifest_scopes() if s != "files:write"])
    with pytest.raises(SlackApiError) as refused:
        client.files_getUploadURLExternal(filename="a.png", length=10)
    assert (refused.value.response["error"], refused.value.response["needed"]) == ("missing_scope", "files:write")
