"""A real Prometheus (Debian's `prometheus` binary) scrapes a real gateway's metrics listener
while a short streamed load runs, evaluates the autoscaler's query and a TTFT percentile, and
loads the project's recording and alerting rules.

The HPA query (config/prometheus/hpa-query.promql) selects `namespace` and `pod` labels that
Kubernetes service discovery adds; a plain static target has neither. The test therefore
evaluates the file's query with its label matchers stripped (`{...}` removed, so
`sum(bedrock_gateway_inflight_streams) by (pod)`, which yields one series with an empty `pod`),
plus the bare `sum(bedrock_gateway_inflight_streams)`; it also checks that the unadapted query
selects nothing here, which is why the adaptation is needed.
"""

from __future__ import annotations

import asyncio
import math
import re
import time
from pathlib import Path

import pytest
import yaml

from tests.support.constants import HAIKU
from tests.support.local_http import free_port
from tests.support.polling import eventually
from tests.support.prometheus_server import PrometheusServer

ROOT = Path(__file__).resolve().parents[2]
HPA_QUERY = ROOT / "config" / "prometheus" / "hpa-query.promql"
RULES_DIR = ROOT / "config" / "prometheus" / "rules"
STREAMS = 30
LOAD = "load [[emu chunks=50 delay_ms=50]]"  # ~2.5 s per stream

pytestmark = pytest.mark.skipif(not PrometheusServer.available(),
                                reason="the prometheus binary is not installed")


class PrometheusWithRules(PrometheusServer):
    """PrometheusServer plus `rule_files` (the support class writes only scrape settings)."""

    def __init__(self, targets: list[str], rule_files: list[str]) -> None:
        super().__init__(targets)
        self.rule_files = rule_files

    async def _launch(self, root: Path, port: int) -> bool:
        config = root / "prometheus.yml"
        text = config.read_text()
        if "rule_files:" not in text:
            quoted = "".join(f"  - '{path}'\n" for path in self.rule_files)
            config.write_text(text + "rule_files:\n" + quoted)
        return await super()._launch(root, port)

    async def rules(self) -> list[dict]:
        async with self._http().get(f"{self.url}/api/v1/rules") as response:
            body = await response.json()
        assert body["status"] == "success", body
        return body["data"]["groups"]


def scalar(result: list[dict]) -> float:
    assert len(result) == 1, result
    return float(result[0]["value"][1])


def adapted_hpa_query() -> str:
    original = HPA_QUERY.read_text().strip()
    adapted = re.sub(r"\{[^}]*\}", "", original)
    assert adapted != original and "{" not in adapted
    return adapted


async def one_stream(client) -> float:
    started = time.perf_counter()
    stream = await client.chat.completions.create(
        model=HAIKU, stream=True, messages=[{"role": "user", "content": LOAD}])
    chunks = [c async for c in stream]
    assert chunks[-1].choices[0].finish_reason == "stop"
    return time.perf_counter() - started


def rule_counts(rule_files: list[str]) -> dict[str, int]:
    """Rule group name -> number of rules, as the files define them."""
    counts = {}
    for path in rule_files:
        for group in yaml.safe_load(Path(path).read_text())["groups"]:
            counts[group["name"]] = len(group["rules"])
    return counts


async def wait_rules_evaluated(prom: PrometheusWithRules) -> list[dict]:
    async def evaluated() -> list[dict]:
        groups = await prom.rules()
        rules = [r for g in groups for r in g["rules"]]
        assert groups and all(r["health"] != "unknown" for r in rules), groups
        return groups

    return await eventually(evaluated, interval=0.25, what="every rule evaluated")


async def test_prometheus_scrapes_the_gateway_under_streamed_load(make_gateway):
    metrics_port = free_port()
    gateway = await make_gateway(metrics_port=metrics_port)
    rule_files = sorted(str(p) for p in RULES_DIR.glob("*.yml"))
    assert rule_files
    async with PrometheusWithRules([f"127.0.0.1:{metrics_port}"], rule_files) as prom, \
            gateway.client(timeout=60.0) as client:
        await prom.wait_for("up", lambda r: len(r) == 1 and r[0]["value"][1] == "1")

        # Warm-up: the TTFT series must be in Prometheus before the load, or rate() over the
        # load would start from the series' first sample (already 30) and be 0.
        await one_stream(client)
        await prom.wait_for("sum(bedrock_gateway_time_to_first_token_seconds_count)",
                            lambda r: bool(r) and float(r[0]["value"][1]) >= 1)

        # During the load: the autoscaler's signal is visible.
        load = asyncio.gather(*(one_stream(client) for _ in range(STREAMS)))
        try:
            during = await prom.wait_for("sum(bedrock_gateway_inflight_streams)",
                                         lambda r: bool(r) and float(r[0]["value"][1]) > 0,
                                         within=5)
            hpa = await prom.query(adapted_hpa_query())
            unadapted = await prom.query(HPA_QUERY.read_text().strip())
        finally:
            durations = await load
        assert 0 < scalar(during) <= STREAMS
        assert len(hpa) == 1 and hpa[0]["metric"] == {}  # one pod-less series
        assert 0 < float(hpa[0]["value"][1]) <= STREAMS
        assert unadapted == []  # no namespace/pod labels on a static target

        # After the load: Prometheus has seen every first token and every stream closing.
        await prom.wait_for("sum(bedrock_gateway_time_to_first_token_seconds_count)",
                            lambda r: bool(r) and float(r[0]["value"][1]) >= STREAMS + 1)
        await prom.wait_for("sum(bedrock_gateway_inflight_streams)",
                            lambda r: bool(r) and float(r[0]["value"][1]) == 0)
        p95 = scalar(await prom.query(
            "histogram_quantile(0.95, "
            "sum(rate(bedrock_gateway_time_to_first_token_seconds_bucket[1m])) by (le))"))
        assert math.isfinite(p95)
        assert 0 < p95 < min(durations), (p95, min(durations))

        # The rules: every group of the files loaded, every rule evaluated and healthy.
        expected = rule_counts(rule_files)
        groups = await wait_rules_evaluated(prom)
        assert {g["name"]: len(g["rules"]) for g in groups} == expected
        for group in groups:
            for rule in group["rules"]:
                assert rule["health"] == "ok", rule
                assert not rule.get("lastError"), rule
        # A recording rule computed from the scraped data.
        recorded = await prom.wait_for(
            "model:bedrock_gateway_time_to_first_token_seconds:p95_5m",
            lambda r: bool(r) and math.isfinite(float(r[0]["value"][1])))
        assert recorded[0]["metric"]["model"] == HAIKU
        assert 0 < float(recorded[0]["value"][1]) < min(durations)
