"""One small request of every front-end that calls Bedrock, for tests that walk them all."""

from __future__ import annotations

from typing import Any

from tests.support.constants import HAIKU

# (path, JSON body, extra headers): chat, chat streamed, Responses, Messages, Messages streamed,
# count_tokens, embeddings, Bedrock InvokeModel.
BEDROCK_REQUESTS: list[tuple[str, dict[str, Any], dict[str, str]]] = [
    ("/v1/chat/completions", {"model": HAIKU, "messages": [{"role": "user", "content": "hi"}]},
     {}),
    ("/v1/chat/completions", {"model": HAIKU, "stream": True,
                              "messages": [{"role": "user", "content": "hi"}]}, {}),
    ("/v1/responses", {"model": HAIKU, "input": "hi", "store": False}, {}),
    ("/v1/messages", {"model": HAIKU, "max_tokens": 50,
                      "messages": [{"role": "user", "content": "hi"}]},
     {"anthropic-version": "2023-06-01"}),
    ("/v1/messages", {"model": HAIKU, "max_tokens": 50, "stream": True,
                      "messages": [{"role": "user", "content": "hi"}]},
     {"anthropic-version": "2023-06-01"}),
    ("/v1/messages/count_tokens", {"model": HAIKU,
                                   "messages": [{"role": "user", "content": "hi"}]},
     {"anthropic-version": "2023-06-01"}),
    ("/v1/embeddings", {"model": "amazon.titan-embed-text-v2:0", "input": "hi"}, {}),
    (f"/bedrock/model/{HAIKU}/invoke", {"anthropic_version": "bedrock-2023-05-31",
                                       "max_tokens": 50,
                                       "messages": [{"role": "user", "content": "hi"}]}, {}),
]
