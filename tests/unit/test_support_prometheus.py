"""A real Prometheus scrapes the gateway's metrics listener and reads the values back."""

from __future__ import annotations

import pytest

from bedrock_gateway.telemetry.metrics import GatewayMetrics
from bedrock_gateway.telemetry.metrics_http import start_metrics_listener
from tests.support.prometheus_server import PrometheusServer

pytestmark = pytest.mark.skipif(not PrometheusServer.available(),
                                reason="prometheus binary not installed")


async def test_prometheus_scrapes_the_metrics_listener() -> None:
    metrics = GatewayMetrics("4.5.6")
    metrics.set_state_sources(pools=lambda: {"us-east-1": (2, 16)}, breakers=dict,
                              catalog=lambda: (3.0, 7), stream_capacity=321)
    metrics.request_started(streaming=True)
    with metrics.chunk_timer(None) as timer:
        for t in (0.0, 0.01, 0.03):
            timer.tick(t)
    runner, port = await start_metrics_listener(metrics, "127.0.0.1", 0)
    try:
        async with PrometheusServer([f"127.0.0.1:{port}"]) as prom:
            result = await prom.wait_for("bedrock_gateway_stream_capacity", bool, within=20)
            assert float(result[0]["value"][1]) == 321
            assert result[0]["metric"]["instance"] == f"127.0.0.1:{port}"

            up = await prom.query("up")
            assert float(up[0]["value"][1]) == 1
            assert (await prom.targets_health())[0]["health"] == "up"

            streams = await prom.query("bedrock_gateway_inflight_streams")
            assert float(streams[0]["value"][1]) == 1
            pool = await prom.query('bedrock_gateway_pool_capacity{region="us-east-1"}')
            assert float(pool[0]["value"][1]) == 16
            build = await prom.query("bedrock_gateway_build_info")
            assert build[0]["metric"]["version"] == "4.5.6"
            gaps = await prom.query('bedrock_gateway_inter_chunk_seconds_count{model="none"}')
            assert float(gaps[0]["value"][1]) == 2

            # A change is seen at the next scrape (every second).
            metrics.request_finished(route="chat", model=None, status=200, error_code=None,
                                     duration_s=0.5, streaming=True)
            await prom.wait_for("bedrock_gateway_inflight_streams",
                                lambda r: bool(r) and float(r[0]["value"][1]) == 0, within=20)
    finally:
        await runner.cleanup()
