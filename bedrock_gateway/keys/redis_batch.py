"""Lua scripts, many calls, few round trips.

`call(script, keys, args)` joins the batch of the current event-loop turn and waits for its
result: every request that reaches its limit check in the same turn shares one round trip, which
adds no wait (the batch leaves on the next turn). `post(script, keys, args)` queues a call nobody
waits for (settling usage): it leaves with the next batch, at the latest after `post_delay_s`.
A batch is one pipeline of EVALSHA; a script Redis lost (restart, SCRIPT FLUSH) is loaded again
and only the calls that failed for that are re-run, so no call ever runs twice.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from redis.exceptions import NoScriptError, RedisError

log = logging.getLogger(__name__)
Call = tuple[Any, list, list]  # (registered script, keys, args)


class ScriptPipeline:
    def __init__(self, client: Any, *, post_delay_s: float, timeout_s: float) -> None:
        self._client = client
        self._post_delay_s = post_delay_s
        self._timeout_s = timeout_s
        self._queue: list[tuple[Call, asyncio.Future | None]] = []
        self._sender: asyncio.Handle | None = None
        self._sender_now = False
        self._sending: set[asyncio.Task] = set()

    def script(self, text: str) -> Any:
        return self._client.register_script(text)

    async def send(self, calls: list[Call]) -> list[Any]:
        """Results in call order; a failed call's entry is its exception."""
        results: list[Any] = [None] * len(calls)
        todo = list(range(len(calls)))
        for attempt in range(2):
            pipe = self._client.pipeline(transaction=False)
            for index in todo:
                script, keys, args = calls[index]
                pipe.evalsha(script.sha, len(keys), *keys, *args)
            answers = await pipe.execute(raise_on_error=False)
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

    async def call(self, script: Any, keys: list, args: list) -> Any:
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._queue.append(((script, keys, args), future))
        self._schedule(0.0)
        return await future  # a caller's timeout cancels only its own future

    def post(self, script: Any, keys: list, args: list) -> None:
        self._queue.append(((script, keys, args), None))
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

    async def _send_batch(self, batch: list[tuple[Call, asyncio.Future | None]]) -> None:
        try:
            async with asyncio.timeout(self._timeout_s):
                results = await self.send([call for call, _ in batch])
        except (RedisError, OSError, TimeoutError) as exc:
            results = [exc] * len(batch)
        lost = 0
        for (_, future), result in zip(batch, results, strict=True):
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
