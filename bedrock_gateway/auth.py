"""API keys: where they come from, how they rotate, and the constant-time check.

Sources (names as in the incumbent gateway): `API_KEY` / `OPENAI_API_KEY` (comma-separated),
`API_KEY_FILE` (a mounted secret, re-read when it changes), `API_KEY_SECRET_ARN` (Secrets
Manager, JSON field `api_key`) and `API_KEY_PARAM_NAME` (SSM). Every key from every source is
valid at once, which gives rotation an overlap window. Keys are never logged.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import os
from collections.abc import Awaitable, Callable, Iterable

import orjson

log = logging.getLogger(__name__)

KeyLoader = Callable[[], Awaitable[list[str]]]


def keys_from_text(text: str) -> list[str]:
    """Keys from a file or secret value: a JSON object with `api_key` (string or list), a JSON
    list, or plain text with one key per line / comma-separated."""
    stripped = text.strip()
    if stripped.startswith(("{", "[")):
        try:
            data = orjson.loads(stripped)
        except orjson.JSONDecodeError:
            data = None
        if isinstance(data, dict):
            data = data.get("api_key", data.get("api_keys"))
        if isinstance(data, str):
            return [data.strip()] if data.strip() else []
        if isinstance(data, list):
            return [str(k).strip() for k in data if str(k).strip()]
    parts = stripped.replace(",", "\n").splitlines()
    return [p.strip() for p in parts if p.strip()]


class ApiKeyFile:
    """A key file, re-read only when its identity or mtime changes (Kubernetes swaps a symlink)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._stamp: tuple[int, int, int] | None = None
        self._keys: list[str] = []

    def _read(self) -> list[str]:
        st = os.stat(self.path)
        stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
        if stamp != self._stamp:
            with open(self.path, encoding="utf-8") as handle:
                self._keys = keys_from_text(handle.read())
            self._stamp = stamp
        return self._keys

    async def load(self) -> list[str]:
        return self._read()


class ApiKeyStore:
    """The set of valid keys, refreshed from its sources in the background."""

    def __init__(self, static_keys: Iterable[str] = ()) -> None:
        self._static = [k for k in static_keys if k]
        self._loaders: list[tuple[str, KeyLoader, float]] = []
        self._loaded: dict[str, list[str]] = {}
        self._valid: tuple[bytes, ...] = tuple(k.encode() for k in self._static)

    def add_source(self, name: str, loader: KeyLoader, interval_s: float) -> None:
        self._loaders.append((name, loader, interval_s))

    @property
    def has_sources(self) -> bool:
        return bool(self._static or self._loaders)

    def _publish(self) -> None:
        keys = list(self._static)
        for loaded in self._loaded.values():
            keys.extend(loaded)
        self._valid = tuple(k.encode() for k in dict.fromkeys(keys))

    async def load_all(self) -> None:
        """First load, at start-up: a source that fails here stops the start with its reason."""
        for name, loader, _ in self._loaders:
            try:
                self._loaded[name] = await loader()
            except Exception as exc:  # noqa: BLE001 - reported with the source's name
                raise RuntimeError(f"cannot load API keys from {name}: {type(exc).__name__}: "
                                   f"{exc}") from None
        self._publish()
        if not self._valid:
            raise RuntimeError("the configured API key sources hold no key")

    async def refresh_forever(self) -> None:
        """Re-read each source on its own interval; a failing source keeps its last keys."""
        if not self._loaders:
            return
        next_due = {name: 0.0 for name, _, _ in self._loaders}
        loop = asyncio.get_running_loop()
        while True:
            now = loop.time()
            for name, loader, interval in self._loaders:
                if now < next_due[name]:
                    continue
                next_due[name] = now + interval
                try:
                    keys = await loader()
                except Exception as exc:  # noqa: BLE001
                    log.warning("API key source %s failed, keeping its last keys: %s",
                                name, type(exc).__name__)
                    continue
                if keys != self._loaded.get(name):
                    self._loaded[name] = keys
                    self._publish()
                    log.info("API keys from %s changed (%d valid keys)", name, len(self._valid))
            await asyncio.sleep(max(0.05, min(next_due.values()) - loop.time()))

    def is_valid(self, candidate: str) -> bool:
        """Constant time in the candidate's content: every key is compared, no early exit."""
        raw = candidate.encode()
        match = False
        for key in self._valid:
            match |= hmac.compare_digest(raw, key)
        return match


def bearer_token(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()
