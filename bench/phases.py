"""The measurements. Each phase fills one key of `bench.results`; the runner isolates phases so a
failing one is recorded and the others still run."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench.load import Call, closed_loop, median, sample_percentile, summarize
from bench.load_clients import EmulatorControl, FloorClient, GatewayClient, Result
from bench.plan import NO_PACING, Plan, prompt
from bench.procs import API_KEY, Child, RssSampler, start_gateway, wait_ready

MIB = 1024 * 1024
THROTTLE_EAST = {"region": "us-east-1", "operation": "converse", "error": "ThrottlingException"}


@dataclass
class Bench:
    plan: Plan
    out: Path
    emulator: Child
    emulator_url: str
    control: EmulatorControl
    floor: FloorClient
    gateway: GatewayClient
    gateway_child: Child
    children: list[Child]
    results: dict = field(default_factory=dict)


def each_prompt(call: Callable[[str], Awaitable[Result]]) -> Call:
    """`call` as a load-loop call: request i sends prompt(i)."""
    return lambda i: call(prompt(i))


async def measure(bench: Bench, call: Call, n: int, concurrency: int,
                  cpu_of: Child | None = None) -> dict:
    """One closed-loop run; with `cpu_of`, that process's CPU-seconds over the run."""
    emulator_cpu = bench.emulator.cpu_seconds()
    cpu_before = cpu_of.cpu_seconds() if cpu_of is not None else 0.0
    results, wall = await closed_loop(call, n, concurrency, bench.plan.phase_timeout)
    stats = summarize(results, n, concurrency, wall)
    if cpu_of is not None:
        stats.cpu_s = cpu_of.cpu_seconds() - cpu_before
    data = stats.as_dict()
    data["emulator_cpu_s"] = round(bench.emulator.cpu_seconds() - emulator_cpu, 3)
    return data


async def warmup(bench: Bench, gateway: GatewayClient | None = None, floor: bool = True) -> None:
    gateway = gateway or bench.gateway
    n = bench.plan.warmup
    if floor:
        await closed_loop(lambda i: bench.floor.converse(prompt(i) + NO_PACING), n, 4, 30)
        await closed_loop(lambda i: bench.floor.converse_stream(prompt(i)), n, 4, 30)
    await closed_loop(lambda i: gateway.chat(prompt(i) + NO_PACING), n, 4, 30)
    await closed_loop(lambda i: gateway.chat_stream(prompt(i)), n, 4, 30)
    await closed_loop(lambda i: gateway.messages_stream(prompt(i)), n, 4, 30)
    if floor:
        await closed_loop(lambda i: bench.floor.invoke_stream(prompt(i)), n, 4, 30)


async def nonstream_c1(bench: Bench) -> None:
    n = bench.plan.nonstream
    floor = await measure(bench, lambda i: bench.floor.converse(prompt(i) + NO_PACING), n, 1)
    gateway = await measure(bench, lambda i: bench.gateway.chat(prompt(i) + NO_PACING), n, 1)
    bench.results["nonstream_c1"] = {"floor": floor, "gateway": gateway}


async def stream(bench: Bench, concurrency: int, n: int) -> None:
    floor = await measure(bench, lambda i: bench.floor.converse_stream(prompt(i)), n, concurrency)
    gateway = await measure(bench, lambda i: bench.gateway.chat_stream(prompt(i)), n, concurrency,
                            cpu_of=bench.gateway_child)
    bench.results[f"stream_c{concurrency}"] = {"floor": floor, "gateway": gateway}


async def messages_stream(bench: Bench, concurrency: int, n: int) -> None:
    """The Anthropic Messages API, streamed, on the chat workload (same model, prompts, 30
    chunks): the floor is InvokeModelWithResponseStream with the Anthropic body, which the
    gateway calls for Claude models."""
    floor = await measure(bench, lambda i: bench.floor.invoke_stream(prompt(i)), n, concurrency)
    gateway = await measure(bench, lambda i: bench.gateway.messages_stream(prompt(i)), n,
                            concurrency, cpu_of=bench.gateway_child)
    bench.results[f"messages_stream_c{concurrency}"] = {"floor": floor, "gateway": gateway}


async def translation(bench: Bench) -> None:
    """Per-stream protocol CPU in-process (see bench/translation.py): noise-free comparison."""
    from bench.translation import translation_cpu_per_stream

    bench.results["translation"] = translation_cpu_per_stream()


