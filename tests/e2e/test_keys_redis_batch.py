"""The Lua pipeline on a real Redis: concurrent calls share round trips and each runs exactly
once, posted calls ride along (or leave after their delay), and a script Redis lost (restart,
SCRIPT FLUSH) is loaded again without re-running the calls that had succeeded. The key cache
refreshes a key in use in the background, within its age bound."""

from __future__ import annotations

import asyncio
import dataclasses

from bedrock_gateway.keys.model import mint, parse_spec
from bedrock_gateway.keys.redis_backend import RedisKeys
from bedrock_gateway.keys.redis_batch import ScriptPipeline
from bedrock_gateway.storage.redis_client import open_redis
from tests.support.polling import eventually
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


async def test_a_key_in_use_is_refreshed_in_the_background_never_served_older_than_cache_s():
    """Past half of `cache_s` the cached record still answers (no wait) while a fresh copy is
    read; a record older than `cache_s` is never served (the bound revocation and edits keep)."""
    with redis_server() as (url, _proc):
        client = open_redis(url, 2.0)
        try:
            writer = RedisKeys(client, timeout_s=2.0, admin_timeout_s=2.0, cache_s=0.0)
            reader = RedisKeys(client, timeout_s=2.0, admin_timeout_s=2.0, cache_s=1.0)
            record, _ = mint(parse_spec({"name": "before"}), None)
            await writer.put(record)
            assert (await reader.get(record.id)).name == "before"
            await writer.put(dataclasses.replace(record, name="after"))
            assert (await reader.get(record.id)).name == "before"  # fresh: from the cache
            await asyncio.sleep(0.55)  # past half of cache_s
            assert (await reader.get(record.id)).name == "before"  # served, refresh started
            # Seen well before the cached copy is 1 s old (when a get would read it itself).
            await eventually(lambda: _cached_name(reader, record.id, "after"), within=0.3,
                             what="the background refresh")
            await writer.put(dataclasses.replace(record, name="third"))
            await asyncio.sleep(1.05)  # idle past cache_s: the next get reads Redis first
            assert (await reader.get(record.id)).name == "third"
        finally:
            await client.aclose()


async def _cached_name(keys: RedisKeys, key_id: str, name: str) -> bool:
    got = await keys.get(key_id)
    return got is not None and got.name == name
