"""API keys: where they come from, how they rotate, and the constant-time check.

Sources (names as in the incumbent gateway): `API_KEY` / `OPENAI_API_KEY` (comma-separated),
`API_KEY_FILE` (a mounted secret, re-read when it changes), `API_KEY_SECRET_ARN` (Secrets
Manager, JSON field `api_key`) and `API_KEY_PARAM_NAME` (SSM). Every key from every source is
valid at once, which gives rotation an overlap window. Keys are never logged.

Parsing is strict: a source whose text does not hold well-formed keys fails as a whole (at start
the gateway refuses to run; later the source keeps its last good keys), so a typo in a secret can
never turn fragments of its text into valid keys. Every key is at least `MIN_API_KEY_LENGTH`
characters of printable ASCII without spaces or commas.
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

# Shorter keys are refused (at start, and as a failed refresh later): a key is a bearer secret,
# and 16 characters is the least that makes guessing it over HTTP hopeless.
MIN_API_KEY_LENGTH = 16


class KeyFormatError(ValueError):
    """A key source holds something that is not a list of well-formed keys. The message never
    quotes the text (it may be a key)."""


def check_key(key: str, where: str) -> str:
    """`key` if it is a well-formed API key, else KeyFormatError saying why (never quoting it)."""
    if len(key) < MIN_API_KEY_LENGTH:
        raise KeyFormatError(f"{where}: a key is shorter than {MIN_API_KEY_LENGTH} characters")
    if not key.isascii() or not key.isprintable() or " " in key or "," in key:
        raise KeyFormatError(f"{where}: a key holds a space, a comma, a control or non-ASCII "
                             "character")
    return key


def _json_keys(text: str, where: str) -> list[str]:
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError:
        raise KeyFormatError(f"{where}: the value looks like JSON but does not parse") from None
    if isinstance(data, dict):
        if "api_key" in data:
            data = data["api_key"]
            if not isinstance(data, str):
                raise KeyFormatError(f"{where}: the JSON field api_key must be a string")
            data = [data]
        elif "api_keys" in data:
            data = data["api_keys"]
        else:
            raise KeyFormatError(f"{where}: the JSON object has no api_key or api_keys field")
    if not isinstance(data, list) or not all(isinstance(k, str) for k in data):
        raise KeyFormatError(f"{where}: api_keys (or a JSON list) must be a list of strings")
    return [k.strip() for k in data]


def keys_from_text(text: str, where: str = "API key source") -> list[str]:
    """Keys from a file or secret value: a JSON object with `api_key` (a string) or `api_keys` (a
    list of strings), a JSON list of strings, or plain text with one key per line or
    comma-separated. Anything else raises KeyFormatError naming `where`."""
    stripped = text.strip()
    if stripped.startswith(("{", "[")):
        keys = _json_keys(stripped, where)
    else:
        keys = [p.strip() for p in stripped.replace(",", "\n").splitlines()]
    keys = [check_key(k, where) for k in keys if k]
    if not keys:
        raise KeyFormatError(f"{where}: no key found")
    return keys


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
                self._keys = keys_from_text(handle.read(), "API_KEY_FILE")
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
                except KeyFormatError as exc:  # its message never quotes a key
                    log.warning("API key source %s failed, keeping its last keys: %s", name, exc)
                    continue
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
        """Constant time in the candidate's content: every key is compared, no early exit.
        Header bytes that are not UTF-8 arrive as surrogate escapes: they match no key."""
        raw = candidate.encode("utf-8", "surrogateescape")
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
