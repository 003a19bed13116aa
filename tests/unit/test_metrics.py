"""GatewayMetrics against the contract in docs/metrics.md, plus the /metrics listener."""

from __future__ import annotations

import re
from pathlib import Path

import aiohttp
import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from bedrock_gateway.telemetry.key_metrics import KeyMetrics
from bedrock_gateway.telemetry.metrics import (
    DURATION_BUCKETS,
    INTER_CHUNK_BUCKETS,
    GatewayMetrics,
)
from bedrock_gateway.telemetry.metrics_http import start_metrics_listener

DOC = Path(__file__).resolve().parents[2] / "docs" / "metrics.md"
MODEL = "anthropic.claude-3-haiku-20240307-v1:0"


def contract() -> dict[str, tuple[str, frozenset[str]]]:
    """name -> (type, label names), read from the table in docs/metrics.md."""
    rows: dict[str, tuple[str, frozenset[str]]] = {}
    for line in DOC.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 4 or not cells[0].startswith("`bedrock_gateway_"):
            continue
        name = cells[0].strip("`")
        kind = cells[1].split()[0]  # "gauge (1)" -> "gauge"
        # Label names are the backticked words outside parentheses (inside are example values).
        labels = frozenset(re.findall(r"`([a-z_]+)`", re.sub(r"\([^)]*\)", "", cells[2])))
        rows[name] = (kind, labels)
    return rows


def family_key(name: str, kind: str) -> str:
    # The text parser reports counters without their `_total` suffix.
    return name.removesuffix("_total") if kind == "counter" else name


def scrape(metrics: GatewayMetrics) -> dict:
    text = generate_latest(metrics.registry).decode()
    return {f.name: f for f in text_string_to_metric_families(text)}


def workload(m: GatewayMetrics) -> None:
    m.set_known_models([MODEL, "haiku"])
    m.request_started(streaming=True)
    m.observe_ttft(MODEL, 0.3)
    with m.chunk_timer(MODEL) as timer:
        for t in (0.0, 0.02, 0.05):
            timer.tick(t)
    m.record_tokens(MODEL, input=10, output=20, cache_read=5, cache_write=1)
    m.bedrock_call(region="us-east-1", operation="ConverseStream", duration_s=0.2,
                   error_code="throttled")
    m.bedrock_call(region="us-west-2", operation="ConverseStream", duration_s=0.1,
                   error_code=None)
    m.failover("us-east-1", "us-west-2", "throttled")
    m.request_finished(route="chat", model=MODEL, status=200, error_code=None, duration_s=1.5,
                       streaming=True)
    m.admission_rejected("process_limit")
    m.client_disconnected("chat")
    m.set_state_sources(
        pools=lambda: {"us-east-1": (3, 10), "us-west-2": (0, 10)},
        breakers=lambda: {("us-east-1", MODEL): 2, ("us-west-2", MODEL): 0},
        catalog=lambda: (12.5, 42),
        stream_capacity=512,
    )


def test_contract_table_is_read() -> None:
    table = contract()
    assert len(table) >= 20
    assert table["bedrock_gateway_tokens_total"] == ("counter", frozenset({"model", "kind"}))


def test_every_documented_metric_is_exported_with_its_type_and_labels() -> None:
    m = GatewayMetrics("1.2.3")
    workload(m)
    keys = KeyMetrics(m.registry, top_n=2, redis=True)
    keys.outcome("k1", "team-a", "ok")
    keys.used("k1", "team-a", 3, 4)
    keys.redis_result("reserve", False)
    keys.fail_open.inc()
    families = scrape(m)
    for name, (kind, labels) in contract().items():
        family = families.get(family_key(name, kind))
        assert family is not None, f"{name} missing"
        assert family.type == kind, name
        assert family.samples, f"{name} has no samples after the workload"
        for sample in family.samples:
            assert set(sample.labels) - {"le"} == labels, (name, sample)
    # prometheus_client writes counters' and histograms' `_created` as separate gauge families.
    ours = {n for n in families if n.startswith("bedrock_gateway_") and not n.endswith("_created")}
    assert ours == {family_key(n, k) for n, (k, _) in contract().items()}, "undocumented metric"


