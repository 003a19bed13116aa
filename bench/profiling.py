"""--profile: py-spy samples the gateway during a concurrency-50 stream run; the collapsed
stacks (py-spy's "raw" format: `frame;frame;...;leaf count` per line, a frame being
`function (file:line)`) are folded into own time (leaf) and total time per function."""

from __future__ import annotations

import asyncio
import re
import shutil
import sys
from collections import Counter
from pathlib import Path

from bench.load import summarize, timed_loop
from bench.plan import prompt

_LINE = re.compile(r":\d+\)$")
RATE = 100


def _py_spy() -> str | None:
    local = Path(sys.executable).with_name("py-spy")
    return str(local) if local.exists() else shutil.which("py-spy")


def _function(frame: str) -> str:
    """`send (aiohttp/http_writer.py:120)` -> `send (aiohttp/http_writer.py)`."""
    return _LINE.sub(")", frame.strip())


def parse_collapsed(text: str, top: int = 25) -> dict:
    own: Counter[str] = Counter()
    total: Counter[str] = Counter()
    samples = 0
    for line in text.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = [_function(f) for f in stack.split(";") if f.strip()]
        if not frames:
            continue
        samples += n
        own[frames[-1]] += n
        for name in set(frames):
            total[name] += n
    rows = [{"function": name, "own_samples": n,
             "own_pct": round(100 * n / samples, 2) if samples else 0.0,
             "total_pct": round(100 * total[name] / samples, 2) if samples else 0.0}
            for name, n in own.most_common(top)]
    return {"samples": samples, "top": rows}


async def profile(bench) -> None:
    exe = _py_spy()
    if exe is None:
        bench.results["profile"] = {"error": "py-spy not found"}
        return
    seconds = bench.plan.profile_seconds
    path = bench.out / "profile.txt"
    log = bench.out / "py-spy.log"
    with open(log, "wb") as log_file:  # noqa: ASYNC230 - a local log file
        proc = await asyncio.create_subprocess_exec(
            exe, "record", "--pid", str(bench.gateway_child.pid), "--duration", str(seconds),
            "--rate", str(RATE), "--format", "raw", "--nonblocking", "-o", str(path),
            stdout=log_file, stderr=log_file)
    try:
        await asyncio.sleep(1.0)  # attach before the load starts
        cpu_before = bench.gateway_child.cpu_seconds()
        results, wall = await timed_loop(lambda i: bench.gateway.chat_stream(prompt(i)), 50,
                                         seconds, max_requests=100_000)
        cpu = bench.gateway_child.cpu_seconds() - cpu_before
        try:
            await asyncio.wait_for(proc.wait(), timeout=30)
        except TimeoutError:
            proc.kill()
            await proc.wait()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    stats = summarize(results, len(results), 50, wall)
    data = {"file": str(path), "rate_hz": RATE, "duration_s": seconds,
            "requests": len(results), "errors": stats.errors + stats.incomplete,
            "chunks": stats.chunks, "gateway_cpu_s": round(cpu, 3),
            "cpu_us_per_chunk": round(cpu / stats.chunks * 1e6, 1) if stats.chunks else None}
    if path.exists():
        data.update(parse_collapsed(path.read_text(errors="replace")))
    else:
        data["error"] = f"py-spy wrote no profile (exit {proc.returncode}): " + \
            log.read_text(errors="replace")[-500:]
    bench.results["profile"] = data


def format_profile(data: dict) -> str:
    if not data.get("top"):
        return f"profile: {data.get('error', 'no samples')}"
    title = (f"### Gateway profile: top {len(data['top'])} functions by own time "
             f"({data['samples']} samples at {data['rate_hz']} Hz over {data['duration_s']} s, "
             f"{data['requests']} streams, {data['cpu_us_per_chunk']} us CPU per chunk)")
    lines = [title, "",
             "| own % | total % | function |", "|---:|---:|---|"]
    lines += [f"| {r['own_pct']:.1f} | {r['total_pct']:.1f} | `{r['function']}` |"
              for r in data["top"]]
    return "\n".join(lines)
