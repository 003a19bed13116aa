"""The Prometheus metrics contract (docs/metrics.md) against a real gateway after real traffic.

One gateway with two regions (us-east-1 throttles Converse, so non-streamed calls fail over to
us-west-2) and room for one request at a time gets a mixed workload through the openai SDK and
raw HTTP: successes (streamed and not), a 404 and a 400, a failover, a mid-stream error, a
client that disconnects mid-stream and an admission rejection. Then its metrics listener is
scraped over HTTP, parsed with prometheus_client's parser, and compared with the table of
docs/metrics.md: every documented metric, with its type and exactly its label names, and
values that match the workload. A second test sends 1,000 requests for made-up model ids and
checks that they cannot create series.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from pathlib import Path

import aiohttp
import openai
import pytest

from bedrock_gateway import __version__
from bedrock_gateway.server.app_state import TELEMETRY
from tests.support.constants import HAIKU, TEST_KEY
from tests.support.local_http import free_port
from tests.support.metrics_scrape import idle, scrape, wait_metrics

DOC = Path(__file__).resolve().parents[2] / "docs" / "metrics.md"
REGIONS = ("us-east-1", "us-west-2")
AUTH = {"Authorization": f"Bearer {TEST_KEY}"}


def documented_metrics() -> dict[str, tuple[str, frozenset[str]]]:
    """name -> (type, label names), read from the table of docs/metrics.md."""
    rows = {}
    for line in DOC.read_text().splitlines():
        match = re.match(r"\|\s*`(bedrock_gateway_\w+)`\s*\|([^|]*)\|([^|]*)\|", line)
        if not match:
            continue
        name, type_cell, labels_cell = match.groups()
        kind = type_cell.split()[0]
        # `model`, `kind` (`input`, `output`, ...): the parentheses list values, not labels.
        labels = re.findall(r"`(\w+)`", re.sub(r"\([^)]*\)", "", labels_cell))
        rows[name] = (kind, frozenset(labels))
    assert len(rows) >= 20, "could not read the table of docs/metrics.md"
    return rows


async def first_line_then_close(gateway, content: str) -> bytes:
    """A raw streamed request whose client reads one SSE line and then goes away."""
    async with aiohttp.ClientSession() as session:
        response = await session.post(
            f"{gateway.base_url}/chat/completions", headers=AUTH,
            json={"model": HAIKU, "stream": True,
                  "messages": [{"role": "user", "content": content}]})
        assert response.status == 200
        line = await response.content.readline()
        response.close()  # drops the connection mid-stream
    return line


async def test_metrics_contract_after_mixed_workload(make_gateway, emulator):
    metrics_port = free_port()
    # No throttle backoff: the streams below go to us-east-1, whose Converse throttles.
    gateway = await make_gateway(metrics_port=metrics_port, bedrock_regions=REGIONS,
                                 bedrock_max_attempts=1, max_concurrent_requests=1,
                                 throttle_backoff_seconds=0)
    await emulator.add_fault(region="us-east-1", operation="converse",
                             error="ThrottlingException")
    streams_with_content = 0

    async with gateway.client() as client:
        # Success, not streamed: us-east-1 throttles Converse, the request fails over.
        completion = await client.chat.completions.create(
            model=HAIKU, messages=[{"role": "user", "content": "hello there [[emu chunks=5]]"}])
        assert completion.usage.completion_tokens == 5

        # Success, streamed (ConverseStream is not throttled: served by us-east-1).
        stream = await client.chat.completions.create(
            model=HAIKU, stream=True, stream_options={"include_usage": True},
            messages=[{"role": "user", "content": "stream please [[emu chunks=8]]"}])
        chunks = [c async for c in stream]
        assert chunks[-1].usage.completion_tokens == 8
        streams_with_content += 1

        # 4xx: an unknown model (404) and a malformed body (400).
        with pytest.raises(openai.NotFoundError):
            await client.chat.completions.create(
                model="no-such-model", messages=[{"role": "user", "content": "x"}])
        async with aiohttp.ClientSession() as session, session.post(
                f"{gateway.base_url}/chat/completions", headers=AUTH,
                json={"model": HAIKU, "messages": "not a list"}) as response:
            assert response.status == 400

        # A stream that fails after three events.
        stream = await client.chat.completions.create(
            model=HAIKU, stream=True,
            messages=[{"role": "user", "content":
                       "x [[emu chunks=10 stream_error=throttlingException error_after=3]]"}])
        received = []
        with pytest.raises(openai.APIError):
            async for chunk in stream:
                received.append(chunk)
        assert received
        streams_with_content += 1

    # A client that goes away mid-stream (the stream would last ~4 s). Its one line is the
    # role chunk, which holds no content: no time to first token for it.
    assert (await first_line_then_close(gateway, "bye [[emu chunks=200 delay_ms=20]]")).startswith(
        b"data: ")
    await wait_metrics(metrics_port, lambda s: idle(s) and s.value(
        "bedrock_gateway_client_disconnects_total", route="chat") >= 1)

    # Admission: one slow stream holds the only slot, a second request is refused.
    async with aiohttp.ClientSession() as session:
        slow = await session.post(
            f"{gateway.base_url}/chat/completions", headers=AUTH,
            json={"model": HAIKU, "stream": True,
                  "messages": [{"role": "user", "content": "slow [[emu chunks=20 delay_ms=20]]"}]})
        assert slow.status == 200
        assert (await slow.content.readline()).startswith(b"data: ")  # admitted and streaming
        during = await scrape(metrics_port)
        assert during.value("bedrock_gateway_inflight_streams") == 1
        assert during.value("bedrock_gateway_inflight_requests") == 1
        async with gateway.client() as client:
            with pytest.raises(openai.RateLimitError) as info:
                await client.chat.completions.create(
                    model=HAIKU, messages=[{"role": "user", "content": "second"}])
        assert info.value.code == "process_limit"
        assert (await slow.read()).rstrip().endswith(b"data: [DONE]")
        slow.close()
        streams_with_content += 1

    s = await wait_metrics(metrics_port, idle)

    # -- the contract: every documented metric, its type and exactly its labels -------------
    # The Redis metrics exist only with REDIS_URL (tests/e2e/test_keys_redis.py reads them).
    documented = {name: spec for name, spec in documented_metrics().items()
                  if name not in ("bedrock_gateway_redis_up", "bedrock_gateway_redis_errors_total")}
    exported = {n for n in s.families if n.startswith("bedrock_gateway_")}
    assert exported == set(documented), (
        f"undocumented: {exported - set(documented)}; missing: {set(documented) - exported}")
    for name, (kind, labels) in documented.items():
        family = s.families[name]
        assert family.type == kind, (name, family.type, kind)
        assert family.samples, f"{name} has no samples after the workload"
        for sample in family.samples:
            names = set(sample.labels) - ({"le"} if kind == "histogram" else set())
            assert names == labels, (name, sample)

    # -- values ------------------------------------------------------------------------------
    build = s.samples("bedrock_gateway_build_info")
    assert [(b.labels["version"], b.value) for b in build] == [(__version__, 1.0)]

    requests = "bedrock_gateway_requests_total"
    assert s.value(requests, status_class="2xx") >= 4  # plain, stream, mid-stream error, slow
    assert s.value(requests, status_class="4xx") >= 4  # 404, 400, disconnect (499), 429
    assert s.value(requests, status_class="5xx") == 0
    assert s.value(requests, route="chat", status_class="2xx", error_code="none",
                   model=HAIKU) >= 3
    assert s.value(requests, route="chat", status_class="4xx", error_code="model_not_found") == 1
    assert s.value(requests, route="chat", status_class="2xx", error_code="throttled") == 1
    assert s.value(requests, route="chat", status_class="4xx", error_code="process_limit") == 1
    assert s.label_values(requests, "model") <= {HAIKU, "other", "none"}
    total_requests = s.value(requests)
    assert s.value("bedrock_gateway_request_duration_seconds", "_count") == total_requests

    assert s.value("bedrock_gateway_failovers_total", from_region="us-east-1",
                   to_region="us-west-2") >= 1
    assert s.value("bedrock_gateway_bedrock_errors_total", region="us-east-1",
                   operation="converse", error_code="throttled") >= 1
    assert s.value("bedrock_gateway_bedrock_errors_total", error_code="throttled") >= 1
    calls = "bedrock_gateway_bedrock_calls_total"
    assert s.value(calls, region="us-east-1", operation="converse", outcome="error") >= 1
    assert s.value(calls, region="us-west-2", operation="converse", outcome="ok") >= 1
    assert s.value(calls, region="us-east-1", operation="converse_stream",
                   outcome="ok") >= streams_with_content + 1  # + the disconnected one
    assert s.value("bedrock_gateway_bedrock_call_duration_seconds", "_count") == s.value(calls)

    assert s.value("bedrock_gateway_client_disconnects_total", route="chat") >= 1
    assert s.value("bedrock_gateway_admission_rejections_total", reason="process_limit") >= 1
    assert s.label_values("bedrock_gateway_admission_rejections_total", "reason") == {
        "process_limit", "region_queue_timeout", "body_too_large", "draining"}

    ttft_count = s.value("bedrock_gateway_time_to_first_token_seconds", "_count", model=HAIKU)
    assert ttft_count >= streams_with_content
    ttft_sum = s.value("bedrock_gateway_time_to_first_token_seconds", "_sum", model=HAIKU)
    assert 0 < ttft_sum / ttft_count < 5
    assert s.value("bedrock_gateway_inter_chunk_seconds", "_count", model=HAIKU) > 0
    assert s.value("bedrock_gateway_tokens_total", model=HAIKU, kind="input") > 0
    assert s.value("bedrock_gateway_tokens_total", model=HAIKU, kind="output") >= 5 + 8

    for region in REGIONS:
        [capacity] = s.samples("bedrock_gateway_pool_capacity", region=region)
        assert capacity.value == gateway.settings.max_streams_per_region
        [in_use] = s.samples("bedrock_gateway_pool_in_use", region=region)
        assert in_use.value == 0
        # Throttling is capacity, never ill-health: every route's breaker stays closed.
        breakers = s.samples("bedrock_gateway_circuit_breaker_state", region=region)
        assert breakers and all(b.value == 0 for b in breakers)
        assert HAIKU in {b.labels["model"] for b in breakers}
    assert s.label_values("bedrock_gateway_pool_capacity", "region") == set(REGIONS)
    assert 0 <= s.value("bedrock_gateway_catalog_age_seconds") < 60
    assert s.value("bedrock_gateway_catalog_models") > 0
    assert s.value("bedrock_gateway_stream_capacity") == 1
    assert s.value("bedrock_gateway_inflight_streams") == 0
    assert s.value("bedrock_gateway_inflight_requests") == 0

    # The API port never serves metrics (and needs no key to say so: it is simply no route).
    async with aiohttp.ClientSession() as session:
        for path in ("/metrics", f"{gateway.settings.api_route_prefix}/metrics"):
            async with session.get(f"{gateway.root}{path}", headers=AUTH) as response:
                assert response.status == 404
                assert b"bedrock_gateway_" not in await response.read()


async def test_made_up_model_ids_cannot_create_series(make_gateway):
    metrics_port = free_port()
    gateway = await make_gateway(metrics_port=metrics_port)
    made_up = [f"made-up-{uuid.uuid4().hex}" for _ in range(1000)]
    limit = asyncio.Semaphore(50)

    async def ask(client, model: str) -> int:
        async with limit:
            with pytest.raises(openai.NotFoundError) as info:
                await client.chat.completions.create(
                    model=model, messages=[{"role": "user", "content": "x"}])
            return info.value.status_code

    async with gateway.client() as client:
        statuses = await asyncio.gather(*(ask(client, m) for m in made_up))
    assert statuses == [404] * 1000

    s = await wait_metrics(metrics_port, idle)
    requests = "bedrock_gateway_requests_total"
    # All 1,000 land in one series, whose model label is a bounded placeholder.
    [series] = s.samples(requests, route="chat", status_class="4xx",
                         error_code="model_not_found")
    assert series.value == 1000
    assert series.labels["model"] in {"other", "none"}
    assert len(s.families[requests].samples) <= 3
    for name in ("bedrock_gateway_requests_total", "bedrock_gateway_request_duration_seconds"):
        assert s.label_values(name, "model") <= {"other", "none"}
    assert not any("made-up-" in line for line in s.text.splitlines())
    # The whole page stays small: a fixed set of series, whatever the clients typed.
    assert len([line for line in s.text.splitlines() if not line.startswith("#")]) < 300


async def test_no_metrics_listener_when_metrics_port_is_zero(make_gateway):
    gateway = await make_gateway(metrics_port=0)
    assert gateway.app[TELEMETRY].metrics_port is None  # no listener was started
    async with gateway.client() as client:
        completion = await client.chat.completions.create(
            model=HAIKU, messages=[{"role": "user", "content": "x [[emu chunks=2]]"}])
    assert completion.choices[0].message.content
    async with aiohttp.ClientSession() as session, \
            session.get(f"{gateway.root}/metrics", headers=AUTH) as response:
        assert response.status == 404


async def test_unknown_model_is_counted_as_other(make_gateway):
    metrics_port = free_port()
    gateway = await make_gateway(metrics_port=metrics_port)
    async with gateway.client() as client:
        with pytest.raises(openai.NotFoundError):
            await client.chat.completions.create(
                model="no-such-model", messages=[{"role": "user", "content": "x"}])
    s = await wait_metrics(metrics_port, idle)
    [series] = s.samples("bedrock_gateway_requests_total", error_code="model_not_found")
    assert series.labels["model"] == "other"
