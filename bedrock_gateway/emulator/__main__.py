"""`python -m bedrock_gateway.emulator`: the Bedrock wire emulator as a process.

Prints `emulator listening on http://HOST:PORT` (flushed) once it accepts connections, and stops
cleanly on SIGINT/SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Sequence

from bedrock_gateway.emulator.emulated_models import default_catalog, load_catalog
from bedrock_gateway.emulator.config import EmulatorConfig
from bedrock_gateway.emulator.server import start_emulator

__all__ = ["main", "start_emulator"]


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bedrock_gateway.emulator",
                                     description="Amazon Bedrock wire-protocol emulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=4010, help="0 picks a free port")
    parser.add_argument("--delay-ms", type=float, default=0.0,
                        help="default pause between stream events")
    parser.add_argument("--chunks", type=int, default=8, help="default text chunks per reply")
    parser.add_argument("--default-region", default="us-east-1",
                        help="region of requests without SigV4")
    parser.add_argument("--catalog", help="JSON or YAML catalog replacing the bundled one")
    parser.add_argument("--profiles-page-size", type=int, default=10)
    return parser.parse_args(argv)


async def serve(args: argparse.Namespace) -> None:
    config = EmulatorConfig(
        default_region=args.default_region, delay_ms=args.delay_ms, chunks=args.chunks,
        catalog=load_catalog(args.catalog) if args.catalog else default_catalog(),
        profiles_page_size=args.profiles_page_size)
    runner, base_url = await start_emulator(config, args.host, args.port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    print(f"emulator listening on {base_url}", flush=True)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.chunks < 1:
        print("--chunks must be >= 1", file=sys.stderr)
        return 2
    asyncio.run(serve(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
