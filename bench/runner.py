"""Orchestration: start the emulator and the gateway, run every phase (each isolated: a failure
is recorded and the run goes on), write bench.json, print the table, stop every child."""

from __future__ import annotations

import asyncio
import datetime
import os
import platform
import sys
import time
import traceback
from pathlib import Path

import aiohttp
import orjson

from bench import keys_cost, phases
from bench.load_clients import EmulatorControl, FloorClient, GatewayClient
from bench.plan import DEFAULT, EMULATOR_CHUNKS, EMULATOR_DELAY_MS, QUICK
from bench.procs import API_KEY, aws_env, start_emulator, start_gateway, wait_ready
from bench.profiling import format_profile, profile
from bench.report import table


def environment() -> dict:
    import aiobotocore
    import aiohttp as aiohttp_mod
    import botocore

    return {"python": sys.version.split()[0], "implementation": platform.python_implementation(),
            "platform": platform.platform(), "cpu_count": os.cpu_count(),
            "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "aiohttp": aiohttp_mod.__version__, "botocore": botocore.__version__,
            "aiobotocore": aiobotocore.__version__}


async def _phase(bench: phases.Bench, name: str, coro_fn, *args) -> None:
    started = time.perf_counter()
    print(f"[bench] {name} ...", file=sys.stderr, flush=True)
    try:
        for child in (bench.emulator, bench.gateway_child):
            child.check_alive()
        await coro_fn(bench, *args)
    except Exception as exc:  # noqa: BLE001 - one failing phase must not lose the others
        bench.results.setdefault("phase_errors", {})[name] = (
            f"{type(exc).__name__}: {exc}"[:2000])
        traceback.print_exc(file=sys.stderr)
    print(f"[bench] {name} done in {time.perf_counter() - started:.1f} s", file=sys.stderr,
          flush=True)


async def run(out: Path, quick: bool, with_profile: bool, only: str | None = None) -> dict:
    plan = QUICK if quick else DEFAULT
    started = time.perf_counter()
    results: dict = {"environment": environment(), "quick": quick, "plan": plan.as_dict(),
                     "emulator": {"delay_ms": EMULATOR_DELAY_MS, "chunks": EMULATOR_CHUNKS}}
    children = []
    try:
        emulator, emulator_url = start_emulator(out, EMULATOR_DELAY_MS, EMULATOR_CHUNKS)
        children.append(emulator)
        os.environ.update(aws_env(emulator_url))  # the floor client reaches the emulator this way
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_BEARER_TOKEN_BEDROCK"):
            os.environ.pop(name, None)
        gateway_child, url, metrics_port = start_gateway(out, "gateway", emulator_url,
                                                         telemetry=True)
        children.append(gateway_child)
        results["gateway_ready_s"] = round(wait_ready(gateway_child, url + "/ready"), 2)
        async with aiohttp.ClientSession() as control_session, FloorClient() as floor, \
                GatewayClient(url, API_KEY) as gateway:
            bench = phases.Bench(plan, out, emulator, emulator_url,
                                 EmulatorControl(control_session, emulator_url), floor, gateway,
                                 gateway_child, children, results)
            await bench.control.clear_faults()
            if only == "keys":
                await _phase(bench, "keys", keys_cost.keys_cost)
                return results
            if only == "micro":
                await _phase(bench, "micro", phases.micro)
                return results
            await _phase(bench, "warmup", phases.warmup)
            await _phase(bench, "nonstream_c1", phases.nonstream_c1)
            await _phase(bench, "stream_c1", phases.stream, 1, plan.stream_c1)
            await _phase(bench, "stream_c50", phases.stream, 50, plan.stream_c50)
            await _phase(bench, "responses_stream", phases.responses_vs_chat)
            await _phase(bench, "messages_stream_c1", phases.messages_stream, 1, plan.stream_c1)
            await _phase(bench, "messages_stream_c50", phases.messages_stream, 50,
                         plan.stream_c50)
            await _phase(bench, "messages_vs_chat_ttft", phases.messages_vs_chat_ttft)
            await _phase(bench, "translation", phases.translation)
            await _phase(bench, "micro", phases.micro)
            if with_profile:  # before the bursts below, which change the gateway's state
                await _phase(bench, "profile", profile)
            await _phase(bench, "stream_c500", phases.stream, 500, plan.stream_c500)
            await _phase(bench, "stream_c1000", phases.stream_c1000)
            await _phase(bench, "stream_c50_after_burst", phases.stream_c50_after_burst)
            await _phase(bench, "telemetry", phases.telemetry_cost)
            await _phase(bench, "keys", keys_cost.keys_cost)
            await _phase(bench, "embeddings", phases.embeddings)
            await _phase(bench, "failover", phases.failover)
            if metrics_port:
                async with control_session.get(f"http://127.0.0.1:{metrics_port}/metrics") as resp:
                    results["metrics_endpoint_status"] = resp.status
    finally:
        for child in reversed(children):
            child.stop()
        results["duration_s"] = round(time.perf_counter() - started, 1)
        (out / "bench.json").write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2))
    return results


def main(out: str, quick: bool, with_profile: bool, only: str | None = None) -> int:
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    results = asyncio.run(run(out_dir, quick, with_profile, only))
    extra = (lambda r: format_profile(r["profile"])) if "profile" in results else None
    print(table(results, extra))
    errors = results.get("phase_errors")
    if errors:
        print("\nPhases that failed:")
        for name, error in errors.items():
            print(f"- {name}: {error.splitlines()[0]}")
    print(f"\nTotal run time {results['duration_s']} s; details in {out}/bench.json")
    return 1 if errors else 0
