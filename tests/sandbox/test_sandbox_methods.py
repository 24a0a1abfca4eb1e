"""The committed list of Slack Web API methods matches Slack's OpenAPI spec plus slack_sdk's methods."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.sandbox import method_list
from bot.sandbox.method_data import KNOWN_METHODS

REPO_ROOT = Path(__file__).resolve().parents[2]
OPENAPI = REPO_ROOT / ".." / "shared" / "slack" / "slack_web_openapi_v2.json"


@pytest.mark.skipif(not OPENAPI.exists(), reason="Slack's OpenAPI file is not beside the repository")
def test_committed_method_data_is_regenerated_identically():
    methods = method_list.build_known_methods(OPENAPI)
    assert set(methods) == KNOWN_METHODS
    committed = (REPO_ROOT / "bot" / "sandbox" / "method_data.py").read_text(encoding="utf-8")
    assert committed == method_list.render_data_module(methods), "run: python -m bot.sandbox.method_list"


@pytest.mark.skipif(not OPENAPI.exists(), reason="Slack's OpenAPI file is not beside the repository")
def test_both_sources_contribute():
    spec_only = method_list.openapi_methods(OPENAPI) - method_list.sdk_methods()
    sdk_only = method_list.sdk_methods() - method_list.openapi_methods(OPENAPI)
    assert "apps.permissions.info" in spec_only and "files.getUploadURLExternal" in sdk_only


def test_known_methods_keep_slacks_casing():
    assert {"chat.postMessage", "views.open", "files.getUploadURLExternal", "auth.test"} <= KNOWN_METHODS
    assert "files.getuploadurlexternal" not in KNOWN_METHODS and "chat_postMessage" not in KNOWN_METHODS