async def micro(bench: Bench) -> None:
    """Per-call costs of three hot paths in-process (see bench/micro_costs.py)."""
    from bench.micro_costs import micro_costs

    bench.results["micro"] = micro_costs()


async def stream_c1000(bench: Bench) -> None:
    n = bench.plan.stream_c1000
    child = bench.gateway_child
    with RssSampler(child, 0.05) as sampler:
        await asyncio.sleep(0.1)
        before = sampler.peak
        gateway = await measure(bench, lambda i: bench.gateway.chat_stream(prompt(i)), n, n,
                                cpu_of=child)
    bench.results["stream_c1000"] = {
        "gateway": gateway, "rss_before_mib": round(before / MIB, 1),
        "peak_rss_mib": round(sampler.peak / MIB, 1), "rss_samples": sampler.samples,
        "vmhwm_mib": round((child.peak_rss_kernel() or 0) / MIB, 1),
        "rss_after_mib": round(child.rss() / MIB, 1)}


async def stream_c50_after_burst(bench: Bench) -> None:
    """The concurrency-50 gateway run again, after the 1,000-stream burst (same process)."""
    bench.results["stream_c50_after_burst"] = {"gateway": await measure(
        bench, lambda i: bench.gateway.chat_stream(prompt(i)), bench.plan.stream_c50, 50,
        cpu_of=bench.gateway_child)}


async def responses_vs_chat(bench: Bench) -> None:
    """Streamed Responses API vs chat completions on the same gateway: CPU per 1,000 streams at
    concurrency 50 (runs interleaved chat, responses, responses, chat, so neither always runs
    first) and TTFT at concurrency 1 (the floor's TTFT measured alongside, for the overhead)."""
    gateway, child, plan = bench.gateway, bench.gateway_child, bench.plan
    calls = {"chat": gateway.chat_stream, "responses": gateway.responses_stream}
    await closed_loop(lambda i: gateway.responses_stream(prompt(i)), plan.warmup, 4, 30)
    runs = []
    for order in (("chat", "responses"), ("responses", "chat")):
        for api in order:
            data = await measure(bench, each_prompt(calls[api]),
                                 plan.stream_c50, 50, cpu_of=child)
            runs.append({"api": api, **data})
    ttft = {"floor": await measure(bench, lambda i: bench.floor.converse_stream(prompt(i)),
                                   plan.stream_c1, 1)}
    for api, call in calls.items():
        ttft[api] = await measure(bench, each_prompt(call), plan.stream_c1, 1)
    cpu = {api: sample_percentile([r["cpu_s_per_1000"] for r in runs if r["api"] == api], 50)
           for api in calls}
    overhead = {api: round(ttft[api]["ttft_ms"]["p50"] - ttft["floor"]["ttft_ms"]["p50"], 3)
                for api in calls}
    bench.results["responses_stream"] = {
        "runs": runs, "ttft_c1": ttft, "cpu_s_per_1000": cpu,
        "cpu_diff_pct": round((cpu["responses"] - cpu["chat"]) / cpu["chat"] * 100, 1),
        "ttft_overhead_p50_ms": overhead,
        "errors": sum(r["errors"] + r["incomplete"] for r in runs)}


def telemetry_cpu_per_request(n: int = 20000) -> float:
    """Telemetry's own CPU per streamed request (µs), measured in-process with the real objects:
    the access-log line and every metric a 30-chunk stream records. Unlike the on/off process
    comparison, this figure does not move with the machine's noise."""
    import os
    import time

    from bedrock_gateway.telemetry.access_log import AccessLog
    from bedrock_gateway.telemetry.metrics import GatewayMetrics

    model = "anthropic.claude-3-haiku-20240307-v1:0"
    with open(os.devnull, "w") as sink:
        log = AccessLog(stream=sink)
        metrics = GatewayMetrics("bench")
        metrics.set_known_models([model])
        started = time.process_time()
        for _ in range(n):
            metrics.request_started(False)
            metrics.inflight_streams.inc()
            metrics.bedrock_call(region="us-east-1", operation="converse_stream",
                                 duration_s=0.01, error_code=None)
            timer = metrics.chunk_timer(model)
            for i in range(33):
                timer.tick(i * 0.01)
            timer.close()
            metrics.inflight_streams.dec()
            metrics.request_finished(route="chat", model=model, status=200, error_code=None,
                                     duration_s=0.35, streaming=False)
            metrics.observe_ttft(model, 0.012)
            metrics.record_tokens(model, input=12, output=30)
            log.write({"time": time.time(), "request_id": "0" * 32, "client": "127.0.0.1",
                       "method": "POST", "path": "/api/v1/chat/completions", "status": 200,
                       "model": model, "region": "us-east-1", "stream": True,
                       "duration_ms": 350.0, "ttft_ms": 12.0, "tokens_in": 12, "tokens_out": 30,
                       "bytes_sent": 9000, "error_code": None, "trace_id": None,
                       "user_agent": "bench"})
        return round((time.process_time() - started) / n * 1e6, 2)


