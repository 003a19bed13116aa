"""A real Redis (Debian's `redis-server`, installed by `make tools`) on a free loopback port,
without persistence, for the tests that need one."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager

from tests.support.local_http import free_port


def _ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@contextmanager
def redis_server(port: int | None = None, data_dir: str | None = None
                 ) -> Iterator[tuple[str, subprocess.Popen]]:
    """(redis:// URL, the process); the server is stopped on exit. With `data_dir`, writes go
    to an append-only file there (fsync always), so a server restarted on the same port and
    directory has the data back."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not installed: run `make tools`")
    port = port or free_port()
    persistence = (["--appendonly", "yes", "--appendfsync", "always", "--dir", data_dir]
                   if data_dir else ["--appendonly", "no"])
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             *persistence, "--protected-mode", "yes"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 15
        while not _ping(port):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0", proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
