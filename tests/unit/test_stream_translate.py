"""Bedrock ConverseStream events -> OpenAI chunks, from golden files in tests/fixtures/stream.

Each case: `events` (botocore's parsed form, one dict per event), `include_usage`, optional
`structured_tool`, and `expected_chunks`: every chunk the translator emits (from `feed` for each
event, then `finish`) without the envelope fields (id, object, created, model), which are checked
on every chunk here. `expected_finish_reason` / `expected_usage` check the telemetry properties.
"""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest

from bedrock_gateway.protocols.openai_chat.chat_stream import ChunkTranslator

FIXTURES = Path(__file__).parents[1] / "fixtures" / "stream"
CASES = sorted(FIXTURES.glob("*.json"))
ENVELOPE = {"id": "chatcmpl-test", "object": "chat.completion.chunk", "created": 1700000000,
            "model": "test-model"}


def translator(case: dict) -> ChunkTranslator:
    return ChunkTranslator(model="test-model", completion_id="chatcmpl-test", created=1700000000,
                           include_usage=case.get("include_usage", False),
                           structured_tool=case.get("structured_tool"))


def run(case: dict) -> tuple[ChunkTranslator, list[dict]]:
    t = translator(case)
    chunks = [chunk for event in case["events"] for chunk in t.feed(event)]
    chunks.extend(t.finish())
    return t, chunks


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_stream_fixture(path: Path) -> None:
    case = json.loads(path.read_text())
    assert case.get("description")
    t, chunks = run(case)
    bodies = []
    for chunk in chunks:
        assert {k: chunk[k] for k in ENVELOPE} == ENVELOPE
        orjson.dumps(chunk)  # what the server does with it
        bodies.append({k: v for k, v in chunk.items() if k not in ENVELOPE})
    assert bodies == case["expected_chunks"]
    if "expected_finish_reason" in case:
        assert t.finish_reason == case["expected_finish_reason"]
    if "expected_usage" in case:
        assert t.usage == case["expected_usage"]


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_stream_invariants(path: Path) -> None:
    """What every OpenAI client relies on, whatever the events."""
    case = json.loads(path.read_text())
    _, chunks = run(case)
    with_choices = [c for c in chunks if c["choices"]]
    assert with_choices[0]["choices"][0]["delta"].get("role") == "assistant"
    assert sum(1 for c in chunks if "role" in (c["choices"] or [{"delta": {}}])[0]["delta"]) == 1
    finishes = [c for c in with_choices if c["choices"][0]["finish_reason"] is not None]
    assert len(finishes) == 1 and finishes[0] is with_choices[-1]
    usage_chunks = [c for c in chunks if not c["choices"]]
    assert len(usage_chunks) == (1 if case.get("include_usage") else 0)
    if usage_chunks:
        assert usage_chunks[0] is chunks[-1] and "usage" in usage_chunks[0]
    ids = {}
    for c in with_choices:  # a tool call's id/name come once, on its first delta
        for call in c["choices"][0]["delta"].get("tool_calls", ()):
            if "id" in call:
                assert call["index"] not in ids
                ids[call["index"]] = call["id"]
            else:
                assert call["index"] in ids
    assert sorted(ids) == list(range(len(ids)))


def test_fixture_count() -> None:
    assert len(CASES) >= 20
