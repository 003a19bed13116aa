"""The Anthropic Messages protocol's Converse path, from golden files in tests/fixtures/anthropic:

- `request/*.json`: `request` (+ `model_id`, `fetched_images`: URL -> {"$bytes_b64", "format"})
  -> `expected_kwargs` (bytes as {"$bytes_b64"}), or `expected_error` {status, param, message};
- `response/*.json`: a Converse `response` -> the Anthropic message `expected`;
- `stream/*.json`: ConverseStream `events` -> every Anthropic event `expected_events` (from
  `feed` per event, then `finish`), with the usage, stop reason and first-content flag.

Bytes in Bedrock's shapes are written {"$bytes_b64": ...} (botocore hands blobs over as bytes).
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from bedrock_gateway.errors import GatewayError
from bedrock_gateway.protocols.anthropic_messages import (
    ConverseStreamTranslator,
    from_converse_response,
    parse_messages_request,
    to_converse_kwargs,
)
from bedrock_gateway.conversation.capabilities import capabilities_for
from tests.support.golden_json import decode_bytes, encode_bytes

FIXTURES = Path(__file__).parents[1] / "fixtures" / "anthropic"


def cases(kind: str) -> list[Path]:
    return sorted((FIXTURES / kind).glob("*.json"))




@pytest.mark.parametrize("path", cases("request"), ids=lambda p: p.stem)
def test_request_fixture(path: Path) -> None:
    case = json.loads(path.read_text())
    fetched = {url: (base64.b64decode(v["$bytes_b64"]), v["format"])
               for url, v in (case.get("fetched_images") or {}).items()}
    model_id = case["model_id"]
    if "expected_error" in case:
        with pytest.raises(GatewayError) as caught:
            req = parse_messages_request(case["request"])
            to_converse_kwargs(req, model_id=model_id, caps=capabilities_for(model_id),
                               fetched_images=fetched)
        expected = case["expected_error"]
        assert (caught.value.status, caught.value.param, caught.value.message) == (
            expected["status"], expected["param"], expected["message"])
        return
    req = parse_messages_request(case["request"])
    kwargs = to_converse_kwargs(req, model_id=model_id, caps=capabilities_for(model_id),
                                fetched_images=fetched)
    assert encode_bytes(kwargs) == case["expected_kwargs"]


@pytest.mark.parametrize("path", cases("response"), ids=lambda p: p.stem)
def test_response_fixture(path: Path) -> None:
    case = json.loads(path.read_text())
    message = from_converse_response(decode_bytes(case["response"]), model="m",
                                     message_id="msg_test")
    assert message == case["expected"]


@pytest.mark.parametrize("path", cases("stream"), ids=lambda p: p.stem)
def test_stream_fixture(path: Path) -> None:
    case = json.loads(path.read_text())
    translator = ConverseStreamTranslator(model="m", message_id="msg_test")
    events = [e for event in decode_bytes(case["events"]) for e in translator.feed(event)]
    events += translator.finish()
    assert events == case["expected_events"]
    assert translator.usage.as_dict() == case["expected_usage"]
    assert translator.stop_reason == case["expected_stop_reason"]
    assert translator.first_content_emitted == case["expected_first_content"]
    # Anthropic's framing rules, whatever the case: one message_start first, message_stop
    # last, every block started before its deltas and stopped once, indexes in order.
    kinds = [e["type"] for e in events]
    assert kinds[0] == "message_start" and kinds.count("message_start") == 1
    assert kinds[-2:] == ["message_delta", "message_stop"]
    open_blocks: set[int] = set()
    started = []
    for event in events:
        if event["type"] == "content_block_start":
            assert event["index"] not in open_blocks
            open_blocks.add(event["index"])
            started.append(event["index"])
        elif event["type"] == "content_block_delta":
            assert event["index"] in open_blocks
        elif event["type"] == "content_block_stop":
            open_blocks.remove(event["index"])
    assert not open_blocks and started == list(range(len(started)))
    assert translator.finish() == []  # finishing twice adds nothing
