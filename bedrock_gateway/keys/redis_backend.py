"""Keys and counters in Redis, shared by every replica.

Records: `bgw:{<id>}:key`, a hash with `record` (JSON: salt and hash, never the secret) and
`revoked`; the set `bgw:keys` lists the ids. Counters of one key share its hash tag `{<id>}`,
so one Lua script touches one slot (Redis Cluster / ElastiCache cluster mode work too).

`reserve` is one script per request: it reads the revoked flag (so a revocation stops the next
request on every replica at once), checks every limit and budget, and reserves the request and
its token estimate in every window, or nothing. `settle` is one script: the estimate is replaced
by the real usage, the stream slot released, the usage by model and day recorded. Both go
through one ScriptPipeline (redis_batch.py): the checks of one event-loop turn share a round
trip, and settles ride along with the next one (or leave within 20 ms). Records are
cached in process for at most `cache_s` (≤ 1 s) for the secret's hash check, refreshed in the
background while a key is in use.

Every call is bounded by `timeout_s`; a failure raises RateLimiterUnavailableError and is
reported through `health(operation, ok)`, which also sees every success (the up metric).
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import orjson
from redis.exceptions import RedisError

from bedrock_gateway.errors import RateLimiterUnavailableError
from bedrock_gateway.keys.limiter import (
    OK,
    REFUSALS,
    Decision,
    PendingDecision,
    Reservation,
    Usage,
    Windows,
    new_lease,
    usage_row,
)
from bedrock_gateway.keys.model import VirtualKey, from_stored
from bedrock_gateway.keys.redis_batch import ScriptPipeline

log = logging.getLogger(__name__)
T = TypeVar("T")
Health = Callable[[str, bool], None]
INDEX = "bgw:keys"
_CACHE_MAX = 10_000
SETTLE_BATCH_SECONDS = 0.02
_DOWN_SECONDS = 1.0
_FAST_FAIL = frozenset({"key_lookup"})


def _unavailable() -> RateLimiterUnavailableError:
    return RateLimiterUnavailableError("Keys and limits (Redis) are unavailable; retry shortly.",
                                       retry_after=1.0)

# KEYS: record, requests/min, tokens/min, streams, tokens/day, tokens/month, usd/month
# ARGV: rpm, tpm, max_streams, day budget, month budget, usd budget (micros), estimate,
#       stream (0/1), lease id, now (ms), lease expiry (ms). Returns {outcome, requests, tokens}.
# Outcome 0 is ok, n > 0 is REFUSALS[n - 1]. Same rule as limiter.decide.
# Counters expire (in both scripts): minute windows after 120 s, day counters after 3 days,
# month counters after 40 days, usage by day after 400 days.
_RESERVE = """
local revoked = redis.call('HGET', KEYS[1], 'revoked')
local req = tonumber(redis.call('GET', KEYS[2]) or '0')
local tok = tonumber(redis.call('GET', KEYS[3]) or '0')
if revoked ~= '0' then return {1, req, tok} end
local rpm, tpm, maxs = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local est, stream = tonumber(ARGV[7]), ARGV[8] == '1'
if rpm > 0 and req >= rpm then return {2, req, tok} end
if tpm > 0 and tok > 0 and tok + est > tpm then return {3, req, tok} end
if tonumber(ARGV[4]) > 0 and tonumber(redis.call('GET', KEYS[5]) or '0') >= tonumber(ARGV[4])
  then return {4, req, tok} end
if tonumber(ARGV[5]) > 0 and tonumber(redis.call('GET', KEYS[6]) or '0') >= tonumber(ARGV[5])
  then return {5, req, tok} end
if tonumber(ARGV[6]) > 0 and tonumber(redis.call('GET', KEYS[7]) or '0') >= tonumber(ARGV[6])
  then return {6, req, tok} end
if stream then
  redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', ARGV[10])
  if maxs > 0 and redis.call('ZCARD', KEYS[4]) >= maxs then return {7, req, tok} end
  redis.call('ZADD', KEYS[4], ARGV[11], ARGV[9])
  redis.call('PEXPIREAT', KEYS[4], ARGV[11])
end
req = redis.call('INCR', KEYS[2])
redis.call('PEXPIRE', KEYS[2], 120000)
tok = redis.call('INCRBY', KEYS[3], est)
redis.call('PEXPIRE', KEYS[3], 120000)
redis.call('INCRBY', KEYS[5], est)
redis.call('EXPIRE', KEYS[5], 259200)
redis.call('INCRBY', KEYS[6], est)
redis.call('EXPIRE', KEYS[6], 3456000)
return {0, req, tok}
"""

# KEYS: tokens/min, tokens/day, tokens/month, usd/month, streams, usage/day
# ARGV: token delta, usd micros, lease id ('' for none), model ('' for no usage), requests,
#       input, output, cached
_SETTLE = """
local delta = tonumber(ARGV[1])
if delta ~= 0 then
  if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('INCRBY', KEYS[1], delta) end
  redis.call('INCRBY', KEYS[2], delta)
  redis.call('INCRBY', KEYS[3], delta)
