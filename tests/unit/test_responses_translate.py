"""Responses API <-> Converse, from golden files.

tests/fixtures/responses: `request` (+ `model_id`, `caps`, `options`, `history`) ->
`expected_kwargs` (+ `expected_structured_tool`, `expected_dropped_tools`), or `expected_error`
(`param`, `code`). A `{"$sealed": payload}` value in a request is replaced by the payload sealed
with the fixture key; `{"$bytes_b64": ...}` in kwargs stands for bytes.

tests/fixtures/responses_stream: Bedrock stream `events` (+ `summary`, `include_sealed`,
`structured_tool`, `tool_refs`) -> every event the translator emits (`feed` per event, then
`finish`), with generated ids replaced by `<id0>`, `<id1>`, ... in order of appearance and
sealed values by `{"$sealed": payload}` (opened with the fixture key); then the final response's
status and usage.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from bedrock_gateway.errors import GatewayError
from bedrock_gateway.protocols.openai_responses import (
    ReasoningSealer,
    ResponseEventTranslator,
    ToolRef,
    parse_responses_request,
    to_converse,
)
from bedrock_gateway.conversation.capabilities import capabilities_for
from bedrock_gateway.protocols.openai_chat.chat_converse import TranslateOptions
from tests.support.golden_json import encode_bytes

FIXTURES = Path(__file__).parents[1] / "fixtures"
REQUESTS = sorted((FIXTURES / "responses").glob("*.json"))
STREAMS = sorted((FIXTURES / "responses_stream").glob("*.json"))
SEALER = ReasoningSealer(["fixture-key"])
ID_PREFIXES = ("msg_", "fc_", "ctc_", "rs_")


def seal_macros(value):
    if isinstance(value, dict):
        if set(value) == {"$sealed"}:
            return SEALER.seal(value["$sealed"])
        return {k: seal_macros(v) for k, v in value.items()}
    if isinstance(value, list):
        return [seal_macros(v) for v in value]
    return value



def translate_request(case: dict):
    model_id = case.get("model_id", "anthropic.claude-3-5-sonnet-20241022-v2:0")
    caps = dataclasses.replace(capabilities_for(model_id), **case.get("caps", {}))
    req = parse_responses_request(seal_macros(case["request"]),
                                  reject_hosted_tools=case.get("reject_hosted_tools", False))
    plan = to_converse(req, history=seal_macros(case.get("history", [])), model_id=model_id,
                       caps=caps, options=TranslateOptions(**case.get("options", {})),
                       opener=SEALER.open)
    return req, plan


@pytest.mark.parametrize("path", REQUESTS, ids=[p.stem for p in REQUESTS])
def test_request_fixture(path: Path) -> None:
    case = json.loads(path.read_text())
    assert case.get("description"), "every fixture says what it covers"
    if "expected_error" in case:
        with pytest.raises(GatewayError) as caught:
            translate_request(case)
        assert caught.value.status == 400
        expected = case["expected_error"]
        assert caught.value.param == expected["param"]
        if "code" in expected:
            assert caught.value.code == expected["code"]
        return
    req, plan = translate_request(case)
    assert encode_bytes(plan.kwargs) == case["expected_kwargs"]
    assert plan.structured_tool == case.get("expected_structured_tool")
    assert list(req.dropped_tools) == case.get("expected_dropped_tools", [])
    assert plan.dropped_reasoning == case.get("expected_dropped_reasoning", 0)


class Normalizer:
    """Generated ids -> <id0>, <id1>, ...; sealed values -> {"$sealed": opened payload}."""

    def __init__(self) -> None:
        self.ids: dict[str, str] = {}

    def __call__(self, value):
        if isinstance(value, dict):
            return {k: ({"$sealed": SEALER.open(v)} if k == "encrypted_content" else self(v))
                    for k, v in value.items()}
        if isinstance(value, list):
            return [self(v) for v in value]
        if isinstance(value, str) and value.startswith(ID_PREFIXES) and len(value) > 30:
            return self.ids.setdefault(value, f"<id{len(self.ids)}>")
        return value


def run_stream(case: dict) -> tuple[ResponseEventTranslator, list[dict]]:
    refs = {name: ToolRef(**ref) for name, ref in case.get("tool_refs", {}).items()}
    translator = ResponseEventTranslator(
        response_id="resp_test", created_at=1700000000, model="test-model", echo={},
        tool_refs=refs, structured_tool=case.get("structured_tool"),
        summary=case.get("summary", False), include_sealed=case.get("include_sealed", False),
        seal=SEALER.seal)
    events = [e for event in case["events"] for e in translator.feed(event)]
    events.extend(translator.finish())
    return translator, events


def compact(events: list[dict]) -> list[dict]:
    """Events without `sequence_number` and without the lifecycle events' whole response."""
    out = []
    for event in events:
        event = {k: v for k, v in event.items() if k != "sequence_number"}
        if "response" in event:
            event["response"] = {"status": event["response"]["status"]}
        out.append(event)
    return out


@pytest.mark.parametrize("path", STREAMS, ids=[p.stem for p in STREAMS])
def test_stream_fixture(path: Path) -> None:
    case = json.loads(path.read_text())
    assert case.get("description")
    translator, events = run_stream(case)
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    normalize = Normalizer()
    assert normalize(compact(events)) == case["expected_events"]
    final = translator.response(client=False)
    assert final["status"] == case["expected_status"]
    assert final["usage"] == case["expected_usage"]
    assert normalize(final["output"]) == case["expected_output"]
    if "expected_incomplete" in case:
        assert final["incomplete_details"] == {"reason": case["expected_incomplete"]}
