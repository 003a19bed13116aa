"""The Lua batcher on a real Redis: concurrent calls share round trips and each runs exactly
once, and a script Redis lost (restart, SCRIPT FLUSH) is loaded again without re-running the
calls that had succeeded."""

from __future__ import annotations

import asyncio

from bedrock_gateway.keys.redis_batch import ScriptBatcher
from bedrock_gateway.storage.redis_client import open_redis
from tests.support.redis_server import redis_server

INCR = "return redis.call('INCRBY', KEYS[1], ARGV[1])"


async def test_batched_calls_run_once_each_and_survive_a_script_flush():
    with redis_server() as (url, _proc):
        client = open_redis(url, 2.0)
        try:
            batcher = ScriptBatcher(client, INCR)
            results = await asyncio.gather(*(batcher.call(["n"], [1]) for _ in range(50)))
            assert sorted(results) == list(range(1, 51))  # each ran once, atomically
            assert int(await client.get("n")) == 50
            await client.script_flush()
            results = await batcher.send([(["n"], [1]), (["m"], [5])])
            assert results == [51, 5]
            bad = await batcher.send([(["n"], ["not a number"])])
            assert isinstance(bad[0], Exception)
            assert int(await client.get("n")) == 51
        finally:
            await client.aclose()