def test_values_after_workload() -> None:
    m = GatewayMetrics("1.2.3")
    workload(m)
    f = scrape(m)
    value = {(s.name, tuple(sorted(s.labels.items()))): s.value
             for fam in f.values() for s in fam.samples}
    assert value[("bedrock_gateway_requests_total", (
        ("api", "chat_completions"), ("error_code", "none"), ("model", MODEL), ("route", "chat"),
        ("status_class", "2xx")))] == 1
    assert value[("bedrock_gateway_inflight_streams", ())] == 0
    assert value[("bedrock_gateway_tokens_total", (("kind", "cache_read"), ("model", MODEL)))] == 5
    assert value[("bedrock_gateway_bedrock_errors_total", (
        ("error_code", "throttled"), ("operation", "ConverseStream"),
        ("region", "us-east-1")))] == 1
    assert value[("bedrock_gateway_bedrock_calls_total", (
        ("operation", "ConverseStream"), ("outcome", "ok"), ("region", "us-west-2")))] == 1
    assert value[("bedrock_gateway_circuit_breaker_state",
                  (("model", MODEL), ("region", "us-east-1")))] == 2
    assert value[("bedrock_gateway_pool_in_use", (("region", "us-east-1"),))] == 3
    assert value[("bedrock_gateway_catalog_models", ())] == 42
    assert value[("bedrock_gateway_stream_capacity", ())] == 512
    build = [s for s in f["bedrock_gateway_build_info"].samples]
    assert build[0].labels["version"] == "1.2.3" and build[0].value == 1
    # Rejection reasons are pre-created at zero.
    assert value[("bedrock_gateway_admission_rejections_total", (("reason", "draining"),))] == 0


def test_buckets_match_the_contract() -> None:
    m = GatewayMetrics("x")
    workload(m)
    f = scrape(m)

    def bounds(name: str) -> list[float]:
        return sorted({float(s.labels["le"]) for s in f[name].samples
                       if s.name.endswith("_bucket")})

    inf = float("inf")
    assert bounds("bedrock_gateway_request_duration_seconds") == [*DURATION_BUCKETS, inf]
    assert bounds("bedrock_gateway_time_to_first_token_seconds") == [*DURATION_BUCKETS, inf]
    assert bounds("bedrock_gateway_bedrock_call_duration_seconds") == [*DURATION_BUCKETS, inf]
    assert bounds("bedrock_gateway_inter_chunk_seconds") == [*INTER_CHUNK_BUCKETS, inf]
    assert DURATION_BUCKETS == (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120)


def test_unknown_models_collapse_into_one_series() -> None:
    m = GatewayMetrics("x")
    m.set_known_models([MODEL])
    for i in range(1000):
        m.request_started(streaming=False)
        m.request_finished(route="chat", model=f"made-up-{i}", status=404,
                           error_code="model_not_found", duration_s=0.01, streaming=False)
        m.observe_ttft(f"made-up-{i}", 0.1)
        m.record_tokens(f"made-up-{i}", input=1, output=1)
    f = scrape(m)
    models = {s.labels["model"] for s in f["bedrock_gateway_requests"].samples}
    assert models == {"other"}
    assert {s.labels["model"] for s in f["bedrock_gateway_tokens"].samples} == {"other"}
    total = [s.value for s in f["bedrock_gateway_requests"].samples
             if s.name == "bedrock_gateway_requests_total"]
    assert total == [1000]


def test_other_labels_are_bounded() -> None:
    m = GatewayMetrics("x")
    assert m.model_label(None) == "none"
    assert m.route_label("/v1/secret/path") == "other"
    for i in range(500):
        m.bedrock_call(region=f"r-{i}", operation="Converse", duration_s=0.1,
                       error_code=f"code{i}")
        m.admission_rejected(f"weird-{i}")
    m.bedrock_call(region="us-east-1", operation="Converse", duration_s=0.1,
                   error_code="bad code with spaces")
    f = scrape(m)
    regions = {s.labels["region"] for s in f["bedrock_gateway_bedrock_calls"].samples}
    assert len(regions) <= 33 and "other" in regions
    codes = {s.labels["error_code"] for s in f["bedrock_gateway_bedrock_errors"].samples}
    assert len(codes) <= 65 and "other" in codes
    reasons = {s.labels["reason"] for s in f["bedrock_gateway_admission_rejections"].samples}
    assert reasons == {"process_limit", "region_queue_timeout", "body_too_large", "draining",
                       "other"}


def test_chunk_timer_counts_and_sums() -> None:
    m = GatewayMetrics("x")
    m.set_known_models([MODEL])
    # Gaps on a bound (0.001, 0.5) must land in that bucket: `le` is inclusive. Each gap is
    # measured from 0.0 in a two-tick stream so that float subtraction cannot blur the bound.
    exact = [0.0005, 0.001, 0.003, 0.5, 7.0]
    for gap in exact:
        with m.chunk_timer(MODEL) as timer:
            timer.tick(0.0)
            timer.tick(gap)
    # One long stream: 5 chunks, 4 gaps well inside their buckets.
    timer = m.chunk_timer(MODEL)
    for t in (10.0, 10.02, 10.04, 10.3, 13.3):
        timer.tick(t)
    assert timer.gaps == 4
    # Nothing of this stream is merged before close().
    assert _count(scrape(m)) == len(exact)
    timer.close()
    timer.close()  # idempotent
    samples = scrape(m)["bedrock_gateway_inter_chunk_seconds"].samples
    buckets = {s.labels["le"]: s.value for s in samples if s.name.endswith("_bucket")}
    assert buckets == {
        "0.001": 2, "0.005": 3, "0.01": 3, "0.025": 5, "0.05": 5, "0.1": 5, "0.25": 5,
        "0.5": 7, "1.0": 7, "2.5": 7, "5.0": 8, "+Inf": 9,
    }
    assert _count(scrape(m)) == 9
    total = next(s.value for s in samples if s.name.endswith("_sum"))
    assert total == pytest.approx(sum(exact) + 3.3)
    assert {s.labels["model"] for s in samples} == {MODEL}


