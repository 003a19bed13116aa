"""One Lua script, many calls, few round trips.

`send(calls)` runs the script once per call in one pipeline (EVALSHA; the script is loaded again
when Redis lost it, e.g. after a restart — only the calls that failed for that are re-run, so a
script that is not idempotent never runs twice). `call(keys, args)` joins the batch of the
current event-loop turn: every request that reaches its limit check in the same turn shares one
round trip, which adds no wait (the batch leaves on the next turn) and saves a send and a
receive per request under concurrency.
"""

from __future__ import annotations

import asyncio
from typing import Any

from redis.exceptions import NoScriptError, RedisError

Call = tuple[list, list]


class ScriptBatcher:
    def __init__(self, client: Any, script: str) -> None:
        self._client = client
        self._script = client.register_script(script)
        self._queue: list[tuple[list, list, asyncio.Future]] = []
        self._sender: asyncio.Task | None = None

    async def send(self, calls: list[Call]) -> list[Any]:
        """Results in call order; a failed call's entry is its exception."""
        results: list[Any] = [None] * len(calls)
        todo = list(range(len(calls)))
        for attempt in range(2):
            pipe = self._client.pipeline(transaction=False)
            for index in todo:
                keys, args = calls[index]
                pipe.evalsha(self._script.sha, len(keys), *keys, *args)
            answers = await pipe.execute(raise_on_error=False)
            missing = []
            for index, answer in zip(todo, answers, strict=True):
                if isinstance(answer, NoScriptError) and attempt == 0:
                    missing.append(index)
                else:
                    results[index] = answer
            if not missing:
                break
            await self._client.script_load(self._script.script)
            todo = missing
        return results

    async def call(self, keys: list, args: list) -> Any:
        future = asyncio.get_running_loop().create_future()
        self._queue.append((keys, args, future))
        if self._sender is None:
            self._sender = asyncio.get_running_loop().create_task(self._send_queued())
        return await future  # a caller's timeout cancels only its own future

    async def _send_queued(self) -> None:
        batch, self._queue, self._sender = self._queue, [], None
        try:
            results = await self.send([(keys, args) for keys, args, _ in batch])
        except (RedisError, OSError) as exc:
            results = [exc] * len(batch)
        except asyncio.CancelledError:
            results = [RedisError("cancelled")] * len(batch)
        for (_, _, future), result in zip(batch, results, strict=True):
            if future.done():
                continue
            if isinstance(result, BaseException):
                future.set_exception(result)
            else:
                future.set_result(result)
