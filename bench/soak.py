"""`python -m bench.soak` (`make soak`): the fault soak. A gateway and the emulator run as
subprocesses; this process keeps `--concurrency` clients busy for `--duration` seconds with the
seeded mix of `soak_mix.py` (normal streams and calls, throttles in one region and in all, Bedrock
5xx, mid-stream errors, stalls, client disconnects, malformed bodies), and classifies every
request (`soak_client.py`). It samples the gateway's RSS and open fds, checks that no Bedrock
stream is left open and that the gateway is healthy afterwards, prints a table and writes JSON.
Exit status 0 only when every target is met.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import threading
import time
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path

import aiohttp
import orjson
import psutil

from bench.procs import API_KEY, Child, start_emulator, start_gateway, wait_ready
from bench.soak_client import CLASSES, run_one
from bench.soak_mix import (
    EAST_THROTTLE_RULE,
    IDLE_TIMEOUT_S,
    MODELS,
    Planned,
    plan_request,
)
from bench.soak_report import print_report, verdict

REGIONS = {1: "us-east-1", 2: "us-east-1,us-west-2"}


@dataclass
class SoakOptions:
    concurrency: int = 1000
    duration_s: float = 600.0
    regions: int = 2
    seed: int = 7
    out: Path = Path("bench-results")
    idle_timeout_s: float = IDLE_TIMEOUT_S  # the gateway's STREAM_IDLE_TIMEOUT; hung = 2x this

    @property
    def warmup_s(self) -> float:
        return min(60.0, self.duration_s / 2)  # a short run is mostly warm-up


@dataclass
class Sampler:
    """RSS and open fds of the gateway, every second, on a thread (the loop may be busy)."""

    child: Child
    samples: list[tuple[float, int, int]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def sample(self) -> tuple[int, int]:
        return self.child.rss(), self.child.ps.num_fds()

    def _run(self, started: float) -> None:
        while not self._stop.is_set():
            try:
                rss, fds = self.sample()
            except psutil.Error:
                return
            self.samples.append((round(time.monotonic() - started, 1), rss, fds))
            self._stop.wait(1.0)

    def start(self) -> None:
        threading.Thread(target=self._run, args=(time.monotonic(),), daemon=True).start()

    def stop(self) -> None:
        self._stop.set()


async def _json(session: aiohttp.ClientSession, method: str, url: str, **kw) -> dict:
    async with session.request(method, url, **kw) as response:
        response.raise_for_status()
        return orjson.loads(await response.read())


async def _drive(options: SoakOptions, url: str,
                 headers: dict) -> tuple[dict, list[dict], dict[str, int]]:
    """The load itself: `concurrency` workers until the duration is over."""
    counts: dict[str, Counter] = defaultdict(Counter)
    latencies: dict[str, list[float]] = defaultdict(list)
    problems: list[dict] = []
    kept: Counter = Counter()  # problems kept per (kind, class): every sort is shown
    wrong: Counter = Counter()  # what the wrong answers were, all of them
    deadline = time.monotonic() + options.duration_s
    hang_s = 2 * options.idle_timeout_s
    connector = aiohttp.TCPConnector(limit=0, limit_per_host=0)
    async with aiohttp.ClientSession(connector=connector,
                                     timeout=aiohttp.ClientTimeout(total=None)) as session:
        async def worker(index: int) -> None:
            rng = random.Random(options.seed * 1_000_003 + index)
            number = 0
            while time.monotonic() < deadline:
                planned: Planned = plan_request(rng, index * 1_000_000 + number, options.regions,
                                                options.idle_timeout_s)
                number += 1
                outcome = await run_one(session, url, headers, planned, hang_s)
                counts[outcome.kind][outcome.klass] += 1
                latencies[outcome.kind].append(outcome.latency_s)
                if outcome.klass == "wrong_error":
                    wrong[outcome.detail.split(", got ")[-1]] += 1
                key = (outcome.kind, outcome.klass)
                if outcome.klass not in ("ok", "expected_error") and kept[key] < 10:
                    kept[key] += 1
                    problems.append(asdict(outcome))

        await asyncio.gather(*(worker(i) for i in range(options.concurrency)))
    for kind, values in latencies.items():
        values.sort()
        counts[kind]["p50_s"] = round(values[len(values) // 2], 3)
        counts[kind]["p99_s"] = round(values[min(len(values) - 1, int(len(values) * 0.99))], 3)
    return {kind: dict(c) for kind, c in counts.items()}, problems, dict(wrong)


async def _healthy_after(session: aiohttp.ClientSession, root: str, headers: dict) -> dict:
    checks: dict[str, bool] = {}
    for path in ("/health", "/ready"):
        async with session.get(root + path) as response:
            checks[path] = response.status == 200
    for model in MODELS:
        for stream in (False, True):
            body = {"model": model, "stream": stream,
                    "messages": [{"role": "user", "content": "after the soak [[emu chunks=3]]"}]}
            async with session.post(root + "/api/v1/chat/completions", json=body,
                                    headers=headers) as response:
                data = await response.read()
                checks[f"{model} stream={stream}"] = response.status == 200 and (
                    not stream or data.rstrip().endswith(b"data: [DONE]"))
    return checks


async def _wait_for(predicate, timeout_s: float, interval_s: float = 0.5):
    deadline = time.monotonic() + timeout_s
    while True:
        value = await predicate()
        if value[0] or time.monotonic() >= deadline:
            return value[1]
        await asyncio.sleep(interval_s)


async def run_soak(options: SoakOptions) -> dict:
    out = options.out
    out.mkdir(parents=True, exist_ok=True)
    emulator, emulator_url = start_emulator(out, delay_ms=0, chunks=8)
    children = [emulator]
    try:
        gateway, root, _ = start_gateway(out, f"soak-gateway-{options.regions}r", emulator_url,
                                         telemetry=False, extra_env={
            "BEDROCK_REGIONS": REGIONS[options.regions],
            "STREAM_IDLE_TIMEOUT": str(options.idle_timeout_s),
            "SSE_HEARTBEAT_SECONDS": str(min(15.0, options.idle_timeout_s / 4)),
            "MAX_CONCURRENT_REQUESTS": str(options.concurrency + 200),
            "MAX_STREAMS_PER_REGION": str(options.concurrency + 100),
        })
        children.append(gateway)
        wait_ready(gateway, root + "/ready")
        return await _soak(options, emulator, emulator_url, gateway, root)
    finally:
        for child in reversed(children):
            child.stop()


def _cpu(children: dict[str, Child]) -> dict[str, float]:
    times = {name: child.cpu_seconds() for name, child in children.items()}
    own = psutil.Process().cpu_times()
    times["load generator"] = own.user + own.system
    return times


async def _soak(options: SoakOptions, emulator: Child, emulator_url: str, gateway: Child,
                root: str) -> dict:
    headers = {"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"}
    control = emulator_url + "/_emulator"
    async with aiohttp.ClientSession() as session:
        await _json(session, "POST", control + "/faults", json=EAST_THROTTLE_RULE)
        await _healthy_after(session, root, headers)  # warms the pools the baseline includes
    await asyncio.sleep(1.0)
    sampler = Sampler(gateway)
    rss_before, fds_before = sampler.sample()
    sampler.start()
    started = time.monotonic()
    processes = {"gateway": gateway, "emulator": emulator}
    cpu_before = _cpu(processes)
    counts, problems, wrong = await _drive(options, root + "/api/v1/chat/completions", headers)
    load_s = time.monotonic() - started
    cpu_used = {k: round(v - cpu_before[k], 1) for k, v in _cpu(processes).items()}
    under_load = [s for s in sampler.samples if s[0] <= load_s]
    async with aiohttp.ClientSession() as session:
        async def no_open_streams():
            stats = await _json(session, "GET", control + "/stats")
            return stats["open_streams"] == 0, stats["open_streams"]

        left_open = await _wait_for(no_open_streams, 2 * options.idle_timeout_s)
        health = await _healthy_after(session, root, headers)

    async def fds_back():
        fds = gateway.ps.num_fds()
        return fds <= fds_before, fds

    fds_after = await _wait_for(fds_back, 60.0, 1.0)
    sampler.stop()
    warm = [s for s in under_load if s[0] >= options.warmup_s] or under_load
    result = {
        "options": {"concurrency": options.concurrency, "duration_s": options.duration_s,
                    "regions": options.regions, "seed": options.seed,
                    "idle_timeout_s": options.idle_timeout_s},
        "load_seconds": round(load_s, 1),
        "cpu_seconds": cpu_used,
        "machine": {"cpus": psutil.cpu_count(), "load_average_1m": psutil.getloadavg()[0]},
        "counts": counts,
        "totals": {k: sum(c.get(k, 0) for c in counts.values()) for k in CLASSES},
        "latency_s": {k: {"p50": c.pop("p50_s"), "p99": c.pop("p99_s")}
                      for k, c in counts.items()},
        "problems": problems,
        "wrong_answers": wrong,
        "bedrock_streams_left_open": left_open,
        "healthy_after": health,
        "rss_before": rss_before, "rss_warm": warm[0][1], "rss_end": warm[-1][1],
        "rss_peak": max(s[1] for s in under_load),
        "rss_growth_after_warmup": round(warm[-1][1] / warm[0][1] - 1, 4),
        "fds_before": fds_before, "fds_peak": max(s[2] for s in under_load),
        "fds_after": fds_after,
        "samples": sampler.samples,
    }
    result["requests"] = sum(result["totals"].values())
    result["verdict"] = verdict(result)
    return result


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.soak",
                                     description="Fault soak of the gateway on its emulator.")
    parser.add_argument("--concurrency", type=int, default=1000)
    parser.add_argument("--duration", type=float, default=600.0, help="seconds of load")
    parser.add_argument("--regions", default="1,2",
                        help="comma list of region counts to soak, one after the other (1 or 2)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--idle-timeout", type=float, default=IDLE_TIMEOUT_S,
                        help="the gateway's STREAM_IDLE_TIMEOUT; no byte for twice this = hung")
    parser.add_argument("--out", default="bench-results")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    failed = False
    for regions in (int(r) for r in args.regions.split(",")):
        if regions not in REGIONS or args.concurrency < 1 or args.duration <= 0:
            print("--regions takes 1 and/or 2; --concurrency >= 1; --duration > 0",
                  file=sys.stderr)
            return 2
        options = SoakOptions(args.concurrency, args.duration, regions, args.seed,
                              Path(args.out), args.idle_timeout)
        result = asyncio.run(run_soak(options))
        path = options.out / f"soak-{regions}-region{'s' if regions > 1 else ''}.json"
        path.write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2))
        print_report(result)
        print(f"written: {path}")
        failed |= not result["verdict"]["passed"]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
