"""Where key records live without Redis: in this process, optionally backed by a YAML file.

The file (`KEYS_FILE`, e.g. a mounted Secret) holds `keys: [record, ...]` as written by the
admin API or by `python -m bedrock_gateway.keys record`. It is re-read when its identity or mtime
changes (Kubernetes swaps a symlink), checked every `poll_s`. Admin API writes replace it
atomically; a read-only file (a mounted Secret) makes writes fail with a clear 409.
"""

from __future__ import annotations

import asyncio
import logging
import os
import tempfile
from typing import Protocol

from bedrock_gateway.errors import GatewayError
from bedrock_gateway.keys.model import VirtualKey, from_stored

log = logging.getLogger(__name__)


class KeysReadOnlyError(GatewayError):
    status = 409
    type = "invalid_request_error"
    code = "keys_read_only"


class KeyRegistry(Protocol):
    async def get(self, key_id: str, allow_stale: bool = False) -> VirtualKey | None:
        """`allow_stale`: when the store is unreachable, a cached record may answer."""

    async def put(self, record: VirtualKey) -> None: ...

    async def list(self) -> list[VirtualKey]: ...


def read_keys_file(path: str) -> dict[str, VirtualKey]:
    import yaml

    with open(path, encoding="utf-8") as handle:
        data = yaml.safe_load(handle) or {}
    items = data.get("keys", []) if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise ValueError("the keys file must hold a mapping with a 'keys' list")  # noqa: TRY004
    records = [from_stored(item) for item in items]
    return {record.id: record for record in records}


def write_keys_file(path: str, records: dict[str, VirtualKey]) -> None:
    import yaml

    text = yaml.safe_dump({"keys": [r.stored() for r in records.values()]}, sort_keys=False)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".keys-", suffix=".yaml")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


class MemoryKeyRegistry:
    def __init__(self, path: str | None = None, poll_s: float = 1.0) -> None:
        self.path = path
        self._poll_s = poll_s
        self._records: dict[str, VirtualKey] = {}
        self._stamp: tuple[int, int, int] | None = None

    def _file_stamp(self) -> tuple[int, int, int] | None:
        try:
            st = os.stat(self.path)  # type: ignore[arg-type]
        except FileNotFoundError:
            return None
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    def load(self) -> None:
        """Read the file if it changed. A missing file is an empty one (the admin API creates
        it); a malformed one raises ValueError naming the problem."""
        if self.path is None:
            return
        stamp = self._file_stamp()
        if stamp == self._stamp:
            return
        self._records = read_keys_file(self.path) if stamp is not None else {}
        self._stamp = stamp

    async def watch_forever(self) -> None:
        while self.path is not None:
            await asyncio.sleep(self._poll_s)
            try:
                before = self._stamp
                self.load()
                if self._stamp != before:
                    log.info("keys file changed: %d keys", len(self._records))
            except (OSError, ValueError) as exc:
                log.warning("keys file cannot be read, keeping the last keys: %s", exc)

    async def get(self, key_id: str, allow_stale: bool = False) -> VirtualKey | None:
        return self._records.get(key_id)

    async def list(self) -> list[VirtualKey]:
        return list(self._records.values())

    async def put(self, record: VirtualKey) -> None:
        records = {**self._records, record.id: record}
        if self.path is not None:
            try:
                write_keys_file(self.path, records)
            except OSError as exc:
                raise KeysReadOnlyError(
                    f"The keys file cannot be written ({exc.strerror}); edit it (or its Secret) "
                    "instead, or use Redis.") from None
            self._stamp = self._file_stamp()
        self._records = records
