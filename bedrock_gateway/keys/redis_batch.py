"""Lua scripts, many calls, few round trips.

`call(script, keys, args)` joins the batch of the current event-loop turn and waits for its
result: every request that reaches its limit check in the same turn shares one round trip, which
adds no wait (the batch leaves on the next turn). `post(script, keys, args)` queues a call nobody
waits for (settling usage): it leaves with the next batch, at the latest after `post_delay_s`.
A batch is one pipeline of EVALSHA; a script Redis lost (restart, SCRIPT FLUSH) is loaded again
and only the calls that failed for that are re-run, so no call ever runs twice.

Batches travel on the pipeline's own connections, made from the client's pool settings (so TLS,
AUTH and the database are the client's), with the commands encoded here: redis-py's pipeline
spends ~0.2 ms of CPU per batch on packing and pool bookkeeping, which is most of the cost of a
limit check (docs/benchmark.md). A connection goes back to the idle list only after every reply
of its batch was read; any failure or cancellation closes it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from redis.exceptions import NoScriptError, RedisError, ResponseError

log = logging.getLogger(__name__)
Call = tuple[Any, list, list]  # (registered script, keys, args)
_IDLE_MAX = 8


def _bulk(value: Any) -> bytes:
    data = value if isinstance(value, bytes) else str(value).encode()
    return b"$%d\r\n%s\r\n" % (len(data), data)


def encode_evalsha(sha: str, keys: list, args: list) -> bytes:
    """One EVALSHA in the Redis protocol (RESP): keys and args are str, bytes or int."""
    parts = [b"*%d\r\n$7\r\nEVALSHA\r\n" % (3 + len(keys) + len(args)), _bulk(sha),
             _bulk(len(keys))]
    parts += map(_bulk, keys)
    parts += map(_bulk, args)
    return b"".join(parts)


class ScriptPipeline:
    def __init__(self, client: Any, *, post_delay_s: float, timeout_s: float) -> None:
        self._client = client
        self._post_delay_s = post_delay_s
        self._timeout_s = timeout_s
        self._queue: list[tuple[Call, asyncio.Future | None, asyncio.Future | None]] = []
        self._sender: asyncio.Handle | None = None
        self._sender_now = False
        self._sending: set[asyncio.Task] = set()
        self._idle: list[Any] = []  # connected, nothing left to read

    def script(self, text: str) -> Any:
        return self._client.register_script(text)

    async def send(self, calls: list[Call],
                   on_sent: Callable[[], None] | None = None) -> list[Any]:
        """Results in call order; a failed call's entry is its exception. `on_sent` is called
        once the calls are written (the replies may take a while)."""
        results: list[Any] = [None] * len(calls)
        todo = list(range(len(calls)))
        for attempt in range(2):
            answers = await self._round_trip(
                [encode_evalsha(calls[i][0].sha, calls[i][1], calls[i][2]) for i in todo],
                on_sent if attempt == 0 else None)
            missing = []
            for index, answer in zip(todo, answers, strict=True):
                if isinstance(answer, NoScriptError) and attempt == 0:
                    missing.append(index)
                else:
                    results[index] = answer
            if not missing:
                break
            for script in {id(calls[i][0]): calls[i][0] for i in missing}.values():
                await self._client.script_load(script.script)
            todo = missing
        return results

    async def _round_trip(self, commands: list[bytes],
                          on_sent: Callable[[], None] | None) -> list[Any]:
        """Send the encoded commands at once and read one reply each (an error reply is
        returned, not raised)."""
        conn = self._idle.pop() if self._idle else self._new_connection()
        done = False
        try:
            if not conn.is_connected:
                await conn.connect()
            await conn.send_packed_command(commands, check_health=False)
            if on_sent is not None:
                on_sent()
            replies: list[Any] = []
            for _ in commands:
                try:
                    replies.append(await conn.read_response())
                except ResponseError as exc:
                    replies.append(exc)
            done = True
            return replies
        finally:
            if done and len(self._idle) < _IDLE_MAX:
                self._idle.append(conn)
            else:
                await conn.disconnect(nowait=True)

    def _new_connection(self) -> Any:
        pool = self._client.connection_pool
        # No socket timeout of its own (each read would arm a timer): every batch is bounded
        # as a whole by the caller. Connecting keeps the pool's connect timeout.
        kwargs = {**pool.connection_kwargs, "socket_timeout": None,
                  "socket_connect_timeout": pool.connection_kwargs.get("socket_connect_timeout")
                  or pool.connection_kwargs.get("socket_timeout")}
        return pool.connection_class(**kwargs)

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for conn in idle:
            await conn.disconnect(nowait=True)

    async def call(self, script: Any, keys: list, args: list,
                   sent: asyncio.Future | None = None) -> Any:
        """The script's result. `sent`, if given, is resolved once the call is on the wire."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._queue.append(((script, keys, args), future, sent))
        self._schedule(0.0)
        return await future  # a caller's timeout cancels only its own future

    def post(self, script: Any, keys: list, args: list) -> None:
        self._queue.append(((script, keys, args), None, None))
        self._schedule(self._post_delay_s)

    def _schedule(self, delay: float) -> None:
        if self._sender is not None:
            if self._sender_now or delay > 0:
                return  # already due at least as soon
            self._sender.cancel()  # only posts were queued: a waiting call takes them now
        loop = asyncio.get_running_loop()
        self._sender_now = delay <= 0
        self._sender = (loop.call_soon(self._start) if self._sender_now
                        else loop.call_later(delay, self._start))

    def _start(self) -> None:
        self._sender = None
        batch, self._queue = self._queue, []
        if batch:
            task = asyncio.get_running_loop().create_task(self._send_batch(batch))
            self._sending.add(task)
            task.add_done_callback(self._sending.discard)

    async def _send_batch(
            self, batch: list[tuple[Call, asyncio.Future | None, asyncio.Future | None]]) -> None:
        def on_sent() -> None:
            for _, _, sent in batch:
                if sent is not None and not sent.done():
                    sent.set_result(None)

        try:
            async with asyncio.timeout(self._timeout_s):
                results = await self.send([call for call, _, _ in batch], on_sent)
        except (RedisError, OSError, TimeoutError) as exc:
            results = [exc] * len(batch)
        lost = 0
        for (_, future, _), result in zip(batch, results, strict=True):
            if future is None:
                lost += isinstance(result, BaseException)
            elif not future.done():
                if isinstance(result, BaseException):
                    future.set_exception(result)
                else:
                    future.set_result(result)
        if lost:
            log.warning("%d usage settlements were not written: %s", lost,
                        type(next(r for r in results if isinstance(r, BaseException))).__name__)

    async def flush(self) -> None:
        """Send what is queued now and wait for every batch in flight (at shutdown)."""
        if self._sender is not None:
            self._sender.cancel()
            self._sender = None
        self._start()
        if self._sending:
            await asyncio.wait(list(self._sending))
