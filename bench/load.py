"""Load shapes and statistics: a closed loop of N requests at concurrency C (all C started in
the same loop iteration), a time-bounded loop, and percentile summaries."""

from __future__ import annotations

import asyncio
import math
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any

from bench.load_clients import Result

Call = Callable[[int], Awaitable[Result]]


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear interpolation between closest ranks (numpy's default), q in [0, 100]."""
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100.0
    low, high = math.floor(pos), math.ceil(pos)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def median(values: Sequence[float]) -> float | None:
    return percentile(values, 50)


def sample_percentile(values: Sequence[float], q: float) -> float:
    """`percentile` of a sample known to be non-empty (ValueError when it is empty)."""
    value = percentile(values, q)
    if value is None:
        raise ValueError("no values")
    return value


@dataclass
class RunStats:
    requests: int
    concurrency: int
    wall_s: float
    ok: int
    errors: int  # failed before/without a stream (HTTP errors, exceptions)
    incomplete: int  # streams that started but did not end properly (incl. timeouts, unfinished)
    chunks: int
    latency_ms: dict[str, float | None]
    ttft_ms: dict[str, float | None]
    error_samples: dict[str, int] = field(default_factory=dict)
    cpu_s: float | None = None  # the gateway's CPU during the run, when measured

    @property
    def cpu_per_1000(self) -> float | None:
        if self.cpu_s is None or not self.requests:
            return None
        return self.cpu_s / self.requests * 1000

    @property
    def chunks_per_s(self) -> float:
        return self.chunks / self.wall_s if self.wall_s else 0.0

    def as_dict(self) -> dict:
        return {"requests": self.requests, "concurrency": self.concurrency,
                "wall_s": round(self.wall_s, 3), "ok": self.ok, "errors": self.errors,
                "incomplete": self.incomplete, "chunks": self.chunks,
                "chunks_per_s": round(self.chunks_per_s, 1), "latency_ms": self.latency_ms,
                "ttft_ms": self.ttft_ms, "error_samples": self.error_samples,
                "cpu_s": None if self.cpu_s is None else round(self.cpu_s, 3),
                "cpu_s_per_1000": (None if self.cpu_per_1000 is None
                                   else round(self.cpu_per_1000, 3))}


def _pcts(values: list[float]) -> dict[str, float | None]:
    def ms(v: float | None) -> float | None:
        return None if v is None else round(v * 1000, 3)
    return {"p50": ms(percentile(values, 50)), "p90": ms(percentile(values, 90)),
            "p99": ms(percentile(values, 99)), "max": ms(max(values) if values else None),
            "n": len(values)}


def summarize(results: list[Result], requested: int, concurrency: int, wall_s: float) -> RunStats:
    ok = [r for r in results if r.ok]
    incomplete = sum(1 for r in results if r.incomplete) + (requested - len(results))
    errors = sum(1 for r in results if not r.ok and not r.incomplete)
    samples = Counter((r.error or "")[:120] for r in results if not r.ok)
    if requested > len(results):
        samples["incomplete: not finished when the phase timed out"] += requested - len(results)
    return RunStats(
        requests=requested, concurrency=concurrency, wall_s=wall_s, ok=len(ok), errors=errors,
        incomplete=incomplete, chunks=sum(r.chunks for r in results),
        latency_ms=_pcts([r.latency for r in ok]),
        ttft_ms=_pcts([r.ttft for r in results if r.ttft is not None]),
        error_samples=dict(samples.most_common(5)))


async def _run_workers(worker: Callable[[], Coroutine[Any, Any, None]], count: int,
                       limit_s: float) -> float:
    """`count` copies of `worker` at once; those still running after `limit_s` are cancelled.
    Returns the wall seconds."""
    started = time.perf_counter()
    tasks = [asyncio.create_task(worker()) for _ in range(count)]
    try:
        async with asyncio.timeout(limit_s):
            await asyncio.gather(*tasks)
    except TimeoutError:
        pass
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return time.perf_counter() - started


async def closed_loop(call: Call, total: int, concurrency: int,
                      phase_timeout: float) -> tuple[list[Result], float]:
    """`total` calls by `concurrency` workers; returns (results, wall seconds). Calls still running
    at `phase_timeout` are cancelled and missing from the results (the summary counts them)."""
    results: list[Result] = []
    indexes = iter(range(total))

    async def worker() -> None:
        for index in indexes:  # shared iterator: each index is taken once
            results.append(await call(index))

    wall = await _run_workers(worker, min(concurrency, total), phase_timeout)
    return results, wall


async def timed_loop(call: Call, concurrency: int, duration_s: float,
                     max_requests: int) -> tuple[list[Result], float]:
    """Keep `concurrency` calls in flight for `duration_s` (no new call after it)."""
    deadline = time.perf_counter() + duration_s
    counter = iter(range(max_requests))
    results: list[Result] = []

    async def worker() -> None:
        for index in counter:
            if time.perf_counter() >= deadline:
                return
            results.append(await call(index))

    wall = await _run_workers(worker, concurrency, duration_s + 90)
    return results, wall
