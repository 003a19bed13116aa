"""Subprocesses: the Bedrock emulator and gateways, started, awaited, measured and stopped.

Logs go to files in the output directory (never to pipes nobody reads); a gateway's access log
(its stdout) goes to /dev/null.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Self

import psutil

API_KEY = "sk-bench-0123456789abcdef"
_URL = re.compile(r"(http://127\.0\.0\.1:\d+)")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def aws_env(emulator_url: str) -> dict[str, str]:
    """The environment every Bedrock caller (gateway or floor) uses to reach the emulator."""
    return {
        "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": emulator_url,
        "AWS_ENDPOINT_URL_BEDROCK": emulator_url,
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
    }


def _clean_env() -> dict[str, str]:
    env = dict(os.environ)
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_BEARER_TOKEN_BEDROCK",
                 "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "GATEWAY_CONFIG_FILE"):
        env.pop(name, None)
    env["PYTHONUNBUFFERED"] = "1"
    return env


class Child:
    """One subprocess with its log file; `stop()` is idempotent and never raises."""

    def __init__(self, name: str, proc: subprocess.Popen, log_path: Path) -> None:
        self.name = name
        self.proc = proc
        self.log_path = log_path
        self.ps = psutil.Process(proc.pid)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def check_alive(self) -> None:
        if self.proc.poll() is not None:
            raise RuntimeError(f"{self.name} exited with code {self.proc.returncode}:\n"
                               f"{_tail(self.log_path)}")

    def cpu_seconds(self) -> float:
        times = self.ps.cpu_times()
        return times.user + times.system

    def rss(self) -> int:
        return self.ps.memory_info().rss

    def peak_rss_kernel(self) -> int | None:
        """VmHWM: the kernel's own peak resident set since the process started (Linux)."""
        try:
            for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
        except OSError:
            pass
        return None

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)


def start_emulator(out: Path, delay_ms: int, chunks: int,
                   timeout: float = 30.0) -> tuple[Child, str]:
    log_path = out / "emulator.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bedrock_gateway.emulator", "--host", "127.0.0.1", "--port", "0",
             "--delay-ms", str(delay_ms), "--chunks", str(chunks)],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=_clean_env())
    child = Child("emulator", proc, log_path)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        match = _URL.search(log_path.read_text(errors="replace"))
        if match:
            return child, match.group(1)
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    child.stop()
    raise RuntimeError(f"the emulator did not start:\n{_tail(log_path)}")


def start_gateway(out: Path, name: str, emulator_url: str, *, telemetry: bool,
                  extra_env: dict[str, str] | None = None) -> tuple[Child, str, int | None]:
    """Start a gateway (not yet awaited: call `wait_ready`). Returns (child, base URL, metrics
    port or None)."""
    port = free_port()
    metrics_port = free_port() if telemetry else None
    env = {
        **_clean_env(), **aws_env(emulator_url),
        "API_KEY": API_KEY,
        "BEDROCK_REGIONS": "us-east-1,us-west-2",
        "METRICS_PORT": str(metrics_port or 0),
        "ACCESS_LOG": "on" if telemetry else "off",
        "MAX_CONCURRENT_REQUESTS": "1200",
        "MAX_STREAMS_PER_REGION": "1100",
        "DRAIN_DELAY_SECONDS": "0",
        "SHUTDOWN_GRACE_SECONDS": "2",
        **(extra_env or {}),
    }
    log_path = out / f"{name}.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bedrock_gateway", "--host", "127.0.0.1", "--port", str(port)],
            stdout=subprocess.DEVNULL, stderr=log, stdin=subprocess.DEVNULL, env=env)
    return Child(name, proc, log_path), f"http://127.0.0.1:{port}", metrics_port


def wait_ready(child: Child, url: str, timeout: float = 60.0) -> float:
    """Poll GET url until 200; returns the seconds it took."""
    started = time.monotonic()
    last = "no answer"
    while time.monotonic() - started < timeout:
        child.check_alive()
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return time.monotonic() - started
        except urllib.error.HTTPError as exc:
            last = f"HTTP {exc.code}"
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError) as exc:
            last = str(exc)
        time.sleep(0.1)
    raise RuntimeError(f"{child.name}: {url} not ready after {timeout:.0f} s ({last}):\n"
                       f"{_tail(child.log_path)}")


class RssSampler:
    """Samples a process's RSS every `interval` seconds on a thread (the event loop may be busy)."""

    def __init__(self, child: Child, interval: float = 0.05) -> None:
        self.child = child
        self.interval = interval
        self.peak = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.peak = max(self.peak, self.child.rss())
                self.samples += 1
            except psutil.Error:
                return
            self._stop.wait(self.interval)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
