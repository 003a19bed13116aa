"""The fault soak's request mix: seeded, pure (no I/O). Each planned request carries its body and
what a correct gateway must answer, so the client can classify it without guessing.

Faults come from the emulator: `[[emu ...]]` directives in the prompt (per request, in every
region) and one fault rule keyed on a marker in the body (a throttle in us-east-1 only). A marker
keeps each fault on the request that asked for it: nothing here may change what the others get.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import orjson

from bedrock_gateway.emulator.script import reply_chunks

HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"
SONNET = "anthropic.claude-3-5-sonnet-20240620-v1:0"
MODELS = (HAIKU, SONNET)
EAST_THROTTLE_MARKER = "soak-throttle-east"
# The fault rule the soak installs: requests carrying the marker are throttled in us-east-1.
EAST_THROTTLE_RULE = {"region": "us-east-1", "contains": EAST_THROTTLE_MARKER,
                      "error": "ThrottlingException"}

# The gateway's STREAM_IDLE_TIMEOUT by default (the soak starts the gateway with the one given).
IDLE_TIMEOUT_S = 60.0

# kind -> weight (per 100 requests)
WEIGHTS = {
    "stream": 30, "call": 18, "throttle_one_region": 8, "throttle_all": 5, "bedrock_5xx": 5,
    "mid_stream_error": 7, "stall_short": 3, "stall_idle": 2, "disconnect": 10,
    "malformed": 10, "unknown_model": 2,
}
_STREAM_ERRORS = {"throttlingException": "throttled",
                  "serviceUnavailableException": "bedrock_unavailable",
                  "modelStreamErrorException": "model_stream_error",
                  "internalServerException": "bedrock_internal_error"}
_PRE_STREAM_5XX = {"InternalServerException": (502, "bedrock_internal_error"),
                   "ServiceUnavailableException": (503, "bedrock_unavailable")}
_MALFORMED: tuple[bytes, ...] = (
    b"{not json",
    b"[]",
    orjson.dumps({"model": HAIKU, "messages": "not a list"}),
    orjson.dumps({"model": HAIKU}),
    orjson.dumps({"model": HAIKU, "messages": [{"role": "wizard", "content": "x"}]}),
    orjson.dumps({"model": HAIKU, "messages": [{"role": "user", "content": "x"}],
                  "max_tokens": -5}),
    orjson.dumps({"model": HAIKU, "messages": [{"role": "user", "content": "x"}],
                  "temperature": "hot"}),
    orjson.dumps({"model": HAIKU, "stream": True, "messages": []}),
)


@dataclass(frozen=True, slots=True)
class Planned:
    kind: str
    body: bytes
    stream: bool
    # What a correct gateway does: "ok" (200, full text, [DONE] for streams), "status" (this
    # HTTP status and error code, Retry-After on 429s), "sse_error" (200, then an error event
    # with this code and no [DONE]), "disconnect" (the client hangs up after `read_lines`).
    expect: str
    text: str | None = None  # the exact reply text for "ok"
    status: int | None = None
    codes: tuple[str, ...] = ()
    read_lines: int = 0


def _body(model: str, content: str, stream: bool) -> bytes:
    return orjson.dumps({"model": model, "stream": stream,
                         "messages": [{"role": "user", "content": content}]})


def plan_request(rng: random.Random, number: int, regions: int,
                 idle_s: float = IDLE_TIMEOUT_S) -> Planned:
    """Request `number` of the soak (deterministic for a given rng state); `idle_s` is the
    gateway's STREAM_IDLE_TIMEOUT, which the stalls are planned around."""
    kind = rng.choices(list(WEIGHTS), weights=list(WEIGHTS.values()))[0]
    model = rng.choice(MODELS)
    words = f"soak {number} {kind}"
    chunks = rng.randint(3, 24)
    pace = f"chunks={chunks} delay_ms={rng.randint(2, 25)}"
    text = "".join(reply_chunks(words, chunks))
    if kind in ("stream", "call"):
        stream = kind == "stream"
        return Planned(kind, _body(model, f"{words} [[emu {pace}]]", stream), stream, "ok",
                       text=text)
    if kind == "throttle_one_region":
        stream = rng.random() < 0.5
        content = f"{words} {EAST_THROTTLE_MARKER} [[emu {pace}]]"
        # Another region holds the model: fail over and serve; with one region it is a 429.
        text = "".join(reply_chunks(f"{words} {EAST_THROTTLE_MARKER}", chunks))
        if regions > 1:
            return Planned(kind, _body(model, content, stream), stream, "ok", text=text)
        return Planned(kind, _body(model, content, stream), stream, "status", status=429,
                       codes=("throttled",))
    if kind == "throttle_all":
        stream = rng.random() < 0.5
        return Planned(kind, _body(model, f"{words} [[emu error=ThrottlingException]]", stream),
                       stream, "status", status=429, codes=("throttled",))
    if kind == "bedrock_5xx":
        stream = rng.random() < 0.5
        error = rng.choice(list(_PRE_STREAM_5XX))
        status, code = _PRE_STREAM_5XX[error]
        return Planned(kind, _body(model, f"{words} [[emu error={error}]]", stream), stream,
                       "status", status=status, codes=(code,))
    if kind == "mid_stream_error":
        error = rng.choice(list(_STREAM_ERRORS))
        content = f"{words} [[emu {pace} stream_error={error} error_after={rng.randint(1, 5)}]]"
        return Planned(kind, _body(model, content, True), True, "sse_error",
                       codes=(_STREAM_ERRORS[error],))
    if kind == "stall_short":  # shorter than the idle timeout: the stream completes
        stall = round(rng.uniform(0.5, idle_s / 3), 2)
        content = f"{words} [[emu chunks={chunks} stall_after=2 stall_s={stall}]]"
        return Planned(kind, _body(model, content, True), True, "ok", text=text)
    if kind == "stall_idle":  # longer than the idle timeout: ends with the idle error event
        content = f"{words} [[emu chunks={chunks} stall_after=2 stall_s={idle_s * 1.5:g}]]"
        return Planned(kind, _body(model, content, True), True, "sse_error",
                       codes=("stream_idle_timeout",))
    if kind == "disconnect":
        content = f"{words} [[emu chunks=200 delay_ms=20]]"
        return Planned(kind, _body(model, content, True), True, "disconnect",
                       read_lines=rng.randint(1, 6))
    if kind == "malformed":
        return Planned(kind, rng.choice(_MALFORMED), False, "status", status=400)
    return Planned(kind, _body("no-such-model-" + str(number % 7), f"{words}", False), False,
                   "status", status=404, codes=("model_not_found",))
