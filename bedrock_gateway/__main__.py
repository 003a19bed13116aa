"""`python -m bedrock_gateway`: serve the API (and metrics) until SIGTERM, then drain gracefully.

Shutdown sequence: SIGTERM -> /ready fails at once, new requests are still served for
DRAIN_DELAY_SECONDS (the load balancer's deregistration) -> the listener closes -> live streams
get SHUTDOWN_GRACE_SECONDS to finish, the rest end with an SSE error event -> clients closed ->
exit 0.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import signal
import sys

from aiohttp import web

from bedrock_gateway import __version__
from bedrock_gateway.server import app_state
from bedrock_gateway.server.gateway_app import create_app
from bedrock_gateway.server.app_state import LIFECYCLE
from bedrock_gateway.server.protocol import GatewayRunner, runner_options
from bedrock_gateway.settings import Settings, SettingsError
from bedrock_gateway.settings_report import effective_config_yaml, startup_summary
from bedrock_gateway.settings_sources import ignored_incumbent_settings
from bedrock_gateway.settings_table import help_text
from bedrock_gateway.telemetry.log_format import log_handler

log = logging.getLogger("bedrock_gateway")


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bedrock-gateway",
        description="OpenAI-compatible gateway to Amazon Bedrock: serves the API (and metrics)"
                    " until SIGTERM, then drains gracefully.",
        epilog=help_text(), formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", help="listen address (env HOST, default 0.0.0.0)")
    parser.add_argument("--port", type=int, help="API port (env PORT, default 8000)")
    parser.add_argument("--metrics-port", type=int,
                        help="Prometheus port, 0 = off (env METRICS_PORT, default 9464)")
    parser.add_argument("--version", action="version", version=f"bedrock-gateway {__version__}")
    parser.add_argument("--print-config", action="store_true",
                        help="print the effective settings as a GATEWAY_CONFIG_FILE (secrets "
                             "redacted) and exit; exit status 2 when they are invalid")
    return parser.parse_args(argv)


def configure_logging(settings: Settings) -> None:
    level = logging.DEBUG if settings.debug else getattr(logging, settings.log_level.upper())
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    root.addHandler(log_handler(settings.log_format, sys.stderr))
    root.setLevel(level)
    # botocore's debug output includes request headers and bodies (prompts): keep it quiet.
    for noisy in ("botocore", "aiobotocore", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


async def serve(settings: Settings) -> None:
    app = create_app(settings)
    runner = GatewayRunner(app, **runner_options(settings))
    try:
        await runner.setup()
        site = web.TCPSite(runner, settings.host, settings.port, backlog=1024)
        await site.start()
    except BaseException:
        # Close what start-up already opened (clients, the image fetch session, tasks), also
        # when the port cannot be bound.
        await runner.cleanup()
        raise
    # What start-up built (botocore's service models, the app, the catalog) lives as long as
    # the process: frozen, the collector never walks it again, so a full collection takes
    # about 1 ms instead of about 100 ms (docs/benchmark.md) and stalls no stream.
    gc.collect()
    gc.freeze()
    log.info("start-up objects frozen for the garbage collector: %d", gc.get_freeze_count())
    log.info("%s", startup_summary(settings, __version__,
                                   metrics_port=app[app_state.TELEMETRY].metrics_port))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("shutdown requested: not ready; draining for %.0f s", settings.drain_delay_seconds)
    app[LIFECYCLE].draining = True
    await asyncio.sleep(settings.drain_delay_seconds)
    await runner.cleanup()
    log.info("bedrock-gateway stopped")


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    overrides = {k: v for k, v in (("host", args.host), ("port", args.port),
                                    ("metrics_port", args.metrics_port)) if v is not None}
    try:
        settings = Settings.from_env(**overrides)
        if args.print_config:
            print(effective_config_yaml(settings), end="")
            return 0
        if not settings.has_key_source():
            raise SettingsError(
                "No API key source is configured. Set API_KEY (or OPENAI_API_KEY), API_KEY_FILE,"
                " API_KEY_SECRET_ARN or API_KEY_PARAM_NAME; the gateway never runs without one.")
    except SettingsError as exc:
        print(f"bedrock-gateway: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings)
    for name, why in ignored_incumbent_settings(os.environ).items():
        log.warning("%s is set but not used by this gateway: %s", name, why)
    try:
        asyncio.run(serve(settings))
    except SettingsError as exc:  # found while building the app (e.g. MODEL_ALIASES_FILE)
        print(f"bedrock-gateway: {exc}", file=sys.stderr)
        return 2
    except (RuntimeError, OSError) as exc:  # start-up failures (key sources, bind) with reason
        print(f"bedrock-gateway: cannot start: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