end
if tonumber(ARGV[2]) > 0 then
  redis.call('INCRBY', KEYS[4], ARGV[2])
  redis.call('EXPIRE', KEYS[4], 3456000)
end
if ARGV[3] ~= '' then redis.call('ZREM', KEYS[5], ARGV[3]) end
if ARGV[4] ~= '' then
  local m = ARGV[4] .. '|'
  redis.call('HINCRBY', KEYS[6], m .. 'requests', ARGV[5])
  redis.call('HINCRBY', KEYS[6], m .. 'input', ARGV[6])
  redis.call('HINCRBY', KEYS[6], m .. 'output', ARGV[7])
  redis.call('HINCRBY', KEYS[6], m .. 'cached', ARGV[8])
  redis.call('EXPIRE', KEYS[6], 34560000)
end
return 0
"""


def _k(key_id: str, what: str) -> str:
    return f"bgw:{{{key_id}}}:{what}"


class RedisKeys:
    """The key registry and the limiter over one shared client."""

    def __init__(self, client: Any, *, timeout_s: float, admin_timeout_s: float,
                 cache_s: float, lease_s: float = 600.0, health: Health | None = None) -> None:
        self._client = client
        self._timeout_s = timeout_s
        self._admin_timeout_s = admin_timeout_s
        self._cache_s = cache_s
        self._lease_s = lease_s
        self._health = health or (lambda _op, _ok: None)
        self._cache: dict[str, tuple[float, VirtualKey | None]] = {}
        self._refreshing: dict[str, asyncio.Task] = {}
        self._pipeline = ScriptPipeline(client, post_delay_s=SETTLE_BATCH_SECONDS,
                                        timeout_s=admin_timeout_s)
        self._reserve = self._pipeline.script(_RESERVE)
        self._settle = self._pipeline.script(_SETTLE)
        self._down_until = 0.0

    async def _call(self, what: str, call: Awaitable[T], timeout_s: float | None = None) -> T:
        if what in _FAST_FAIL and time.monotonic() < self._down_until:
            # Redis failed within the last second: do not make every request wait for the
            # timeout again (the background ping, or the next call after that second, retries).
            if asyncio.iscoroutine(call):
                call.close()
            raise _unavailable()
        try:
            async with asyncio.timeout(timeout_s or self._timeout_s):
                result = await call
        except (RedisError, OSError, TimeoutError) as exc:
            self._failed(what, exc)
            raise _unavailable() from None
        self._succeeded(what)
        return result

    def _failed(self, what: str, exc: BaseException) -> None:
        self._down_until = time.monotonic() + _DOWN_SECONDS
        self._health(what, False)
        log.warning("Redis %s failed: %s", what, type(exc).__name__)

    def _succeeded(self, what: str) -> None:
        self._down_until = 0.0
        self._health(what, True)

    # -- registry ------------------------------------------------------------------------------

    async def get(self, key_id: str, allow_stale: bool = False) -> VirtualKey | None:
        """The record, at most `cache_s` old. One past half that age is served while a fresh
        copy is read in the background, so a key in steady use never waits for the read."""
        now = time.monotonic()
        cached = self._cache.get(key_id)
        if cached is not None:
            age = now - cached[0]
            if age < self._cache_s / 2:
                return cached[1]
            if age < self._cache_s:
                if key_id not in self._refreshing:
                    task = asyncio.get_running_loop().create_task(self._refresh(key_id))
                    self._refreshing[key_id] = task
                    task.add_done_callback(lambda _t: self._refreshing.pop(key_id, None))
                return cached[1]
        try:
            return await self._read(key_id)
        except RateLimiterUnavailableError:
            if allow_stale and cached is not None:
                return cached[1]
            raise

    async def _refresh(self, key_id: str) -> None:
        with contextlib.suppress(RateLimiterUnavailableError):  # reported; the cache ages out
            await self._read(key_id)

    async def _read(self, key_id: str) -> VirtualKey | None:
        now = time.monotonic()
        raw = await self._call("key_lookup", self._client.hget(_k(key_id, "key"), "record"))
        record = _parse(raw)
        if len(self._cache) >= _CACHE_MAX:
            self._cache.clear()
        self._cache[key_id] = (now, record)
        return record

    async def put(self, record: VirtualKey) -> None:
        pipe = self._client.pipeline(transaction=True)
        pipe.hset(_k(record.id, "key"), mapping={"record": orjson.dumps(record.stored()),
                                                "revoked": "1" if record.revoked else "0"})
        pipe.sadd(INDEX, record.id)
        await self._call("key_write", pipe.execute(), self._admin_timeout_s)
        self._cache.pop(record.id, None)

    async def list(self) -> list[VirtualKey]:
        ids = sorted(await self._call("key_list", self._client.smembers(INDEX),
                                      self._admin_timeout_s))
        if not ids:
            return []
        pipe = self._client.pipeline(transaction=False)
        for key_id in ids:
            pipe.hget(_k(key_id.decode(), "key"), "record")
        raws = await self._call("key_list", pipe.execute(), self._admin_timeout_s)
        return [record for record in map(_parse, raws) if record is not None]

    async def ping(self) -> None:
        await self._call("ping", self._client.ping(), self._admin_timeout_s)

    # -- limiter -------------------------------------------------------------------------------

    async def begin(self, key: VirtualKey, estimate: int, stream: bool) -> PendingDecision:
        """Put the check on the wire; its answer is read in the background (the caller
        prepares its request meanwhile). Bounded by `timeout_s` from here to the decision."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._timeout_s
        now = time.time()
        windows = Windows.at(now)
        kid = key.id
        lease = new_lease() if stream else None
        now_ms = int(now * 1000)
        limits, budget = key.limits, key.budget
        if time.monotonic() < self._down_until:  # failed within the last second (see _call)
            raise _unavailable()
        starting = self._pipeline.start(
            self._reserve, [_k(kid, "key"), _k(kid, f"rpm:{windows.minute}"),
                  _k(kid, f"tpm:{windows.minute}"), _k(kid, "streams"),
                  _k(kid, f"day:{windows.day}"), _k(kid, f"month:{windows.month}"),
                  _k(kid, f"usd:{windows.month}")],
            [limits.rpm, limits.tpm, limits.max_streams, budget.tokens_per_day,
                  budget.tokens_per_month, int(budget.usd_per_month * 1_000_000), estimate,
                  1 if stream else 0, lease or "", now_ms, now_ms + int(self._lease_s * 1000)])
        try:
            async with asyncio.timeout_at(deadline):
                answer = await starting
        except (RedisError, OSError, TimeoutError) as exc:
            self._failed("reserve", exc)
            raise _unavailable() from None

        def decode(done: asyncio.Future) -> Decision:
            failure = (done.exception() if done.done() and not done.cancelled()
                       else TimeoutError())  # not answered by the deadline
            if failure is not None:
                self._failed("reserve", failure)
                raise _unavailable()
            self._succeeded("reserve")
            code, requests, tokens = done.result()
            if code != 0:
                return Decision(REFUSALS[code - 1], limits, int(requests), int(tokens),
                                windows.reset_s)
            return Decision(OK, limits, int(requests), int(tokens), windows.reset_s,
                            Reservation(kid, estimate, lease, windows))

        return PendingDecision(answer, deadline, decode)

    async def reserve(self, key: VirtualKey, estimate: int, stream: bool) -> Decision:
        pending = await self.begin(key, estimate, stream)
        await pending.wait()
        return pending.decision()

    async def settle(self, reservation: Reservation, usage: Usage | None) -> None:
        """Queued: it leaves with the next limit check's round trip, or within
        SETTLE_BATCH_SECONDS (a stream slot is free again within that time). If Redis is down
        it is lost (logged): the reservation then stands until its windows end, so an outage
        errs on the side of the limits."""
        kid, windows = reservation.key_id, reservation.windows
        actual = (usage.input_tokens + usage.output_tokens) if usage else 0
        self._pipeline.post(self._settle, [
            _k(kid, f"tpm:{windows.minute}"), _k(kid, f"day:{windows.day}"),
            _k(kid, f"month:{windows.month}"), _k(kid, f"usd:{windows.month}"),
            _k(kid, "streams"), _k(kid, f"usage:{windows.day}")], [
            actual - reservation.estimate, usage.usd_micros if usage else 0,
            reservation.lease or "", usage.model if usage else "", 1,
            *((usage.input_tokens, usage.output_tokens, usage.cached_tokens)
              if usage else (0, 0, 0))])

    async def flush(self) -> None:
        await self._pipeline.flush()

    # Below `def list`, `list` in this class names that method: the builtin is spelled out.
    async def usage(self, key_id: str, days: Sequence[str]) -> builtins.list[dict]:
        pipe = self._client.pipeline(transaction=False)
        for day in days:
            pipe.hgetall(_k(key_id, f"usage:{day}"))
        results = await self._call("usage", pipe.execute(), self._admin_timeout_s)
        rows = []
        for day, fields in zip(days, results, strict=True):
            per_model: dict[str, dict[str, int]] = {}
            for name, value in fields.items():
                model, _, counter = name.decode().rpartition("|")
                per_model.setdefault(model, {})[counter] = int(value)
            for model in sorted(per_model):
                c = per_model[model]
                rows.append(usage_row(day, model, c.get("requests", 0), c.get("input", 0),
                                      c.get("output", 0), c.get("cached", 0)))
        return rows


def _parse(raw: bytes | None) -> VirtualKey | None:
    if raw is None:
        return None
    try:
        return from_stored(orjson.loads(raw))
    except (ValueError, orjson.JSONDecodeError) as exc:
        log.warning("a key record in Redis is malformed: %s", exc)
        return None
