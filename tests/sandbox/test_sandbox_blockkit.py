"""Block Kit checks and readers used by the emulator, the driver and the transcript."""

from __future__ import annotations

from bot.sandbox import blockkit


def button(action_id: str, text: str, value: str | None = None) -> dict:
    element = {"type": "button", "action_id": action_id, "text": {"type": "plain_text", "text": text}}
    if value is not None:
        element["value"] = value
    return element


def test_valid_blocks_pass():
    blocks = [{"type": "header", "text": {"type": "plain_text", "text": "Lead"}},
              {"type": "section", "text": {"type": "mrkdwn", "text": "hi"}, "accessory": button("a", "Go")},
              {"type": "context", "elements": [{"type": "mrkdwn", "text": "note"}]},
              {"type": "actions", "elements": [button("b", "Yes"), button("c", "No")]},
              {"type": "divider"}]
    assert blockkit.validate_blocks(blocks, limit=50) == []


def test_each_limit_is_reported_with_a_pointer():
    too_long_button = {"type": "actions", "elements": [button("a", "x" * 76)]}
    duplicate_ids = [{"type": "divider", "block_id": "d"}, {"type": "divider", "block_id": "d"}]
    header = {"type": "header", "text": {"type": "mrkdwn", "text": "not plain"}}
    fields = {"type": "section", "fields": [{"type": "mrkdwn", "text": "f"}] * 11}
    assert "/blocks/0/elements/0/text/text" in blockkit.validate_blocks([too_long_button], limit=50)[0]
    assert "duplicate block_id" in blockkit.validate_blocks(duplicate_ids, limit=50)[0]
    assert "/blocks/0/text/type" in blockkit.validate_blocks([header], limit=50)[0]
    assert "/blocks/0/fields" in blockkit.validate_blocks([fields], limit=50)[0]
    assert blockkit.validate_blocks("nope", limit=50)


def test_buttons_in_display_order_with_block_ids():
    blocks = blockkit.assign_ids([
        {"type": "section", "text": {"type": "mrkdwn", "text": "x"}, "accessory": button("open", "Open", "1")},
        {"type": "actions", "block_id": "decide", "elements": [button("accept", "Accept", "L1"),
                                                               {"type": "static_select", "action_id": "pick"}]},
    ])
    found = blockkit.buttons(blocks)
    assert [(b.action_id, b.value, b.text) for b in found] == [("open", "1", "Open"), ("accept", "L1", "Accept")]
    assert found[1].block_id == "decide" and found[0].block_id  # generated when the app gave none
    action_id, value, text, block_id = found[1]
    assert (action_id, value, text, block_id) == ("accept", "L1", "Accept", "decide")


def test_flatten_reads_like_the_message():
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*Acme*"},
               "fields": [{"type": "mrkdwn", "text": "Owner"}, {"type": "plain_text", "text": "Alex"}]},
              {"type": "context", "elements": [{"type": "mrkdwn", "text": "a"}, {"type": "mrkdwn", "text": "b"}]},
              {"type": "actions", "elements": [button("x", "Accept"), button("y", "Reject")]},
              {"type": "input", "optional": True, "label": {"type": "plain_text", "text": "Notes"},
               "element": {"type": "plain_text_input"}}]
    assert blockkit.flatten(blocks) == [
        "*Acme*", "Owner  Alex", "a · b", "[Accept] [Reject]", "Notes (optional): ____"]