async def telemetry_cost(bench: Bench) -> None:
    """CPU per 1,000 streams, telemetry on vs off: two fresh gateway processes with the same
    history (the main gateway has served the 1,000-stream burst, which raises its CPU per stream
    afterwards), loaded in turn: on, off, on, off, ..."""
    started = []
    try:
        for mode in ("on", "off"):
            child, url, _ = start_gateway(bench.out, f"gateway-telemetry-{mode}",
                                          bench.emulator_url, telemetry=mode == "on")
            bench.children.append(child)
            started.append((mode, child, url))
        async with GatewayClient(started[0][2], API_KEY) as on_client, \
                GatewayClient(started[1][2], API_KEY) as off_client:
            targets = {"on": (on_client, started[0][1]), "off": (off_client, started[1][1])}
            for mode, child, url in started:
                wait_ready(child, url + "/ready")
                await warmup(bench, targets[mode][0], floor=False)
            runs = []
            for pair in range(bench.plan.telemetry_pairs):
                # ABBA order: neither mode always runs first (warm caches, drifting load).
                for mode in (("on", "off") if pair % 2 == 0 else ("off", "on")):
                    client, proc = targets[mode]
                    data = await measure(bench, each_prompt(client.chat_stream),
                                         bench.plan.telemetry_requests, 50, cpu_of=proc)
                    runs.append({"mode": mode, **data})
    finally:
        for _, child, _ in started:
            child.stop()
    on = median([r["cpu_s_per_1000"] for r in runs if r["mode"] == "on"])
    off = median([r["cpu_s_per_1000"] for r in runs if r["mode"] == "off"])
    micro = telemetry_cpu_per_request()
    bench.results["telemetry"] = {
        "runs": runs, "on_cpu_s_per_1000": on, "off_cpu_s_per_1000": off,
        "micro_us_per_request": micro,
        "micro_pct_of_on": round(micro / (on * 1000) * 100, 2) if on else None,
        "diff_pct": round((on - off) / off * 100, 2) if on and off else None,
        "errors": sum(r["errors"] + r["incomplete"] for r in runs)}


async def embeddings(bench: Bench) -> None:
    texts = [f"Passage {i}: the gateway batches texts for the embedding model, item {i % 13}."
             for i in range(bench.plan.embed_texts)]
    batches = [texts[i:i + 96] for i in range(0, len(texts), 96)]
    floor_ms, gateway_ms, failures = [], [], []
    gateway_cpu = 0.0
    for _ in range(bench.plan.embed_reps):
        cpu_before = bench.gateway_child.cpu_seconds()
        result = await bench.gateway.embed(texts)
        gateway_cpu += bench.gateway_child.cpu_seconds() - cpu_before
        gateway_ms.append(round(result.latency * 1000, 2))
        if not result.ok:
            failures.append(f"gateway: {result.error}")
        started = asyncio.get_running_loop().time()
        parts: list[Result] = await asyncio.gather(*(bench.floor.embed(b) for b in batches))
        floor_ms.append(round((asyncio.get_running_loop().time() - started) * 1000, 2))
        failures.extend(f"floor: {r.error}" for r in parts if not r.ok)
    bench.results["embeddings"] = {
        "texts": len(texts), "batches": len(batches), "floor_ms": floor_ms,
        "gateway_ms": gateway_ms, "floor_median_ms": median(floor_ms),
        "gateway_median_ms": median(gateway_ms), "errors": failures[:10],
        "gateway_cpu_ms_per_request": round(gateway_cpu / bench.plan.embed_reps * 1000, 1),
        "error_count": len(failures)}


