"""The Lua pipeline on a real Redis: concurrent calls share round trips and each runs exactly
once, posted calls ride along (or leave after their delay), and a script Redis lost (restart,
SCRIPT FLUSH) is loaded again without re-running the calls that had succeeded."""

from __future__ import annotations

import asyncio

from bedrock_gateway.keys.redis_batch import ScriptPipeline
from bedrock_gateway.storage.redis_client import open_redis
from tests.support.redis_server import redis_server

INCR = "return redis.call('INCRBY', KEYS[1], ARGV[1])"


async def test_batched_calls_run_once_each_and_survive_a_script_flush():
    with redis_server() as (url, _proc):
        client = open_redis(url, 2.0)
        try:
            pipeline = ScriptPipeline(client, post_delay_s=30.0, timeout_s=2.0)
            incr = pipeline.script(INCR)
            results = await asyncio.gather(*(pipeline.call(incr, ["n"], [1]) for _ in range(50)))
            assert sorted(results) == list(range(1, 51))  # each ran once, atomically
            # A post waits (30 s here) unless a call leaves first: then it rides along.
            pipeline.post(incr, ["posted"], [7])
            await asyncio.sleep(0.05)
            assert await client.get("posted") is None
            assert await pipeline.call(incr, ["n"], [1]) == 51
            assert int(await client.get("posted")) == 7
            pipeline.post(incr, ["posted"], [1])
            await pipeline.flush()
            assert int(await client.get("posted")) == 8

            await client.script_flush()
            results = await pipeline.send([(incr, ["n"], [1]), (incr, ["m"], [5])])
            assert results == [52, 5]
            bad = await pipeline.send([(incr, ["n"], ["not a number"])])
            assert isinstance(bad[0], Exception)
            assert int(await client.get("n")) == 52
        finally:
            await client.aclose()
