"""The cost of virtual-key enforcement: the same requests with a static key (no checks), a
virtual key in the embedded store, and a virtual key in Redis on loopback (one Lua script per
request to reserve, one to settle). Four fresh gateway processes: the three modes, and a second
static-key gateway, the control, whose difference from the first is the noise floor of the
method (two identical processes, measured the same way).

- added latency: non-stream p50 / p99 at concurrency 1, each mode minus static. The requests are
  interleaved one by one (static, control, embedded, redis, the order rotating every round), so
  every mode sees the same moments of the machine; rounds of hundreds of requests per mode let
  a slow minute of a shared 2-core VM land on one mode only (that gave the embedded store a
  -1.4 ms "added" p50 once);
- added CPU: gateway CPU-seconds per 1,000 streams at concurrency 50 (gateway process only;
  Redis's own CPU is reported beside it), in rounds that alternate the order;
- refused: gateway CPU-seconds per 1,000 requests refused for a key's rpm (a runaway client);
- in-process: the limiter's reserve + settle alone (µs of wall time and of CPU per request).
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

import orjson

from bench.load import closed_loop, sample_percentile
from bench.load_clients import GatewayClient
from bench.plan import NO_PACING, prompt
from bench.procs import API_KEY, Child, free_port, start_gateway, wait_ready

ADMIN_KEY = "bench-admin-0123456789abcdef"
MODES = ("static", "control", "embedded", "redis")
# Limits high enough never to refuse, so every check runs in full.
LIMITS = {"rpm": 10**9, "tpm": 10**12, "max_streams": 10**6}
BUDGET = {"tokens_per_day": 10**12, "tokens_per_month": 10**12}


def start_redis(out: Path) -> tuple[Child, str]:
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not installed: run `make tools`")
    port = free_port()
    log_path = out / "redis.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                 "--appendonly", "no"], stdout=log, stderr=subprocess.STDOUT)
    child = Child("redis", proc, log_path)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as conn:
                conn.sendall(b"PING\r\n")
                if conn.recv(16).startswith(b"+PONG"):
                    return child, f"redis://127.0.0.1:{port}/0"
        except OSError:
            time.sleep(0.05)
    child.stop()
    raise RuntimeError("redis-server did not start")


def create_key(url: str, limits: dict | None = None) -> str:
    body = orjson.dumps({"name": "bench", "team": "bench", "limits": limits or LIMITS,
                         "budget": BUDGET})
    request = urllib.request.Request(f"{url}/admin/v1/keys", data=body, method="POST", headers={
        "Authorization": f"Bearer {ADMIN_KEY}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return orjson.loads(response.read())["key"]


async def limiter_micro(redis_url: str, n: int = 2000) -> dict:
    """reserve + settle in this process, on the real limiters (wall µs p50/p99, CPU µs)."""
    from bedrock_gateway.keys.limiter import MemoryLimiter, Usage
    from bedrock_gateway.keys.model import mint, parse_spec
    from bedrock_gateway.keys.redis_backend import RedisKeys
    from bedrock_gateway.storage.redis_client import open_redis

    record, _ = mint(parse_spec({"name": "micro", "limits": LIMITS, "budget": BUDGET}), None)
    client = open_redis(redis_url, 2.0)
    redis_keys = RedisKeys(client, timeout_s=1.0, admin_timeout_s=2.0, cache_s=1.0)
    await redis_keys.put(record)
    out = {}
    try:
        for name, limiter in (("embedded", MemoryLimiter()), ("redis", redis_keys)):
            walls = []
            cpu_started = time.process_time()
            for _ in range(n):
                started = time.perf_counter()
                decision = await limiter.reserve(record, 1000, True)
                assert decision.reservation is not None, decision
                await limiter.settle(decision.reservation, Usage("m", 10, 20, 0))
                walls.append(time.perf_counter() - started)
            cpu_us = (time.process_time() - cpu_started) / n * 1e6

            async def worker(count: int, limiter=limiter) -> None:
                for _ in range(count):
                    decision = await limiter.reserve(record, 1000, True)
                    await asyncio.sleep(0)
                    assert decision.reservation is not None, decision
                    await limiter.settle(decision.reservation, Usage("m", 10, 20, 0))

            cpu_started = time.process_time()
            await asyncio.gather(*(worker(n // 50) for _ in range(50)))
            await limiter.flush()
            c50_cpu_us = (time.process_time() - cpu_started) / (n // 50 * 50) * 1e6
            out[name] = {"wall_us_p50": round(sample_percentile(walls, 50) * 1e6, 1),
                         "wall_us_p99": round(sample_percentile(walls, 99) * 1e6, 1),
                         "cpu_us": round(cpu_us, 1), "c50_cpu_us": round(c50_cpu_us, 1)}
        # The floor of any Redis round trip on this machine: a bare PING after the pause a
        # request at concurrency 1 leaves between two checks (the CPUs fall idle meanwhile).
        walls = []
        for _ in range(n // 4):
            await asyncio.sleep(0.005)
            started = time.perf_counter()
            await client.ping()
            walls.append(time.perf_counter() - started)
        out["ping_after_5ms_idle"] = {"wall_us_p50": round(sample_percentile(walls, 50) * 1e6, 1),
                                      "wall_us_p99": round(sample_percentile(walls, 99) * 1e6, 1)}
    finally:
        await client.aclose()
    return out


async def keys_cost(bench) -> None:
    plan = bench.plan
    redis, redis_url = start_redis(bench.out)
    bench.children.append(redis)
    envs = {"static": {}, "control": {},
            "embedded": {"ADMIN_API_KEY": ADMIN_KEY},
            "redis": {"ADMIN_API_KEY": ADMIN_KEY, "REDIS_URL": redis_url}}
    gateways = {}
    try:
        for mode in MODES:
            child, url, _ = start_gateway(bench.out, f"gateway-keys-{mode}", bench.emulator_url,
                                          telemetry=True, extra_env=envs[mode])
            bench.children.append(child)
            gateways[mode] = (child, url)
        keys = {}
        for mode, (child, url) in gateways.items():
            wait_ready(child, url + "/ready")
            keys[mode] = API_KEY if mode in ("static", "control") else create_key(url)
        latencies: dict[str, list[float]] = {m: [] for m in MODES}
        cpu: dict[str, list[float]] = {m: [] for m in MODES}
        errors = 0
        redis_cpu_before = redis.cpu_seconds()
        async with contextlib.AsyncExitStack() as stack:
            clients = {mode: await stack.enter_async_context(GatewayClient(url, keys[mode]))
                       for mode, (_, url) in gateways.items()}
            for client in clients.values():
                await closed_loop(lambda i, c=client: c.chat(prompt(i) + NO_PACING),
                                  plan.warmup, 4, 30)
            for index in range(plan.keys_nonstream):
                for turn in range(len(MODES)):
                    mode = MODES[(index + turn) % len(MODES)]
                    result = await clients[mode].chat(prompt(index) + NO_PACING)
                    if result.ok:
                        latencies[mode].append(result.latency)
                    else:
                        errors += 1
            rounds = 2 if plan.nonstream < 100 else 4
            for rnd in range(rounds):
                for mode in (MODES if rnd % 2 == 0 else tuple(reversed(MODES))):
                    child = gateways[mode][0]
                    client = clients[mode]
                    before = child.cpu_seconds()
                    results, _ = await closed_loop(lambda i, c=client: c.chat_stream(prompt(i)),
                                                   plan.telemetry_requests, 50,
                                                   plan.phase_timeout)
                    cpu[mode].append((child.cpu_seconds() - before)
                                     / max(1, len(results)) * 1000)
                    errors += sum(1 for r in results if not r.ok)
            refused = await _refused_cpu(gateways, plan.telemetry_requests)
        redis_cpu = redis.cpu_seconds() - redis_cpu_before
    finally:
        for child, _ in gateways.values():
            child.stop()
        redis.stop()
    result: dict = {"errors": errors, "rounds": rounds, "modes": {}}
    base: dict[str, Any] | None = None
    for mode in MODES:
        p50 = sample_percentile(latencies[mode], 50) * 1000
        p99 = sample_percentile(latencies[mode], 99) * 1000
        cpu_1000 = sample_percentile(cpu[mode], 50)
        entry: dict[str, Any] = {"latency_ms": {"p50": round(p50, 3), "p99": round(p99, 3),
                                "n": len(latencies[mode])},
                 "cpu_s_per_1000_streams": round(cpu_1000, 3), "cpu_runs": cpu[mode]}
        if base is None:
            base = entry
        else:
            entry["added_ms"] = {"p50": round(p50 - base["latency_ms"]["p50"], 3),
                                 "p99": round(p99 - base["latency_ms"]["p99"], 3)}
            entry["added_cpu_pct"] = round((cpu_1000 - base["cpu_s_per_1000_streams"])
                                           / base["cpu_s_per_1000_streams"] * 100, 1)
        result["modes"][mode] = entry
    result["redis_server_cpu_s"] = round(redis_cpu, 3)
    result["refused"] = refused
    bench.results["keys"] = result
    bench.results["keys"]["limiter_micro"] = await _micro(bench.out)


async def _refused_cpu(gateways: dict[str, tuple[Child, str]], n: int) -> dict:
    """Gateway CPU-seconds per 1,000 requests refused for a key's rpm (a key over its limit,
    hammered at concurrency 10), per virtual-key mode: what a runaway client costs."""
    out = {}
    for mode in ("embedded", "redis"):
        child, url = gateways[mode]
        key = create_key(url, {"rpm": 1})
        async with GatewayClient(url, key) as client:
            first = await client.chat(prompt(0) + NO_PACING)
            assert first.ok, first.error
            before = child.cpu_seconds()
            results, _ = await closed_loop(lambda i, c=client: c.chat(prompt(i) + NO_PACING),
                                           n, 10, 120)
            cpu_s = child.cpu_seconds() - before
        wrong = sum(1 for r in results if not (r.error or "").startswith("HTTP 429"))
        out[mode] = {"cpu_s_per_1000": round(cpu_s / max(1, len(results)) * 1000, 3),
                     "requests": len(results), "not_429": wrong}
    return out


async def _micro(out: Path) -> dict:
    redis, url = start_redis(out)
    try:
        return await limiter_micro(url)
    finally:
        redis.stop()
