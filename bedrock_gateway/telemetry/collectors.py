"""Collectors that do their work at scrape time, so the request path pays nothing for them.

- `InterChunkHistogram` + `ChunkTimer`: the gap between two chunks of one stream. A stream ticks
  once per chunk (hundreds per response, thousands of streams at once), so the timer keeps its own
  bucket counts in plain lists, with no lock and no label lookup, and merges them into the shared
  histogram once, when the stream closes. The histogram is a custom collector (public
  prometheus_client API) rather than a `Histogram` child whose private fields we would patch.
  It scrapes as an ordinary histogram: `_bucket{le}` (cumulative), `_sum`, `_count`.
- `StateCollector`: pool, circuit-breaker and catalog gauges read from callables at scrape time.
"""

from __future__ import annotations

import logging
import threading
from bisect import bisect_left
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Self

from prometheus_client.metrics_core import (
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

_log = logging.getLogger(__name__)


class InterChunkHistogram(Collector):
    """A histogram with one label (`model`), fed by whole-stream merges instead of observations."""

    def __init__(self, name: str, documentation: str, bounds: Sequence[float]) -> None:
        self._name = name
        self._doc = documentation
        self.bounds: tuple[float, ...] = tuple(float(b) for b in bounds)
        # `le` strings formatted once, the way prometheus_client formats its own buckets.
        self._le = tuple(floatToGoString(b) for b in self.bounds) + ("+Inf",)
        # Merges come from the event loop, scrapes may come from another thread: a lock, taken
        # once per stream (never per chunk).
        self._lock = threading.Lock()
        # model label -> (per-bucket counts, not cumulative, last one is +Inf; [sum of gaps])
        self._series: dict[str, tuple[list[int], list[float]]] = {}

    def timer(self, model_label: str) -> ChunkTimer:
        return ChunkTimer(self, model_label)

    def merge(self, model_label: str, counts: Sequence[int], total: float) -> None:
        with self._lock:
            series = self._series.get(model_label)
            if series is None:
                series = self._series[model_label] = ([0] * len(self._le), [0.0])
            mine = series[0]
            for i, n in enumerate(counts):
                if n:
                    mine[i] += n
            series[1][0] += total

    def describe(self) -> Iterator[Metric]:
        yield HistogramMetricFamily(self._name, self._doc, labels=["model"])

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            snapshot = [(m, list(c), s[0]) for m, (c, s) in self._series.items()]
        family = HistogramMetricFamily(self._name, self._doc, labels=["model"])
        for model, counts, total in snapshot:
            cumulative, buckets = 0, []
            for le, n in zip(self._le, counts, strict=True):
                cumulative += n
                buckets.append((le, cumulative))
            family.add_metric([model], buckets, total)
        yield family


class ChunkTimer:
    """Times the gaps between the chunks of one stream; one per stream, used by one task.

    Call `tick(now)` once per chunk with a monotonic clock reading (`time.monotonic()` or
    `loop.time()`): n chunks make n - 1 gaps; the first tick only starts the clock. Call
    `close()` (or use it as a context manager) when the stream ends, however it ends: nothing is
    visible in the histogram before that, and a timer that is never closed is never counted.
    """

    __slots__ = ("_bounds", "_closed", "_counts", "_last", "_model", "_sink", "_sum")

    def __init__(self, sink: InterChunkHistogram, model_label: str) -> None:
        self._sink = sink
        self._model = model_label
        self._bounds = sink.bounds
        self._counts = [0] * (len(sink.bounds) + 1)
        self._sum = 0.0
        self._last: float | None = None
        self._closed = False

    def tick(self, now: float) -> None:
        # Hot path: no lock, no label lookup, no string formatting. bisect_left on the upper
        # bounds gives the first bucket whose `le` is >= the gap, which is Prometheus' rule.
        last = self._last
        self._last = now
        if last is not None:
            gap = now - last
            self._counts[bisect_left(self._bounds, gap)] += 1
            self._sum += gap

    @property
    def gaps(self) -> int:
        return sum(self._counts)

    @property
    def total_seconds(self) -> float:
        return self._sum

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if any(self._counts):
            self._sink.merge(self._model, self._counts, self._sum)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


PoolsSource = Callable[[], Mapping[str, tuple[int, int]]]
BreakersSource = Callable[[], Mapping[tuple[str, str], int]]  # (region, model) -> state
CatalogSource = Callable[[], tuple[float | None, int]]

_POOL_IN_USE = ("bedrock_gateway_pool_in_use", "Admission slots (= pooled connections) in use.")
_POOL_CAPACITY = ("bedrock_gateway_pool_capacity", "Admission slots (= max_pool_connections).")
_BREAKER = ("bedrock_gateway_circuit_breaker_state", "0 closed, 1 half-open, 2 open.")
_CATALOG_AGE = (
    "bedrock_gateway_catalog_age_seconds",
    "Seconds since the model catalog was last refreshed successfully.",
)
_CATALOG_MODELS = ("bedrock_gateway_catalog_models", "Models in the catalog.")
_STREAM_CAPACITY = (
    "bedrock_gateway_stream_capacity",
    "Streams this process admits at once (MAX_CONCURRENT_REQUESTS).",
)


class StateCollector(Collector):
    """Gauges of state owned by other components, read only when Prometheus scrapes.

    Before `set_sources` the families are exposed without samples. A catalog that never
    refreshed has no age sample (rather than a made-up number); alert on `absent()` or on the
    readiness probe. A source that raises is logged and its families are skipped for that scrape,
    so one broken component cannot take the whole /metrics page down.
    """

    def __init__(self) -> None:
        self._pools: PoolsSource | None = None
        self._breakers: BreakersSource | None = None
        self._catalog: CatalogSource | None = None
        self._stream_capacity: int | None = None

    def set_sources(
        self,
        *,
        pools: PoolsSource,
        breakers: BreakersSource,
        catalog: CatalogSource,
        stream_capacity: int,
    ) -> None:
        self._pools, self._breakers, self._catalog = pools, breakers, catalog
        self._stream_capacity = stream_capacity

    def describe(self) -> Iterator[Metric]:
        yield GaugeMetricFamily(*_POOL_IN_USE, labels=["region"])
        yield GaugeMetricFamily(*_POOL_CAPACITY, labels=["region"])
        yield GaugeMetricFamily(*_BREAKER, labels=["region", "model"])
        yield GaugeMetricFamily(*_CATALOG_AGE)
        yield GaugeMetricFamily(*_CATALOG_MODELS)
        yield GaugeMetricFamily(*_STREAM_CAPACITY)

    def collect(self) -> Iterator[Metric]:
        in_use = GaugeMetricFamily(*_POOL_IN_USE, labels=["region"])
        capacity = GaugeMetricFamily(*_POOL_CAPACITY, labels=["region"])
        pools = _read(self._pools, "pools")
        for region, (used, cap) in sorted((pools or {}).items()):
            in_use.add_metric([region], used)
            capacity.add_metric([region], cap)
        yield in_use
        yield capacity

        breaker = GaugeMetricFamily(*_BREAKER, labels=["region", "model"])
        for (region, model), state in sorted((_read(self._breakers, "breakers") or {}).items()):
            breaker.add_metric([region, model], state)
        yield breaker

        age = GaugeMetricFamily(*_CATALOG_AGE)
        models = GaugeMetricFamily(*_CATALOG_MODELS)
        catalog = _read(self._catalog, "catalog")
        if catalog is not None:
            if catalog[0] is not None:
                age.add_metric([], catalog[0])
            models.add_metric([], catalog[1])
        yield age
        yield models

        stream_capacity = GaugeMetricFamily(*_STREAM_CAPACITY)
        if self._stream_capacity is not None:
            stream_capacity.add_metric([], self._stream_capacity)
        yield stream_capacity


def _read(source: Callable[[], object] | None, what: str):
    if source is None:
        return None
    try:
        return source()
    except Exception:  # noqa: BLE001 - a scrape must not fail because one component is broken
        _log.exception("metrics state source %r failed", what)
        return None
