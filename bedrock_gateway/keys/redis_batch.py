"""Lua scripts, many calls, few round trips.

`call(script, keys, args)` joins the batch of the current event-loop turn and waits for its
result: every request that reaches its limit check in the same turn shares one round trip, which
adds no wait (the batch leaves on the next turn). `start(...)` returns as soon as the call is on
the wire, with the future of its result: a quiet pipeline writes it at once from the caller, so
the round trip runs while the caller prepares its request. `post(script, keys, args)` queues a
call nobody waits for (settling usage): it leaves with the next batch, at the latest after
`post_delay_s`.
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
# A call waiting for its batch: the future of its result (None: posted, nobody waits) and the
# future resolved once it is written (None: nobody waits for that).
Queued = tuple[Call, asyncio.Future | None, asyncio.Future | None]
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
        self._queue: list[Queued] = []
        self._sender: asyncio.Handle | None = None
        self._sender_now = False
        self._sending: set[asyncio.Task] = set()
        self._idle: list[Any] = []  # connected, nothing left to read

    def script(self, text: str) -> Any:
        return self._client.register_script(text)

    # -- the wire --------------------------------------------------------------------------------

    async def send(self, calls: list[Call],
                   on_sent: Callable[[], None] | None = None) -> list[Any]:
        """Results in call order; a failed call's entry is its exception. `on_sent` is called
        once the calls are written (the replies may take a while)."""
        conn = self._take()
        await self._write(conn, calls)
        if on_sent is not None:
            on_sent()
        return await self._finish(conn, calls)

    async def _finish(self, conn: Any, calls: list[Call]) -> list[Any]:
        """Read the replies of `calls`, written on `conn`; calls whose script Redis lost are
        loaded and run again (once), the others never."""
        answers = await self._read(conn, len(calls))
        missing = [i for i, answer in enumerate(answers) if isinstance(answer, NoScriptError)]
        if missing:
            for script in {id(calls[i][0]): calls[i][0] for i in missing}.values():
                await self._client.script_load(script.script)
            conn = self._take()
            await self._write(conn, [calls[i] for i in missing])
            again = await self._read(conn, len(missing))
            for index, answer in zip(missing, again, strict=True):
                answers[index] = answer
        return answers

    def _take(self) -> Any:
        return self._idle.pop() if self._idle else self._new_connection()

    async def _write(self, conn: Any, calls: list[Call]) -> None:
        try:
            if not conn.is_connected:
                await conn.connect()
            await conn.send_packed_command(
                [encode_evalsha(script.sha, keys, args) for script, keys, args in calls],
                check_health=False)
        except BaseException:
            await conn.disconnect(nowait=True)
            raise

    async def _read(self, conn: Any, count: int) -> list[Any]:
        """One reply per command written (an error reply is returned, not raised); then the
        connection is idle again. Any failure closes it: its replies are lost with it."""
        replies: list[Any] = []
        try:
            for _ in range(count):
                try:
                    replies.append(await conn.read_response())
                except ResponseError as exc:
                    replies.append(exc)
        except BaseException:
            await conn.disconnect(nowait=True)
            raise
        if len(self._idle) < _IDLE_MAX:
            self._idle.append(conn)
        else:
            await conn.disconnect(nowait=True)
        return replies

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

    # -- calls -----------------------------------------------------------------------------------

    async def call(self, script: Any, keys: list, args: list) -> Any:
        """The script's result, in this turn's batch."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._queue.append(((script, keys, args), future, None))
        self._schedule(0.0)
        return await future  # a caller's timeout cancels only its own future

    async def start(self, script: Any, keys: list, args: list) -> asyncio.Future:
        """Put the call on the wire and return the future of its result, read in the
        background: the caller goes on with its own work meanwhile. A quiet pipeline writes
        it at once, from the caller (with the posts waiting, if any); a busy one adds it to
        this turn's batch and returns once that batch is written."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        call = (script, keys, args)
        if self._sending or self._sender_now or not self._idle:
            sent = loop.create_future()
            self._queue.append((call, future, sent))
            self._schedule(0.0)
            await sent  # resolved when the batch is written, or has failed (_deliver)
            return future
        if self._sender is not None:
            self._sender.cancel()
            self._sender = None
        batch, self._queue = [*self._queue, (call, future, None)], []
        conn = self._idle.pop()
        try:
            await self._write(conn, [queued[0] for queued in batch])
        except (RedisError, OSError) as exc:
            self._deliver(batch, [exc] * len(batch))
            return future
        self._track(loop.create_task(self._send_batch(batch, written_on=conn)))
        return future

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
        self._sender_now = False
        batch, self._queue = self._queue, []
        if batch:
            self._track(asyncio.get_running_loop().create_task(self._send_batch(batch)))

    def _track(self, task: asyncio.Task) -> None:
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _send_batch(self, batch: list[Queued], written_on: Any = None) -> None:
        """Send `batch` (or, `written_on` a connection, read its replies) and answer its calls,
        all within the pipeline's timeout."""
        def on_sent() -> None:
            for _, _, sent in batch:
                if sent is not None and not sent.done():
                    sent.set_result(None)

        calls = [queued[0] for queued in batch]
        try:
            async with asyncio.timeout(self._timeout_s):
                results = (await self.send(calls, on_sent) if written_on is None
                           else await self._finish(written_on, calls))
        except (RedisError, OSError, TimeoutError) as exc:
            results = [exc] * len(batch)
        self._deliver(batch, results)

    @staticmethod
    def _deliver(batch: list[Queued], results: list[Any]) -> None:
        lost = 0
        for (_, future, sent), result in zip(batch, results, strict=True):
            if sent is not None and not sent.done():
                sent.set_result(None)
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
