"""LOG_CONTENT: the operator's explicit opt-in to log prompts and completions.

Off by default, and even when on, content goes only to the DEBUG level of the
`bedrock_gateway.content` logger (so it also needs DEBUG=true or LOG_LEVEL=DEBUG): one line with
the request's messages, one with the answer, each tagged with the request id and cut at
CONTENT_LOG_LIMIT characters. Keys never reach it: they travel in headers, which are not logged.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson

log = logging.getLogger("bedrock_gateway.content")

CONTENT_LOG_LIMIT = 65536


def _text(value: Any) -> str:
    text = orjson.dumps(value, default=str).decode()
    return text if len(text) <= CONTENT_LOG_LIMIT else text[:CONTENT_LOG_LIMIT] + "...(cut)"


def request(request_id: str, body: dict) -> None:
    if log.isEnabledFor(logging.DEBUG):
        log.debug("request %s prompt: %s", request_id,
                  _text({k: body.get(k) for k in ("messages", "tools", "input") if k in body}))


def completion(request_id: str, choices: Any) -> None:
    if log.isEnabledFor(logging.DEBUG):
        log.debug("request %s completion: %s", request_id, _text(choices))


class Recorder:
    """Wraps a stream's chunk translator and keeps the text it emits, for one completion line."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self._parts: list[str] = []
        self._size = 0

    @property
    def first_content_emitted(self) -> bool:
        return self._inner.first_content_emitted

    def _keep(self, chunks: list[dict]) -> list[dict]:
        for chunk in chunks:
            for choice in chunk.get("choices") or ():
                text = (choice.get("delta") or {}).get("content")
                if isinstance(text, str) and self._size < CONTENT_LOG_LIMIT:
                    self._parts.append(text)
                    self._size += len(text)
        return chunks

    def feed(self, event: dict) -> list[dict]:
        return self._keep(self._inner.feed(event))

    def finish(self) -> list[dict]:
        return self._keep(self._inner.finish())

    def log(self, request_id: str) -> None:
        completion(request_id, "".join(self._parts))
