"""One stream reader for every streamed call of the benchmark: a `StreamTally` counts what a
stream delivered (content chunks, time to the first, its end or error event), fed by one
classifier per wire format. The floor's two (ConverseStream events, InvokeModel's Anthropic
chunks) and the gateway's three SSE dialects (chat completions, Responses, Messages) differ only
in their classifier."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

REQUEST_TIMEOUT = 60.0
now = time.perf_counter

# What one event says: a content chunk, the end of the stream, an error event (with its text),
# or nothing the benchmark counts (role chunks, usage, pings, keep-alive comments).
CHUNK, END, ERROR = "chunk", "end", "error"
Verdict = tuple[str | None, str]
NOTHING: Verdict = (None, "")


@dataclass(slots=True)
class Result:
    ok: bool
    latency: float = 0.0  # request start -> last byte
    ttft: float | None = None  # request start -> first non-empty text (streams)
    chunks: int = 0  # content chunks received
    error: str | None = None  # set when not ok; "incomplete: ..." when a stream ended early
    started: float = 0.0  # perf_counter at start

    @property
    def incomplete(self) -> bool:
        return not self.ok and (self.error or "").startswith("incomplete")


def failed(started: float, exc: BaseException, ttft: float | None = None,
           chunks: int = 0) -> Result:
    """A call that raised (a timeout counts as an incomplete stream)."""
    if isinstance(exc, TimeoutError):
        error = f"incomplete: timeout after {REQUEST_TIMEOUT:.0f} s"
    else:
        error = f"{type(exc).__name__}: {str(exc)[:200]}"
    return Result(False, now() - started, ttft, chunks, error, started)


def http_error(started: float, status: int, raw: bytes) -> Result:
    return Result(False, now() - started, error=f"HTTP {status}: "
                  f"{raw[:200].decode(errors='replace')}", started=started)


class StreamTally:
    """What one stream delivered so far; `result(end)` says whether it ended properly."""

    __slots__ = ("chunks", "ended", "error", "started", "ttft")

    def __init__(self) -> None:
        self.started = now()
        self.ttft: float | None = None
        self.chunks = 0
        self.ended = False
        self.error: str | None = None

    def add(self, verdict: Verdict) -> None:
        kind, detail = verdict
        if kind == CHUNK:
            self.chunks += 1
            if self.ttft is None:
                self.ttft = now() - self.started
        elif kind == END:
            self.ended = True
        elif kind == ERROR:
            self.error = detail

    def failed(self, exc: BaseException) -> Result:
        return failed(self.started, exc, self.ttft, self.chunks)

    def result(self, end_name: str) -> Result:
        latency = now() - self.started
        if self.error is not None:
            return Result(False, latency, self.ttft, self.chunks,
                          f"incomplete: error event: {self.error}", self.started)
        if not self.ended:
            return Result(False, latency, self.ttft, self.chunks, f"incomplete: no {end_name}",
                          self.started)
        return Result(True, latency, self.ttft, self.chunks, None, self.started)


async def tally_sse(response: Any, classify: Callable[[bytes], Verdict],
                    tally: StreamTally) -> None:
    """Feed an aiohttp response's SSE events (split by hand on blank lines) to `tally`."""
    buffer = b""
    async for data in response.content.iter_any():
        buffer += data
        *events, buffer = buffer.split(b"\n\n")
        for event in events:
            tally.add(classify(event))


# -- the floor's events (as botocore hands them over) --------------------------------------------

def converse_event(event: dict[str, Any]) -> Verdict:
    delta = event.get("contentBlockDelta")
    if delta is not None:
        return (CHUNK, "") if delta["delta"].get("text") else NOTHING
    return (END, "") if "messageStop" in event else NOTHING


def invoke_event(event: dict[str, Any]) -> Verdict:
    doc = orjson.loads(event["chunk"]["bytes"])
    if doc["type"] == "content_block_delta":
        return (CHUNK, "") if doc["delta"].get("text") else NOTHING
    return (END, "") if doc["type"] == "message_stop" else NOTHING


# -- the gateway's SSE dialects ------------------------------------------------------------------

def chat_sse(event: bytes) -> Verdict:
    """Chat completions: `data:` frames, content deltas, `data: [DONE]` at the end."""
    if not event.startswith(b"data: "):
        return NOTHING  # ": keep-alive" comments
    payload = event[6:]
    if payload == b"[DONE]":
        return END, ""
    obj = orjson.loads(payload)
    choices = obj.get("choices")
    if choices:
        return (CHUNK, "") if choices[0].get("delta", {}).get("content") else NOTHING
    if "error" in obj:
        return ERROR, str(obj["error"].get("message") or obj["error"])[:200]
    return NOTHING


def responses_sse(event: bytes) -> Verdict:
    """Responses API: `event:`/`data:` frames, `response.output_text.delta` chunks,
    `response.completed` at the end."""
    _, sep, payload = event.partition(b"\ndata: ")
    if not sep:
        return NOTHING  # ": keep-alive" comments
    obj = orjson.loads(payload)
    kind = obj["type"]
    if kind == "response.output_text.delta":
        return CHUNK, ""
    if kind == "response.completed":
        return END, ""
    if kind in ("response.failed", "error"):
        return ERROR, str(obj.get("message") or obj.get("response"))[:200]
    return NOTHING


def messages_sse(event: bytes) -> Verdict:
    """Anthropic Messages: `content_block_delta` text chunks, `message_stop` at the end."""
    kind, _, payload = event.partition(b"\ndata: ")
    if kind == b"event: content_block_delta":
        return (CHUNK, "") if orjson.loads(payload)["delta"].get("text") else NOTHING
    if kind == b"event: message_stop":
        return END, ""
    if kind == b"event: error":
        return ERROR, payload[:200].decode(errors="replace")
    return NOTHING
