"""What the telemetry tests share: the OTEL_* environment that points a gateway at a test
receiver, the access-log records in captured output, and one streamed chat completion."""

from __future__ import annotations

from typing import Any

import orjson

from tests.support.constants import HAIKU
from tests.support.inprocess_gateway import Gateway
from tests.support.otlp_receiver import OtlpReceiver

CHUNKS = 6  # one chunk is one output token in the emulator


def otel_env(receiver: OtlpReceiver, **extra: str) -> dict[str, str]:
    """OTLP/HTTP to `receiver`, spans batched for 50 ms at most."""
    return {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url, "OTEL_BSP_SCHEDULE_DELAY": "50",
            **extra}


def access_lines(captured: str) -> list[dict[str, Any]]:
    """The access-log records (JSON lines with a request_id) in captured stdout."""
    lines = []
    for line in captured.splitlines():
        if line.startswith("{"):
            record = orjson.loads(line)
            if "request_id" in record:
                lines.append(record)
    return lines


async def streamed_chat(gateway: Gateway, headers: dict[str, str]) -> tuple[list[Any], Any]:
    """One streamed completion through the openai SDK; returns (chunks, response headers)."""
    async with gateway.client() as client:
        raw = await client.chat.completions.with_raw_response.create(
            model=HAIKU, stream=True, stream_options={"include_usage": True},
            messages=[{"role": "user", "content": f"trace me please [[emu chunks={CHUNKS}]]"}],
            extra_headers=headers)
        stream = raw.parse()
        chunks = [chunk async for chunk in stream]
    return chunks, raw.headers