async def _sequence(bench: Bench, client: GatewayClient, n: int) -> tuple[dict, list[float]]:
    results, wall = await closed_loop(lambda i: client.chat(prompt(i) + NO_PACING), n, 1,
                                      bench.plan.phase_timeout)
    stats = summarize(results, n, 1, wall).as_dict()
    return stats, [round(r.latency * 1000, 2) for r in results]


async def failover(bench: Bench) -> None:
    """Non-stream latency with us-east-1 throttling `converse`: (a) the main gateway with its
    default throttle backoff (first requests, then steady state with us-east-1 tried after
    us-west-2 for THROTTLE_BACKOFF_SECONDS after each throttle); (b) a gateway without the
    backoff, so every request pays the failover. Throttling never opens a breaker."""
    plan, control = bench.plan, bench.control
    out: dict = {"fault": THROTTLE_EAST}
    baseline, _ = await _sequence(bench, bench.gateway, plan.failover_baseline)
    await control.add_fault(**THROTTLE_EAST)
    try:
        first, first_list = await _sequence(bench, bench.gateway, plan.failover_first)
        steady, _ = await _sequence(bench, bench.gateway, plan.failover_steady)
    finally:
        await control.clear_faults()
    out["backoff_default"] = {"no_fault": baseline, "first_requests": first,
                              "first_latencies_ms": first_list, "steady_state": steady}
    child, url, _ = start_gateway(bench.out, "gateway-failover", bench.emulator_url,
                                  telemetry=True,
                                  extra_env={"THROTTLE_BACKOFF_SECONDS": "0"})
    bench.children.append(child)
    try:
        wait_ready(child, url + "/ready")
        async with GatewayClient(url, API_KEY) as client:
            await warmup(bench, client, floor=False)
            no_fault, _ = await _sequence(bench, client, plan.failover_baseline)
            await control.add_fault(**THROTTLE_EAST)
            try:
                faulted, latencies = await _sequence(bench, client, plan.failover_pure)
            finally:
                await control.clear_faults()
    finally:
        child.stop()
    out["no_backoff"] = {"no_fault": no_fault, "faulted": faulted,
                                  "latencies_ms": latencies}
    try:
        out["emulator_stats"] = await control.stats()
    except Exception as exc:  # noqa: BLE001 - informational only
        out["emulator_stats"] = f"unavailable: {exc}"
    bench.results["failover"] = out


async def messages_vs_chat_ttft(bench: Bench) -> None:
    """Time-to-first-token overhead of the Messages API next to chat completions', measured in
    the same rounds so drift between phases does not count: each round runs the Converse floor,
    chat completions, the InvokeModelWithResponseStream floor and Messages (the order reversed
    every other round) at concurrency 1; each API's overhead is its p50 minus its own floor's p50
    over all rounds. The spread of the per-round chat overheads says what noise is."""
    plan, floor, gateway = bench.plan, bench.floor, bench.gateway
    calls = {"chat_floor": floor.converse_stream, "chat": gateway.chat_stream,
             "messages_floor": floor.invoke_stream, "messages": gateway.messages_stream}
    rounds = 4
    per_round = max(10, plan.stream_c1 // 2)
    samples: dict[str, list[float]] = {name: [] for name in calls}
    round_overheads: dict[str, list[float]] = {"chat": [], "messages": []}
    errors = 0
    for rnd in range(rounds):
        order = list(calls) if rnd % 2 == 0 else list(reversed(list(calls)))
        medians = {}
        for name in order:
            results, _ = await closed_loop(each_prompt(calls[name]), per_round, 1,
                                           plan.phase_timeout)
            ttfts = [r.ttft for r in results if r.ok and r.ttft is not None]
            errors += sum(1 for r in results if not r.ok)
            samples[name] += ttfts
            medians[name] = sample_percentile(ttfts, 50) * 1000 if ttfts else float("nan")
        for api in round_overheads:
            round_overheads[api].append(round(medians[api] - medians[f"{api}_floor"], 3))
    p50 = {name: sample_percentile(values, 50) * 1000 for name, values in samples.items()
           if values}
    overhead = {api: round(p50[api] - p50[f"{api}_floor"], 3) for api in round_overheads}
    bench.results["messages_vs_chat_ttft"] = {
        "rounds": rounds, "per_round": per_round, "ttft_p50_ms": {k: round(v, 3)
                                                                   for k, v in p50.items()},
        "overhead_p50_ms": overhead, "round_overheads_ms": round_overheads, "errors": errors}
