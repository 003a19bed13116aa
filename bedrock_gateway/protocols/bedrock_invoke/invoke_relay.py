"""InvokeModelWithResponseStream events from Bedrock -> the same chunks for the client.

The chunk bytes are forwarded unchanged. For telemetry the relay reads the token counts of
`amazon-bedrock-invocationMetrics` (every provider's last chunk carries them) and, for
Anthropic's events, the usage and stop reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

_METRICS = b"amazon-bedrock-invocationMetrics"


class InvokeStreamRelay:
    __slots__ = ("first_content_emitted", "input_tokens", "output_tokens", "stop_reason")

    def __init__(self) -> None:
        self.first_content_emitted = False
        self.input_tokens = 0
        self.output_tokens = 0
        self.stop_reason: str | None = None

    def feed(self, event: Mapping[str, Any]) -> list[bytes]:
        chunk = event.get("chunk")
        if not chunk:
            return []
        data = chunk["bytes"]
        if not self.first_content_emitted and b'"message_start"' not in data:
            self.first_content_emitted = True
        if _METRICS in data or b'"message_delta"' in data:
            self._read(data)
        return [data]

    def _read(self, data: bytes) -> None:
        try:
            document = orjson.loads(data)
        except orjson.JSONDecodeError:
            return
        metrics = document.get(_METRICS.decode()) or {}
        if metrics:
            self.input_tokens = int(metrics.get("inputTokenCount") or 0)
            self.output_tokens = int(metrics.get("outputTokenCount") or 0)
        if document.get("type") == "message_delta":
            self.stop_reason = (document.get("delta") or {}).get("stop_reason")

    def finish(self) -> list[bytes]:
        return []
