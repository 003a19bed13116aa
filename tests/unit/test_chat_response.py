"""Converse response -> OpenAI chat.completion, from golden files in tests/fixtures/chat_response:
`response` (botocore's parsed Converse output; bytes as {"$bytes_b64"}), optional
`structured_tool`, and the `expected` completion."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest

from bedrock_gateway.protocols.openai_chat.chat_response import from_converse_response
from tests.support.golden_json import decode_bytes

FIXTURES = Path(__file__).parents[1] / "fixtures" / "chat_response"
CASES = sorted(FIXTURES.glob("*.json"))



@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_response_fixture(path: Path) -> None:
    case = json.loads(path.read_text())
    assert case.get("description")
    body = from_converse_response(decode_bytes(case["response"]), model="test-model",
                                  completion_id="chatcmpl-test", created=1700000000,
                                  structured_tool=case.get("structured_tool"))
    orjson.dumps(body)
    assert body == case["expected"]


def test_fixture_count() -> None:
    assert len(CASES) >= 10
