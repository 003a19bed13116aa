"""Gateway processes (`python -m bedrock_gateway`, with the interpreter tests/support/interpreter.py
picks) on free ports: with their output kept in files so tests can read the logs and their
/metrics read over HTTP (`start_gateway`), quiet and ready (`gateway_child`), or as a plain child
(`spawn_gateway`)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from tests.support.constants import HAIKU, TEST_KEY
from tests.support.interpreter import gateway_command
from tests.support.local_http import free_port, wait_ready


@dataclass
class GatewayProcess:
    proc: subprocess.Popen
    root: str
    metrics_url: str
    log_path: Path

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")

    async def metric(self, name: str) -> float | None:
        """The sum of a metric's samples (all label sets) or None when absent."""
        async with aiohttp.ClientSession() as session, session.get(self.metrics_url) as reply:
            text = await reply.text()
        values = [float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                  if line.startswith(name) and line[len(name)] in " {"]
        return sum(values) if values else None

    async def stop(self) -> None:
        self.proc.terminate()
        try:
            await asyncio.to_thread(self.proc.wait, 15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            await asyncio.to_thread(self.proc.wait)


def spawn_gateway(env: dict[str, str], *args: str, stdout_path: Path | None = None,
                  stderr_path: Path | None = None, **popen: Any) -> subprocess.Popen[Any]:
    """`python -m bedrock_gateway ARGS` as a child process, its output to pipes (`popen`) or to
    files (`stdout_path`, `stderr_path`, which the child keeps open)."""
    with contextlib.ExitStack() as files:
        if stdout_path is not None:
            popen["stdout"] = files.enter_context(stdout_path.open("wb"))
        if stderr_path is not None:
            popen["stderr"] = files.enter_context(stderr_path.open("wb"))
        return subprocess.Popen([*gateway_command(), *args], env=env, **popen)


def start_gateway(emulator_url: str, log_dir: Path, **env_extra: str) -> GatewayProcess:
    port, metrics_port = free_port(), free_port()
    env = {**os.environ, "API_KEY": TEST_KEY, "PORT": str(port),
           "METRICS_PORT": str(metrics_port), "ACCESS_LOG": "on", "DEFAULT_MODEL": HAIKU,
           "DRAIN_DELAY_SECONDS": "0", "LOG_LEVEL": "DEBUG",
           "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": emulator_url,
           "AWS_ENDPOINT_URL_BEDROCK": emulator_url, **env_extra}
    log_path = log_dir / f"gateway-{port}.log"
    proc = spawn_gateway(env, "--host", "127.0.0.1", stdout_path=log_path,
                         stderr=subprocess.STDOUT)
    return GatewayProcess(proc, f"http://127.0.0.1:{port}",
                          f"http://127.0.0.1:{metrics_port}/metrics", log_path)


@contextlib.asynccontextmanager
async def gateway_child(**env_extra: str) -> AsyncIterator[tuple[asyncio.subprocess.Process,
                                                                 str]]:
    """A quiet gateway process (output discarded, access log off) on a free port, ready; yields
    (the process, its root URL). Killed at the end unless the test stopped it."""
    port = free_port()
    env = {**os.environ, "API_KEY": TEST_KEY, "PORT": str(port), "METRICS_PORT": "0",
           "ACCESS_LOG": "off", "DEFAULT_MODEL": HAIKU, **env_extra}
    proc = await asyncio.create_subprocess_exec(
        *gateway_command(), "--host", "127.0.0.1", env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
    try:
        root = f"http://127.0.0.1:{port}"
        await wait_ready(f"{root}/ready")
        yield proc, root
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
