"""Request counters and open streams of one emulator app, for `GET /_emulator/stats`."""

from __future__ import annotations

import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

RECENT = 1000


@dataclass
class Stats:
    requests_total: int = 0
    open_streams: int = 0
    max_open_streams: int = 0
    by: Counter[str] = field(default_factory=Counter)
    recent: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=RECENT))

    def record(self, region: str, operation: str, model: str | None) -> None:
        self.requests_total += 1
        self.by[f"{region} {operation}"] += 1
        self.recent.append({"region": region, "operation": operation, "model": model,
                            "ts": time.time()})

    def stream_opened(self) -> None:
        self.open_streams += 1
        self.max_open_streams = max(self.max_open_streams, self.open_streams)

    def stream_closed(self) -> None:
        self.open_streams -= 1

    def reset(self) -> None:
        self.requests_total = 0
        self.max_open_streams = self.open_streams
        self.by.clear()
        self.recent.clear()

    def snapshot(self) -> dict[str, Any]:
        return {"open_streams": self.open_streams, "max_open_streams": self.max_open_streams,
                "requests_total": self.requests_total, "by": dict(self.by),
                "recent": list(self.recent)}
