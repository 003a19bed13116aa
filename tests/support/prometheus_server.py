"""Run a real Prometheus server in tests (the `prometheus` binary, Debian package `prometheus`).

Async on purpose: the targets it scrapes usually run on the test's own event loop, so waiting
for Prometheus must never block that loop.

    async with PrometheusServer([f"127.0.0.1:{port}"]) as prom:
        result = await prom.wait_for("bedrock_gateway_stream_capacity", lambda r: bool(r))
        value = float(result[0]["value"][1])

It writes a temporary prometheus.yml (scrape every 1 s), starts the binary on a free loopback
port with its TSDB in a temporary directory (so a system Prometheus on 9090, if any, is neither
used nor disturbed), waits for `/-/ready`, queries through `/api/v1/query`, and on exit stops the
process (SIGTERM, then SIGKILL) and removes its files. `PrometheusServer.available()` says whether
the binary exists, for `pytest.mark.skipif`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any, Self

import aiohttp

from tests.support.local_http import free_port
from tests.support.polling import eventually

_FALLBACK_BINARY = "/usr/bin/prometheus"


def find_binary() -> str | None:
    found = shutil.which("prometheus")
    if found:
        return found
    return _FALLBACK_BINARY if os.access(_FALLBACK_BINARY, os.X_OK) else None


def _config(targets: Sequence[str], metrics_path: str) -> str:
    quoted = ", ".join(f"'{t}'" for t in targets)
    return (
        "global:\n"
        "  scrape_interval: 1s\n"
        "  scrape_timeout: 1s\n"
        "  evaluation_interval: 1s\n"
        "scrape_configs:\n"
        "  - job_name: targets\n"
        f"    metrics_path: '{metrics_path}'\n"
        "    static_configs:\n"
        f"      - targets: [{quoted}]\n"
    )


def _open_log(path: Path) -> IO[bytes]:
    # A local file opened once per start; the child process writes to it, not the loop.
    return path.open("ab")


class PrometheusError(RuntimeError):
    pass


class PrometheusServer:
    def __init__(self, targets: Sequence[str], *, metrics_path: str = "/metrics",
                 binary: str | None = None, start_timeout: float = 30.0) -> None:
        self.targets = list(targets)
        self.metrics_path = metrics_path
        self.binary = binary or find_binary()
        self.start_timeout = start_timeout
        self.url = ""
        self._dir: tempfile.TemporaryDirectory[str] | None = None
        self._process: asyncio.subprocess.Process | None = None
        self._session: aiohttp.ClientSession | None = None

    @staticmethod
    def available() -> bool:
        return find_binary() is not None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        if self.binary is None:
            raise PrometheusError("prometheus binary not found (apt-get install prometheus)")
        self._dir = tempfile.TemporaryDirectory(prefix="prom-test-")
        root = Path(self._dir.name)
        (root / "prometheus.yml").write_text(_config(self.targets, self.metrics_path))
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5))
        try:
            for _attempt in range(3):
                if await self._launch(root, free_port()):
                    return
            raise PrometheusError("prometheus did not start:\n" + self._log_tail(root))
        except BaseException:
            await self.stop()
            raise

    async def _launch(self, root: Path, port: int) -> bool:
        """Start the binary on `port`; True once ready, False if it exited (port taken?)."""
        assert self.binary is not None, "checked in start()"
        log = _open_log(root / "prometheus.log")
        try:
            self._process = await asyncio.create_subprocess_exec(
                self.binary, f"--config.file={root / 'prometheus.yml'}",
                f"--storage.tsdb.path={root / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--log.level=warn",
                stdin=asyncio.subprocess.DEVNULL, stdout=log, stderr=log,
            )
        finally:
            log.close()
        self.url = f"http://127.0.0.1:{port}"
        process = self._process

        async def ready_or_exited() -> str | None:
            if process.returncode is not None:
                return "exited"
            with contextlib.suppress(aiohttp.ClientError, asyncio.TimeoutError):
                async with self._http().get(f"{self.url}/-/ready") as resp:
                    if resp.status == 200:
                        return "ready"
            return None

        try:
            outcome = await eventually(ready_or_exited, within=self.start_timeout, interval=0.1)
        except AssertionError:
            raise PrometheusError(
                "prometheus not ready in time:\n" + self._log_tail(root)) from None
        if outcome == "exited":
            self._process = None
            return False
        return True

    async def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 10)
            except TimeoutError:
                process.kill()
                await process.wait()
        if self._session is not None:
            await self._session.close()
            self._session = None
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None

    async def query(self, promql: str) -> list[dict[str, Any]]:
        """The `data.result` of an instant query (a vector: [{"metric": {}, "value": [t, "v"]}])."""
        async with self._http().get(f"{self.url}/api/v1/query", params={"query": promql}) as resp:
            body = await resp.json()
        if body.get("status") != "success":
            raise PrometheusError(f"query {promql!r} failed: {body}")
        return body["data"]["result"]

    async def wait_for(self, promql: str, predicate: Callable[[list[dict[str, Any]]], bool], *,
                       within: float = 15.0, interval: float = 0.25) -> list[dict[str, Any]]:
        """Query until `predicate(result)` holds; returns that result (AssertionError if never)."""
        async def holds() -> list[dict[str, Any]]:
            result = await self.query(promql)
            assert predicate(result), result
            return result

        return await eventually(holds, within=within, interval=interval, what=repr(promql))

    async def targets_health(self) -> list[dict[str, Any]]:
        """The active targets as Prometheus sees them (health, lastError), for diagnostics."""
        async with self._http().get(f"{self.url}/api/v1/targets") as resp:
            return (await resp.json())["data"]["activeTargets"]

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise PrometheusError("not started")
        return self._session

    @staticmethod
    def _log_tail(root: Path) -> str:
        try:
            return (root / "prometheus.log").read_text(errors="replace")[-4000:]
        except OSError:
            return "(no log)"
