"""No bad input yields a 500: each malformed chat request gets a 400 in OpenAI's error shape
naming the field, through the real server."""

from __future__ import annotations

import base64

import aiohttp
import pytest

from tests.conftest import HAIKU, TEST_KEY

BMP = base64.b64encode(b"BM" + b"\0" * 64).decode()
OVERSIZED = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 4_000_000).decode()


def msgs(*messages: dict) -> dict:
    return {"model": HAIKU, "messages": list(messages)}


def image(url: str) -> dict:
    return {"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}}]}


# (case, body, expected `param` prefix)
CASES = [
    ("messages missing", {"model": HAIKU}, "messages"),
    ("messages not a list", {"model": HAIKU, "messages": "hi"}, "messages"),
    ("messages empty", {"model": HAIKU, "messages": []}, "messages"),
    ("message not an object", msgs("hi"), "messages[0]"),
    ("unknown role", msgs({"role": "wizard", "content": "hi"}), "messages[0].role"),
    ("role missing", msgs({"content": "hi"}), "messages[0].role"),
    ("content a number", msgs({"role": "user", "content": 42}), "messages[0].content"),
    ("part without type", msgs({"role": "user", "content": [{"text": "hi"}]}),
     "messages[0].content[0]"),
    ("unknown part type", msgs({"role": "user", "content": [{"type": "video", "video": {}}]}),
     "messages[0].content[0]"),
    ("text part not a string", msgs({"role": "user", "content": [{"type": "text", "text": 1}]}),
     "messages[0].content[0]"),
    ("tool message without matching call",
     msgs({"role": "user", "content": "hi"},
          {"role": "tool", "tool_call_id": "call_x", "content": "r"}), "messages[1]"),
    ("tool call args not JSON",
     msgs({"role": "user", "content": "hi"},
          {"role": "assistant", "tool_calls": [{"id": "c1", "type": "function", "function": {
              "name": "f", "arguments": "{not json"}}]},
          {"role": "tool", "tool_call_id": "c1", "content": "r"}), "messages[1].tool_calls[0]"),
    ("broken data URL", msgs(image("data:image/png;base64,@@@not-base64@@@")), "messages[0]"),
    ("data URL without base64", msgs(image("data:image/png,abc")), "messages[0]"),
    ("unsupported image type", msgs(image(f"data:image/bmp;base64,{BMP}")), "messages[0]"),
    ("oversized image", msgs(image(f"data:image/png;base64,{OVERSIZED}")), "messages[0]"),
    ("image URL not http", msgs(image("ftp://example.com/x.png")), "messages[0]"),
    ("model not a string", {"model": 5, "messages": [{"role": "user", "content": "hi"}]},
     "model"),
    ("temperature not a number", {**msgs({"role": "user", "content": "hi"}),
                                  "temperature": "hot"}, "temperature"),
    ("max_tokens negative", {**msgs({"role": "user", "content": "hi"}), "max_tokens": -1},
     "max_tokens"),
    ("stop not string or list", {**msgs({"role": "user", "content": "hi"}), "stop": 3},
     "stop"),
    ("tools not a list", {**msgs({"role": "user", "content": "hi"}), "tools": {}}, "tools"),
    ("tool without function", {**msgs({"role": "user", "content": "hi"}),
                               "tools": [{"type": "function"}]}, "tools[0]"),
    ("tool_choice unknown tool", {**msgs({"role": "user", "content": "hi"}),
                                  "tools": [{"type": "function", "function": {"name": "f"}}],
                                  "tool_choice": {"type": "function",
                                                  "function": {"name": "g"}}}, "tool_choice"),
    ("response_format unknown", {**msgs({"role": "user", "content": "hi"}),
                                 "response_format": {"type": "xml"}}, "response_format"),
    ("stream not a bool", {**msgs({"role": "user", "content": "hi"}), "stream": "yes"},
     "stream"),
    ("n greater than one", {**msgs({"role": "user", "content": "hi"}), "n": 3}, "n"),
    ("logprobs true", {**msgs({"role": "user", "content": "hi"}), "logprobs": True},
     "logprobs"),
    ("audio input", msgs({"role": "user", "content": [
        {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}}]}),
     "messages[0]"),
]


@pytest.mark.parametrize("body, param", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
async def test_malformed_request_is_a_400_naming_the_field(gateway, body, param):
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{gateway.base_url}/chat/completions", json=body,
                                headers={"Authorization": f"Bearer {TEST_KEY}"}) as response:
            status, payload = response.status, await response.json()
    assert status == 400, payload
    error = payload["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == "invalid_request_error" and error["message"]
    assert error["param"] and error["param"].startswith(param), error
