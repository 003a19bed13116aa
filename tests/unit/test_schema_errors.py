"""Malformed OpenAI requests -> 400 naming the field, from tests/fixtures/schema (one per file).

Each case has `request` and `expected_error` ({status, param, code?}); `stage` says where the
error must come from: "parse" (parse_chat_request, the default) or "translate" (Bedrock-specific
checks in plan_chat, e.g. data URLs). Nothing but InvalidRequestError may escape.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bedrock_gateway.errors import InvalidRequestError
from bedrock_gateway.protocols.openai_chat import parse_chat_request
from bedrock_gateway.conversation.capabilities import capabilities_for
from bedrock_gateway.protocols.openai_chat.chat_converse import TranslateOptions
from bedrock_gateway.protocols.openai_chat.chat_plan import plan_chat

FIXTURES = Path(__file__).parents[1] / "fixtures" / "schema"
CASES = sorted(FIXTURES.glob("*.json"))
MODEL = "anthropic.claude-3-5-sonnet-20241022-v2:0"


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_schema_error_fixture(path: Path) -> None:
    case = json.loads(path.read_text())
    assert case.get("description")
    expected = case["expected_error"]
    stage = case.get("stage", "parse")
    with pytest.raises(InvalidRequestError) as caught:
        req = parse_chat_request(case["request"])
        assert stage == "translate", "parse_chat_request accepted the request"
        plan_chat(req, model_id=MODEL, caps=capabilities_for(MODEL), options=TranslateOptions())
    error = caught.value
    assert (error.status, error.param) == (expected["status"], expected["param"]), error.message
    if "code" in expected:
        assert error.code == expected["code"]
    assert error.body()["error"]["param"] == expected["param"]


def test_fixture_count() -> None:
    assert len(CASES) >= 40
