"""The pure reply formulas: chunks, tokens, directives, embeddings, schema examples."""

from __future__ import annotations

import math

import jsonschema
import pytest

from bedrock_gateway.emulator.reply import plan_reply
from bedrock_gateway.emulator.script import (
    count_tokens,
    embedding_vector,
    example_from_schema,
    parse_directives,
    reply_chunks,
    reply_text,
    split_text,
)


def test_reply_chunks_formula():
    assert reply_chunks("alpha beta", 5) == ["Echo:", " alpha", " beta", " alpha", " beta"]
    assert reply_chunks("", 3) == ["Echo:", " hello", " hello"]
    assert reply_chunks("x", 1) == ["Echo:"]
    text = reply_text("one two three", 8)
    assert count_tokens(text) == 8
    assert reply_chunks("a  b\n", 3) == reply_chunks("a b", 3)


def test_split_text_keeps_everything():
    for text, n in (("hello world", 3), ("ab", 5), ("", 2), ("x" * 10, 10)):
        pieces = split_text(text, n)
        assert "".join(pieces) == text
        assert len(pieces) <= n and all(pieces)


def test_directives_are_parsed_and_removed():
    text = ('Weather? [[emu chunks=3 delay_ms=2.5 stop=max_tokens]] please '
            '[[emu tool=get_weather:{"city": "Paris", "note": "a b=c"} tool=noop '
            'text_before=Let me check error_after=2 stream_error=throttlingException '
            'stall_after=1 stall_s=0.5 cache_read=4 cache_write=5 reasoning=deep thought '
            'redacted=1 error=ThrottlingException text=literal text here]]')
    cleaned, emu = parse_directives(text)
    assert cleaned.split() == ["Weather?", "please"]
    assert (emu.chunks, emu.delay_ms, emu.stop) == (3, 2.5, "max_tokens")
    assert emu.tools == (("get_weather", {"city": "Paris", "note": "a b=c"}), ("noop", {}))
    assert emu.text_before == "Let me check"
    assert (emu.error_after, emu.stream_error) == (2, "throttlingException")
    assert (emu.stall_after, emu.stall_s) == (1, 0.5)
    assert (emu.cache_read, emu.cache_write) == (4, 5)
    assert emu.reasoning == "deep thought" and emu.redacted
    assert emu.error == "ThrottlingException" and emu.text == "literal text here"


@pytest.mark.parametrize("text", ["[[emu bogus=1]]", "[[emu chunks=x]]", "[[emu chunks=0]]",
                                  "[[emu stop=nope]]", "[[emu tool=f:{bad json}]]",
                                  "[[emu delay_ms=-1]]"])
def test_bad_directives_raise(text):
    with pytest.raises(ValueError):
        parse_directives(text)


def test_count_tokens():
    assert count_tokens("") == 0
    assert count_tokens(" one  two\tthree\n") == 3


def test_embedding_vector_is_deterministic_and_normalized():
    a = embedding_vector("hello", 256, True)
    assert a == embedding_vector("hello", 256, True)
    assert a != embedding_vector("hello!", 256, True)
    assert len(a) == 256
    assert math.isclose(math.sqrt(sum(v * v for v in a)), 1.0, rel_tol=1e-9)
    raw = embedding_vector("hello", 1536, False)
    assert len(raw) == 1536 and all(-1.0 <= v < 1.0 for v in raw)
    assert raw[:256] != a


SCHEMAS = [
    {"type": "object", "properties": {"city": {"type": "string"},
                                      "unit": {"enum": ["c", "f"]},
                                      "days": {"type": "integer", "minimum": 1},
                                      "optional": {"type": "boolean"}},
     "required": ["city", "unit", "days"]},
    {"type": "object", "properties": {
        "items": {"type": "array", "minItems": 2, "items": {
            "type": "object", "properties": {"name": {"type": "string", "minLength": 12},
                                             "price": {"type": "number",
                                                       "exclusiveMinimum": 0}},
            "required": ["name", "price"]}},
        "when": {"type": "string", "format": "date-time"},
        "maybe": {"type": ["null", "string"]},
        "kind": {"anyOf": [{"type": "integer"}, {"type": "string"}]},
        "ref": {"$ref": "#/$defs/point"}},
     "required": ["items", "when", "maybe", "kind", "ref"],
     "$defs": {"point": {"type": "object", "properties": {"x": {"type": "number"}},
                         "required": ["x"], "additionalProperties": False}}},
    {"type": "array", "items": {"type": "string"}},
    {"allOf": [{"type": "object", "properties": {"a": {"const": 3}}, "required": ["a"]},
               {"properties": {"b": {"type": "null"}}, "required": ["b"]}]},
    {"type": "string", "maxLength": 3},
]


@pytest.mark.parametrize("schema", SCHEMAS)
def test_example_from_schema_is_valid(schema):
    jsonschema.validate(example_from_schema(schema), schema)


def test_example_from_schema_minimal_values():
    assert example_from_schema(SCHEMAS[0]) == {"city": "string", "unit": "c", "days": 1}


def body(text, **extra):
    return {"messages": [{"role": "user", "content": [{"text": text}]}], **extra}


def test_plan_limits_max_tokens_and_stop_sequences():
    reply = plan_reply(body("a b c d", inferenceConfig={"maxTokens": 3}), chunks=8, delay_ms=0)
    assert reply.stop_reason == "max_tokens" and reply.output_tokens == 3
    assert reply.blocks[0].text == "Echo: a b"
    reply = plan_reply(body("alpha beta gamma", inferenceConfig={"stopSequences": ["gam"]}),
                       chunks=8, delay_ms=0)
    assert reply.stop_reason == "stop_sequence"
    assert reply.blocks[0].text == "Echo: alpha beta "
    reply = plan_reply(body("alpha beta gamma", inferenceConfig={"stopSequences": ["gam"],
                                                                 "maxTokens": 2}),
                       chunks=8, delay_ms=0)
    assert reply.stop_reason == "max_tokens"


def test_usage_counts():
    reply = plan_reply({**body("one two three [[emu cache_read=5 cache_write=7]]"),
                        "system": [{"text": "be brief"}]}, chunks=4, delay_ms=0)
    assert reply.usage == {"inputTokens": 3 + 2, "outputTokens": 4,
                           "totalTokens": 5 + 4 + 5 + 7, "cacheReadInputTokens": 5,
                           "cacheWriteInputTokens": 7}
