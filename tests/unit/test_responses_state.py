"""The in-process response store's bounds, the reasoning sealer, the new settings, and the
bodies of the stored-response routes (deletion, input-item pages)."""

from __future__ import annotations


import pytest

from bedrock_gateway.errors import InvalidRequestError
from bedrock_gateway.protocols.openai_responses import (
    ReasoningSealer,
    deleted_response,
    input_items_page,
)
from bedrock_gateway.settings import Settings, SettingsError
from bedrock_gateway.storage.response_store import MemoryResponseStore

from tests.support.polling import eventually


def record(i: int, size: int = 10) -> dict:
    return {"id": f"resp_{i}", "owner": "o", "response": {"x": "y" * size}}


async def test_memory_store_evicts_oldest_by_count_and_bytes() -> None:
    store = MemoryResponseStore(max_items=3, max_bytes=10_000, ttl_s=60)
    for i in range(5):
        await store.put(record(i))
    assert [await store.get(f"resp_{i}") is not None for i in range(5)] == [
        False, False, True, True, True]
    small = MemoryResponseStore(max_items=100, max_bytes=300, ttl_s=60)
    for i in range(5):
        await small.put(record(i, size=100))
    assert small.bytes <= 300 and len(small) == 2
    assert await small.get("resp_4") == record(4, size=100)
    await small.put(record(9, size=1000))  # larger than the whole store: not kept
    assert await small.get("resp_9") is None and len(small) == 2
    assert await small.delete("resp_4") and not await small.delete("resp_4")


async def test_memory_store_expires_after_ttl() -> None:
    store = MemoryResponseStore(max_items=10, max_bytes=10_000, ttl_s=0.05)
    await store.put(record(1))

    async def expired() -> bool:
        return await store.get("resp_1") is None

    await eventually(expired, what="the record expired")
    assert len(store) == 0 and store.bytes == 0


def test_sealer_round_trip_tamper_and_rotation() -> None:
    old = ReasoningSealer(["old"])
    rotated = ReasoningSealer(["new", "old"])
    sealed = old.seal({"text": "t", "signature": "s"})
    assert rotated.open(sealed) == {"text": "t", "signature": "s"}
    assert old.open(rotated.seal({"a": 1})) is None  # the newest key seals
    assert ReasoningSealer(["other"]).open(sealed) is None
    for bad in (sealed[:-2] + ("AA" if sealed[-2:] != "AA" else "BB"), "bgr1.", "x", "bgr1.!!"):
        assert old.open(bad) is None
    assert old.seal({"a": 1}) != old.seal({"a": 1})  # a fresh nonce each time


@pytest.mark.parametrize("env, message", [
    ({"RESPONSES_HOSTED_TOOLS": "maybe"}, "RESPONSES_HOSTED_TOOLS"),
    ({"RESPONSES_STORE_MAX_ITEMS": "0"}, "RESPONSES_STORE_MAX_ITEMS"),
    ({"REDIS_URL": "http://x"}, "REDIS_URL"),
    ({"REDIS_TIMEOUT_SECONDS": "0"}, "REDIS_TIMEOUT_SECONDS"),
])
def test_bad_responses_settings_are_named(env, message) -> None:
    with pytest.raises(SettingsError, match=message):
        Settings.from_env(env)


def test_responses_settings_parse() -> None:
    settings = Settings.from_env({"RESPONSES_ENCRYPTION_KEY": "a, b", "REDIS_URL":
                                  "redis://127.0.0.1:6379/0", "RESPONSES_HOSTED_TOOLS": "Reject"})
    assert settings.responses_encryption_keys == ("a", "b")
    assert settings.responses_hosted_tools == "reject"
    assert "responses_encryption_keys" not in repr(settings)
    assert "redis://" not in repr(settings)


ITEMS = [{"id": f"msg_{i}", "type": "message"} for i in range(5)]


def test_input_items_pages_newest_first_by_default() -> None:
    page = input_items_page(ITEMS, order=None, limit=None, after=None)
    assert [i["id"] for i in page["data"]] == ["msg_4", "msg_3", "msg_2", "msg_1", "msg_0"]
    assert (page["object"], page["first_id"], page["last_id"], page["has_more"]) == (
        "list", "msg_4", "msg_0", False)
    first = input_items_page(ITEMS, order="asc", limit="2", after=None)
    assert [i["id"] for i in first["data"]] == ["msg_0", "msg_1"] and first["has_more"]
    rest = input_items_page(ITEMS, order="asc", limit="2", after=first["last_id"])
    assert [i["id"] for i in rest["data"]] == ["msg_2", "msg_3"] and rest["has_more"]
    last = input_items_page(ITEMS, order="asc", limit="2", after=rest["last_id"])
    assert [i["id"] for i in last["data"]] == ["msg_4"] and not last["has_more"]
    empty = input_items_page([], order=None, limit=None, after=None)
    assert (empty["data"], empty["first_id"], empty["last_id"]) == ([], None, None)


@pytest.mark.parametrize("query, param", [
    ({"limit": "0"}, "limit"), ({"limit": "101"}, "limit"), ({"limit": "ten"}, "limit"),
    ({"order": "newest"}, "order"), ({"order": ""}, "order"), ({"after": "msg_9"}, "after"),
])
def test_a_bad_input_items_query_names_its_parameter(query: dict, param: str) -> None:
    with pytest.raises(InvalidRequestError) as info:
        input_items_page(ITEMS, **{"order": None, "limit": None, "after": None, **query})
    assert info.value.param == param


def test_the_deletion_body() -> None:
    assert deleted_response("resp_1") == {"id": "resp_1", "object": "response.deleted",
                                          "deleted": True}
