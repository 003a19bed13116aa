"""The OpenAI Chat Completions response shapes, each built here and nowhere else: the
`chat.completion` object, the `chat.completion.chunk` (a delta, or the last usage chunk of
`stream_options.include_usage`) and the `usage` object both carry.

Usage: Bedrock's `inputTokens` excludes cached tokens while OpenAI's `prompt_tokens` includes
them, so prompt_tokens = inputTokens + cacheReadInputTokens + cacheWriteInputTokens; cache reads
are `prompt_tokens_details.cached_tokens` (OpenAI's name) and cache writes
`prompt_tokens_details.cache_write_tokens` (ours: OpenAI has no such field). Bedrock does not
count reasoning tokens apart, so `completion_tokens_details` is left out.

The builders return plain dicts (what orjson writes and the golden fixtures compare), with the
keys in the order OpenAI sends them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

COMPLETION_OBJECT = "chat.completion"
CHUNK_OBJECT = "chat.completion.chunk"


def chat_usage(usage: Mapping[str, Any]) -> dict[str, Any]:
    """Bedrock's usage block -> OpenAI's `usage` object."""
    fresh = usage.get("inputTokens") or 0
    read = usage.get("cacheReadInputTokens") or 0
    write = usage.get("cacheWriteInputTokens") or 0
    completion = usage.get("outputTokens") or 0
    prompt = fresh + read + write
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": read, "cache_write_tokens": write},
    }


def chat_completion(*, completion_id: str, created: int, model: str, message: dict[str, Any],
                    finish_reason: str, usage: dict[str, Any]) -> dict[str, Any]:
    """A whole `chat.completion` (one choice: the gateway never serves n > 1)."""
    return {
        "id": completion_id,
        "object": COMPLETION_OBJECT,
        "created": created,
        "model": model,
        "choices": [{
            "index": 0,
            "message": message,
            "finish_reason": finish_reason,
            "logprobs": None,
        }],
        "usage": usage,
    }


def delta_chunk(completion_id: str, created: int, model: str, delta: dict[str, Any],
                finish_reason: str | None = None) -> dict[str, Any]:
    """One `chat.completion.chunk` carrying `delta` (and the finish_reason on the last one)."""
    return {"id": completion_id, "object": CHUNK_OBJECT, "created": created, "model": model,
            "choices": [{"index": 0, "delta": delta, "logprobs": None,
                         "finish_reason": finish_reason}]}


def usage_chunk(completion_id: str, created: int, model: str,
                usage: dict[str, Any]) -> dict[str, Any]:
    """The last chunk with `stream_options.include_usage`: no choices, the usage."""
    return {"id": completion_id, "object": CHUNK_OBJECT, "created": created, "model": model,
            "choices": [], "usage": usage}
