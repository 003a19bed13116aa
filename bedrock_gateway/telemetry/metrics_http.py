"""The metrics listener: a separate aiohttp server that serves `GET /metrics` and nothing else.

It runs on its own port (METRICS_PORT) so that scrapes never pass the API's auth, admission
control or access log, and the API port never exposes metrics. This is the only telemetry module
that touches aiohttp's server objects.
"""

from __future__ import annotations

from typing import Protocol

from aiohttp import web
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder


class _HasRegistry(Protocol):
    registry: CollectorRegistry


async def start_metrics_listener(
    metrics: _HasRegistry, host: str, port: int
) -> tuple[web.AppRunner, int]:
    """Start serving `metrics.registry`; returns the runner (call `cleanup()`) and the bound port.

    Port 0 binds a free port. The exposition is generated on the event loop, not in a thread:
    the scrape-time collectors read state owned by the loop, and a scrape takes about a
    millisecond.
    """
    registry = metrics.registry

    async def handle_metrics(request: web.Request) -> web.Response:
        # prometheus_client's own negotiation: OpenMetrics when the scraper asks for it (the
        # Prometheus server does), else the classic text format, each with its content type.
        encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
        return web.Response(body=encoder(registry), headers={"Content-Type": content_type})

    app = web.Application()
    app.router.add_get("/metrics", handle_metrics)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    return runner, runner.addresses[0][1]
