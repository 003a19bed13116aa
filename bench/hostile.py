"""`python -m bench.hostile [--out bench-results]`: the gateway's memory under hostile load.

Each scenario runs against a fresh gateway process (its peak RSS is the kernel's VmHWM), with
default limits, and the Bedrock emulator behind it; a few live streams run meanwhile and their
time to first token is recorded:

  (a) image amplification: one request naming 40 distinct ~3.8 MB images served by a local HTTP
      server (allowed by IMAGE_FETCH_ALLOWLIST), then 10 concurrent requests of 4 such images;
  (b) 20 concurrent 20 MB bodies, twice: valid prose (20 MB of text in one message) and 20 MB of
      small JSON objects;
  (c) 1,000 idle or slowloris connections: 400 idle, 300 trickling a head, 300 trickling a body.

Writes `<out>/hostile.json` and prints a markdown table. Not part of `make test`.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Self

import aiohttp
import orjson
from aiohttp import web

from bench.procs import API_KEY, start_emulator, start_gateway, wait_ready

MODEL = "anthropic.claude-3-haiku-20240307-v1:0"
IMAGE_BYTES = 3_800_000
MIB = 1 << 20
HEADERS = {"Authorization": f"Bearer {API_KEY}"}


async def image_server() -> tuple[web.AppRunner, str, dict]:
    blob = b"\x89PNG\r\n\x1a\n" + b"\0" * (IMAGE_BYTES - 8)
    hits = {"n": 0}

    async def image(request: web.Request) -> web.Response:
        hits["n"] += 1
        return web.Response(body=blob, content_type="image/png")

    app = web.Application()
    app.router.add_get("/img/{n}.png", image)
    runner = web.AppRunner(app, handler_cancellation=True)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}", hits  # type: ignore


class LiveStreams:
    """`n` clients streaming completions back to back, in a process of their own (so the load
    this process generates does not delay them); the TTFT of each stream, in ms."""

    def __init__(self, url: str, n: int = 5) -> None:
        self.url, self.n = url, n
        self.ttft_ms: list[float] = []
        self.errors = 0
        context = multiprocessing.get_context("spawn")
        self._stop = context.Event()
        self._results = context.Queue()
        self._proc = context.Process(target=_live_main, args=(url, n, self._stop, self._results),
                                     daemon=True)

    async def __aenter__(self) -> Self:
        self._proc.start()
        await asyncio.sleep(1.0)  # the streams are flowing before the load starts
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._stop.set()
        self.ttft_ms, self.errors = await asyncio.to_thread(self._results.get, True, 60)
        await asyncio.to_thread(self._proc.join, 10)

    def summary(self) -> dict:
        values = sorted(self.ttft_ms)
        if not values:
            return {"streams": 0, "errors": self.errors}
        p99 = values[min(len(values) - 1, int(len(values) * 0.99))]
        return {"streams": len(values), "errors": self.errors,
                "ttft_p50_ms": round(statistics.median(values), 1), "ttft_p99_ms": round(p99, 1),
                "ttft_max_ms": round(values[-1], 1)}


def _live_main(url: str, n: int, stop: Any, results: Any) -> None:
    ttft: list[float] = []
    errors = [0]

    async def client(session: aiohttp.ClientSession) -> None:
        body = {"model": MODEL, "stream": True,
                "messages": [{"role": "user", "content": "live stream [[emu chunks=20]]"}]}
        while not stop.is_set():
            started = time.perf_counter()
            try:
                async with session.post(f"{url}/v1/chat/completions", json=body,
                                        headers=HEADERS) as response:
                    first = True
                    async for line in response.content:
                        if first and line.startswith(b"data: {") and b'"content"' in line:
                            ttft.append((time.perf_counter() - started) * 1000)
                            first = False
                    if response.status != 200:
                        errors[0] += 1
            except aiohttp.ClientError:
                errors[0] += 1

    async def main() -> None:
        async with aiohttp.ClientSession() as session:
            await asyncio.gather(*(client(session) for _ in range(n)))

    asyncio.run(main())
    results.put((ttft, errors[0]))


async def _post(session: aiohttp.ClientSession, url: str, data: bytes) -> int:
    try:
        async with session.post(f"{url}/v1/chat/completions", data=data,
                                headers={**HEADERS, "Content-Type": "application/json"}) as resp:
            await resp.read()
            return resp.status
    except aiohttp.ClientError:
        return 0


def _statuses(values: list[int]) -> dict[str, int]:
    out: dict[str, int] = {}
    for v in values:
        out[str(v)] = out.get(str(v), 0) + 1
    return out


async def scenario_images(url: str, images_url: str, hits: dict) -> dict:
    result: dict = {}
    parts = [{"type": "text", "text": "describe [[emu chunks=3]]"}]
    forty = parts + [{"type": "image_url", "image_url": {"url": f"{images_url}/img/{n}.png"}}
                     for n in range(40)]
    body = orjson.dumps({"model": MODEL, "messages": [{"role": "user", "content": forty}]})
    async with aiohttp.ClientSession() as session:
        result["forty_images_status"] = await _post(session, url, body)
        result["forty_images_fetches"] = hits["n"]
        bodies = [orjson.dumps({"model": MODEL, "messages": [{"role": "user", "content": parts + [
            {"type": "image_url", "image_url": {"url": f"{images_url}/img/{k}-{n}.png"}}
            for n in range(4)]}]}) for k in range(10)]
        statuses = await asyncio.gather(*(_post(session, url, b) for b in bodies))
    result["ten_requests_of_four_images"] = _statuses(statuses)
    result["fetches_total"] = hits["n"]
    return result


async def scenario_bodies(url: str) -> dict:
    prose = ("The quick brown fox, as ever, jumps over the lazy dog. " * 400_000)[:19_900_000]
    valid = orjson.dumps({"model": MODEL, "max_tokens": 5, "messages": [
        {"role": "user", "content": prose + " [[emu chunks=2]]"}]})
    small = b'{"model": "%s", "messages": [' % MODEL.encode() + b"{}," * 6_600_000 + b"{}]}"
    result: dict[str, object] = {"valid_body_bytes": len(valid),
                                 "small_objects_body_bytes": len(small)}
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=300)) as session:
        for name, data in (("valid_prose", valid), ("small_objects", small)):
            started = time.perf_counter()
            statuses = await asyncio.gather(*(_post(session, url, data) for _ in range(20)))
            result[name] = {"statuses": _statuses(statuses),
                            "seconds": round(time.perf_counter() - started, 1)}
    return result


async def scenario_slowloris(url: str, hold_s: float) -> dict:
    host, port = url.removeprefix("http://").split(":")
    conns: list[tuple[str, asyncio.StreamReader, asyncio.StreamWriter]] = []
    for i in range(1000):
        reader, writer = await asyncio.open_connection(host, int(port))
        kind = "idle" if i < 400 else "head" if i < 700 else "body"
        if kind == "body":
            writer.write(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: "
                         b"Bearer " + API_KEY.encode() + b"\r\nContent-Length: 1000000\r\n\r\n{")
        elif kind == "head":
            writer.write(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        conns.append((kind, reader, writer))
    opened = time.monotonic()
    closed_at: dict[int, float] = {}
    while time.monotonic() - opened < hold_s:
        for i, (kind, reader, writer) in enumerate(conns):
            if i in closed_at:
                continue
            if reader.at_eof() or writer.is_closing():
                closed_at[i] = time.monotonic() - opened
                continue
            if kind != "idle":
                try:
                    writer.write(b"a")
                except (ConnectionError, RuntimeError):
                    closed_at[i] = time.monotonic() - opened
        await asyncio.sleep(1.0)
        for i, (_, reader, _) in enumerate(conns):  # drain what the server sent (408s)
            if i not in closed_at and reader._buffer:  # type: ignore[attr-defined]
                reader._buffer.clear()  # type: ignore[attr-defined]
    result = {}
    for kind in ("idle", "head", "body"):
        times = [t for i, t in closed_at.items() if conns[i][0] == kind]
        total = sum(1 for k, _, _ in conns if k == kind)
        result[kind] = {"connections": total, "closed_by_server": len(times),
                        "median_close_s": round(statistics.median(times), 1) if times else None}
    for _, _, writer in conns:
        writer.close()
    return result


async def run(out: Path) -> dict:
    emulator, emulator_url = start_emulator(out, delay_ms=20, chunks=20)
    runner, images_url, hits = await image_server()
    results: dict = {"limits": "defaults, except KEEPALIVE_TIMEOUT_SECONDS=15 and "
                               "REQUEST_BODY_TIMEOUT_SECONDS=15 in (c)"}
    try:
        for name, extra in (("a_images", {"IMAGE_FETCH_ALLOWLIST": "127.0.0.1/32"}),
                            ("b_bodies", {}),
                            ("c_slowloris", {"KEEPALIVE_TIMEOUT_SECONDS": "15",
                                             "REQUEST_BODY_TIMEOUT_SECONDS": "15"})):
            print(f"[hostile] {name} ...", file=sys.stderr, flush=True)
            gateway, url, _ = start_gateway(out, f"hostile-{name}", emulator_url,
                                            telemetry=False, extra_env=extra)
            try:
                wait_ready(gateway, f"{url}/ready")
                baseline = gateway.rss()
                async with LiveStreams(url) as live:
                    if name == "a_images":
                        detail = await scenario_images(url, images_url, hits)
                    elif name == "b_bodies":
                        detail = await scenario_bodies(url)
                    else:
                        detail = await scenario_slowloris(url, hold_s=25)
                gateway.check_alive()
                results[name] = {
                    "baseline_rss_mib": round(baseline / MIB, 1),
                    "peak_rss_mib": round((gateway.peak_rss_kernel() or 0) / MIB, 1),
                    "live_streams": live.summary(), **detail}
            finally:
                gateway.stop()
    finally:
        await runner.cleanup()
        emulator.stop()
    (out / "hostile.json").write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2))
    return results


def table(results: dict) -> str:
    rows = ["| scenario | peak RSS (MiB) | baseline (MiB) | live streams TTFT p50 / p99 (ms) |",
            "|---|---|---|---|"]
    for name in ("a_images", "b_bodies", "c_slowloris"):
        r = results.get(name, {})
        live = r.get("live_streams", {})
        rows.append(f"| {name} | {r.get('peak_rss_mib')} | {r.get('baseline_rss_mib')} | "
                    f"{live.get('ttft_p50_ms')} / {live.get('ttft_p99_ms')} |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.hostile", description=__doc__)
    parser.add_argument("--out", default="bench-results")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results = asyncio.run(run(out))
    print(table(results))
    print(orjson.dumps(results, option=orjson.OPT_INDENT_2).decode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
