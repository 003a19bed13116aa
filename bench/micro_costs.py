"""Per-call costs of three hot paths, in-process with the real objects (moved here from the unit
suite, which checks behaviour only): a ConverseStream text delta through the chat translator,
one ChunkTimer tick (inter-chunk metrics), and a request's server span with tracing disabled.
Best of three runs of wall time per call, so a busy machine inflates them less."""

from __future__ import annotations

import time
from collections.abc import Callable

from bedrock_gateway.protocols.openai_chat.chat_stream import ChunkTranslator
from bedrock_gateway.telemetry.metrics import GatewayMetrics
from bedrock_gateway.telemetry.tracing import Tracing

TEXT_EVENT_TARGET_US = 15.0  # the translator's hot path: one text delta and its chunk dict


def _best_per_call_s(run: Callable[[int], None], n: int, repeats: int = 3) -> float:
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        run(n)
        best = min(best, (time.perf_counter() - started) / n)
    return best


def text_event_us(n: int = 20_000) -> float:
    translator = ChunkTranslator(model="m", completion_id="c", created=1, include_usage=True)
    translator.feed({"messageStart": {"role": "assistant"}})
    event = {"contentBlockDelta": {"delta": {"text": "token"}, "contentBlockIndex": 0}}

    def run(count: int) -> None:
        for _ in range(count):
            translator.feed(event)

    return round(_best_per_call_s(run, n) * 1e6, 3)


def chunk_tick_ns(n: int = 200_000) -> float:
    timer = GatewayMetrics("bench").chunk_timer(None)
    now = [0.0]

    def run(count: int) -> None:
        t = now[0]
        for _ in range(count):
            t += 0.01
            timer.tick(t)
        now[0] = t

    try:
        return round(_best_per_call_s(run, n) * 1e9, 1)
    finally:
        timer.close()


def disabled_span_ns(n: int = 100_000) -> float:
    tracing = Tracing()

    def run(count: int) -> None:
        for _ in range(count):
            with tracing.server_span({}, route="chat", method="POST", operation="chat",
                                     model="m") as span:
                tracing.set_usage(span, input_tokens=1, output_tokens=1)

    return round(_best_per_call_s(run, n) * 1e9, 1)


def micro_costs() -> dict[str, float]:
    return {"text_event_us": text_event_us(), "chunk_tick_ns": chunk_tick_ns(),
            "disabled_span_ns": disabled_span_ns(),
            "text_event_target_us": TEXT_EVENT_TARGET_US}
