"""`make demo --prometheus`: a local Prometheus scraping the demo gateway, with the alert rules.

    from prometheus_demo import start_prometheus    # scripts/ is on sys.path for scripts/demo.py
    process = start_prometheus(9464)                # returns once Prometheus answers /-/ready

It writes a temporary prometheus.yml that scrapes `127.0.0.1:<metrics_port>/metrics` every 5 s
under the job name `bedrock-gateway` (the name the alerts select) and loads
config/prometheus/rules/*.yml, then starts the `prometheus` binary (Debian package
`prometheus`) on 127.0.0.1:9090, or on a free port when 9090 is taken, with its TSDB in the same
temporary directory. It prints the URL and returns the process; the caller terminates it. The
directory is removed when the Python process exits.

Standalone: `python scripts/prometheus_demo.py --metrics-port 9464` runs until Ctrl-C.
"""

from __future__ import annotations

import argparse
import atexit
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RULES_DIR = ROOT / "config" / "prometheus" / "rules"
PREFERRED_PORT = 9090
JOB = "bedrock-gateway"


def find_binary() -> str:
    found = shutil.which("prometheus") or (
        "/usr/bin/prometheus" if os.access("/usr/bin/prometheus", os.X_OK) else None)
    if found is None:
        raise SystemExit("prometheus is not installed (apt-get install prometheus, or put the "
                         "binary from prometheus.io on PATH)")
    return found


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def prometheus_config(metrics_port: int, rules_dir: Path = RULES_DIR) -> str:
    return (
        "global:\n"
        "  scrape_interval: 5s\n"
        "  evaluation_interval: 5s\n"
        "rule_files:\n"
        f"  - '{rules_dir / '*.yml'}'\n"
        "scrape_configs:\n"
        f"  - job_name: {JOB}\n"
        "    metrics_path: /metrics\n"
        "    static_configs:\n"
        f"      - targets: ['127.0.0.1:{metrics_port}']\n"
    )


def _wait_ready(url: str, process: subprocess.Popen, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise SystemExit(f"prometheus exited with code {process.returncode}:\n{tail}")
        try:
            with urllib.request.urlopen(f"{url}/-/ready", timeout=1) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.2)
    process.terminate()
    raise SystemExit(f"prometheus was not ready after {timeout:.0f} s (log: {log})")


def start_prometheus(metrics_port: int, port: int | None = None,
                     ready_timeout: float = 30.0) -> subprocess.Popen:
    """Start Prometheus scraping the gateway's metrics listener; returns the running process."""
    binary = find_binary()
    workdir = Path(tempfile.mkdtemp(prefix="bedrock-gateway-prometheus-"))
    atexit.register(shutil.rmtree, workdir, ignore_errors=True)
    config = workdir / "prometheus.yml"
    config.write_text(prometheus_config(metrics_port))
    if port is None:
        port = PREFERRED_PORT if _port_free(PREFERRED_PORT) else _free_port()
    url = f"http://127.0.0.1:{port}"
    log = workdir / "prometheus.log"
    with log.open("ab") as log_file:
        process = subprocess.Popen(
            [binary, f"--config.file={config}", f"--storage.tsdb.path={workdir / 'data'}",
             f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
            stdin=subprocess.DEVNULL, stdout=log_file, stderr=log_file)
    _wait_ready(url, process, log, ready_timeout)
    print(f"Prometheus: {url}  (scraping 127.0.0.1:{metrics_port}/metrics as job {JOB!r}, "
          f"rules from {RULES_DIR.relative_to(ROOT)}; alerts at {url}/alerts, log {log})",
          flush=True)
    return process


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--metrics-port", type=int, default=9464)
    parser.add_argument("--port", type=int, default=None,
                        help=f"Prometheus' own port (default {PREFERRED_PORT}, else a free one)")
    args = parser.parse_args()
    process = start_prometheus(args.metrics_port, args.port)
    try:
        return process.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


if __name__ == "__main__":
    sys.exit(main())