def _count(families: dict) -> float:
    samples = families["bedrock_gateway_inter_chunk_seconds"].samples
    return next((s.value for s in samples if s.name.endswith("_count")), 0)


def test_single_chunk_stream_adds_nothing() -> None:
    m = GatewayMetrics("x")
    with m.chunk_timer(None) as timer:
        timer.tick(1.0)
    assert not scrape(m)["bedrock_gateway_inter_chunk_seconds"].samples


def test_state_source_failure_does_not_break_the_scrape() -> None:
    m = GatewayMetrics("x")

    def broken() -> dict:
        raise RuntimeError("boom")

    m.set_state_sources(pools=broken, breakers=lambda: {("eu-west-1", MODEL): 1},
                        catalog=lambda: (None, 0), stream_capacity=8)
    f = scrape(m)
    assert not f["bedrock_gateway_pool_in_use"].samples
    assert f["bedrock_gateway_circuit_breaker_state"].samples[0].value == 1
    assert not f["bedrock_gateway_catalog_age_seconds"].samples  # never refreshed: no sample
    assert f["bedrock_gateway_catalog_models"].samples[0].value == 0


def test_breaker_model_label_is_bounded_and_keeps_the_worst_state() -> None:
    m = GatewayMetrics("x")
    m.set_known_models([MODEL])
    m.set_state_sources(
        pools=dict, catalog=lambda: (None, 0), stream_capacity=8,
        breakers=lambda: {("us-east-1", MODEL): 0, ("us-east-1", "custom.a"): 1,
                          ("us-east-1", "custom.b"): 2, ("us-east-1", "custom.c"): 0})
    samples = {tuple(sorted(s.labels.items())): s.value
               for s in scrape(m)["bedrock_gateway_circuit_breaker_state"].samples}
    assert samples == {(("model", MODEL), ("region", "us-east-1")): 0,
                       (("model", "other"), ("region", "us-east-1")): 2}


def test_apps_have_independent_registries() -> None:
    a, b = GatewayMetrics("a"), GatewayMetrics("b")
    a.admission_rejected("draining")
    fb = scrape(b)
    assert all(s.value == 0 for s in fb["bedrock_gateway_admission_rejections"].samples
               if s.name.endswith("_total"))


async def test_listener_serves_only_metrics() -> None:
    m = GatewayMetrics("9.9.9")
    workload(m)
    runner, port = await start_metrics_listener(m, "127.0.0.1", 0)
    try:
        assert port > 0
        base = f"http://127.0.0.1:{port}"
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{base}/metrics") as resp:
                assert resp.status == 200
                assert resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")
                text = await resp.text()
            names = {f.name for f in text_string_to_metric_families(text)}
            assert "bedrock_gateway_inflight_streams" in names
            accept = "application/openmetrics-text;version=1.0.0,text/plain;q=0.5"
            async with session.get(f"{base}/metrics", headers={"Accept": accept}) as resp:
                assert resp.status == 200
                assert resp.headers["Content-Type"].startswith("application/openmetrics-text")
                assert (await resp.text()).rstrip().endswith("# EOF")
            for path in ("/", "/v1/models", "/metrics/extra", "/health"):
                async with session.get(base + path) as resp:
                    assert resp.status == 404, path
            async with session.post(f"{base}/metrics") as resp:
                assert resp.status == 405
    finally:
        await runner.cleanup()


def test_key_labels_are_bounded() -> None:
    m = GatewayMetrics("1.2.3")
    keys = KeyMetrics(m.registry, top_n=2, redis=False)
    for key_id in ("k1", "k2", "k3", "k4"):
        keys.outcome(key_id, f"team-{key_id}", "ok")
    f = scrape(m)
    labels = {(s.labels["key"], s.labels["team"]) for s in f["bedrock_gateway_key_requests"].samples
              if s.name.endswith("_total")}
    assert labels == {("k1", "team-k1"), ("k2", "team-k2"), ("other", "other")}
    assert "bedrock_gateway_redis_up" not in f  # no REDIS_URL: no redis_up to alert on
