"""One parsed Prometheus /metrics page of a gateway (prometheus_client's own parser), read over
HTTP from its metrics listener, and a poll until a condition on it holds."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from tests.support.polling import eventually


class Scrape:
    """One parsed /metrics page: families by their documented name."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.families: dict[str, Any] = {}
        self.created: set[str] = set()
        for family in text_string_to_metric_families(text):
            # The parser drops a counter's `_total` suffix from the family name.
            name = family.name + "_total" if family.type == "counter" else family.name
            self.families[name] = family
        # prometheus_client adds a `<name>_created` gauge (creation time) to each counter and
        # histogram in the classic text format; Prometheus reads it as part of the family in
        # OpenMetrics. Not part of the contract: set aside, but only when its family exists.
        for name in list(self.families):
            base = name.removesuffix("_created")
            if base != name and (base in self.families or base + "_total" in self.families):
                self.created.add(name)
                del self.families[name]

    def samples(self, name: str, suffix: str = "", **labels: str) -> list[Any]:
        family = self.families[name]
        wanted = (name.removesuffix("_total") + suffix) if suffix else None
        return [s for s in family.samples
                if (wanted is None or s.name == wanted or (not suffix and s.name == name))
                and all(s.labels.get(k) == v for k, v in labels.items())]

    def value(self, name: str, suffix: str = "", **labels: str) -> float:
        """Sum of the matching samples (0 when none match)."""
        if not suffix and self.families[name].type == "histogram":
            raise AssertionError("say which histogram series: _count, _sum or _bucket")
        return float(sum(s.value for s in self.samples(name, suffix, **labels)))

    def label_values(self, name: str, label: str) -> set[str]:
        return {s.labels[label] for s in self.families[name].samples if label in s.labels}


async def scrape(port: int) -> Scrape:
    async with aiohttp.ClientSession() as session, \
            session.get(f"http://127.0.0.1:{port}/metrics") as response:
        assert response.status == 200
        assert response.content_type == "text/plain"
        return Scrape(await response.text())


async def wait_metrics(port: int, predicate: Callable[[Scrape], bool], *,
                       within: float = 10.0) -> Scrape:
    """Scrape until `predicate(scrape)` holds (server-side bookkeeping ends after the client's)."""
    async def holds() -> Scrape | None:
        result = await scrape(port)
        return result if predicate(result) else None

    return await eventually(holds, within=within, what="metrics condition")


def idle(s: Scrape) -> bool:
    return (s.value("bedrock_gateway_inflight_requests") == 0
            and s.value("bedrock_gateway_inflight_streams") == 0)
