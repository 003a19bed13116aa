"""The count_tokens fallback for models Bedrock's CountTokens does not serve: an estimate.

Bedrock counts tokens only for some models (Claude among them). For the others the gateway
answers with an estimate — about four characters of text per token, plus a flat cost per image
or document — and says so in the `x-bedrock-gateway-token-count: estimate` response header, so a
client that budgets a context window gets a usable number and one that needs exactness can tell.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

CHARS_PER_TOKEN = 4
MEDIA_TOKENS = 1600  # an image or document page, roughly what Claude charges for ~1 MP


def _text_of(value: Any) -> str:
    if isinstance(value, str):
        return value
    return orjson.dumps(value).decode()


def estimate_input_tokens(body: Mapping[str, Any]) -> int:
    chars = 0
    media = 0
    system = body.get("system")
    chars += len(system) if isinstance(system, str) else sum(
        len(b.get("text", "")) for b in system or ())
    for tool in body.get("tools") or ():
        chars += len(_text_of(tool))
    for message in body.get("messages") or ():
        content = message.get("content")
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content
        for block in blocks or ():
            kind = block.get("type")
            if kind in ("image", "document"):
                media += 1
            elif kind == "text":
                chars += len(block.get("text", ""))
            elif kind == "tool_result":
                inner = block.get("content")
                chars += len(_text_of(inner)) if inner is not None else 0
            else:
                chars += len(_text_of({k: v for k, v in block.items() if k != "signature"}))
    return max(1, -(-chars // CHARS_PER_TOKEN) + media * MEDIA_TOKENS)
