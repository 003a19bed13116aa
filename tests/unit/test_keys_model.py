"""Virtual key records, secrets and hashes, validation, the admission rule and the in-process
limiter (pure logic; the HTTP behaviour is in tests/e2e/test_keys_*.py)."""

from __future__ import annotations

import dataclasses

import pytest

from bedrock_gateway.errors import InvalidRequestError
from bedrock_gateway.keys.limiter import MemoryLimiter, Usage, Windows, decide
from bedrock_gateway.keys.model import (
    Budget,
    Limits,
    from_stored,
    hash_secret,
    key_id_of,
    mint,
    parse_spec,
    verify_secret,
)
from bedrock_gateway.keys.prices import Price, PriceTable


def test_secret_format_id_lookup_and_hash():
    record, secret = mint(parse_spec({"name": "a"}), "pepper")
    assert key_id_of(secret) == record.id
    assert secret not in str(record.stored()) and secret not in repr(record)
    assert verify_secret(record, secret, "pepper")
    assert not verify_secret(record, secret, "other pepper")
    assert not verify_secret(record, secret[:-1] + ("A" if secret[-1] != "A" else "B"),
                             "pepper")
    other, _ = mint(parse_spec({"name": "a"}), "pepper")
    assert other.salt != record.salt  # per-key salt: equal secrets would still hash apart
    assert hash_secret(secret, record.salt, "pepper") == record.hash
    for bad in ("sk-plain", "bgw-short-x", f"bgw-{record.id}-", f"bgw-{record.id.upper()}-"
                "x" * 43, "bgw-" + "a" * 12 + "-" + "b" * 43 + "\n"):
        assert key_id_of(bad) is None


def test_stored_record_round_trip():
    spec = parse_spec({"name": "n", "team": "t", "models": ["anthropic.*", "fast"],
                       "limits": {"rpm": 1, "tpm": 2, "max_streams": 3},
                       "budget": {"tokens_per_day": 4, "tokens_per_month": 5,
                                  "usd_per_month": 6.5},
                       "expires_at": "2030-01-02T03:04:05Z"})
    record, _ = mint(spec, None, now=1_700_000_000.0)
    again = from_stored(record.stored())
    assert again == record
    assert record.public()["expires_at"] == "2030-01-02T03:04:05Z"
    assert "hash" not in record.public() and "salt" not in record.public()
    with pytest.raises(ValueError, match="salt and hash"):
        from_stored({"id": record.id, "name": "x"})
    with pytest.raises(ValueError, match="bad key id"):
        from_stored({**record.stored(), "id": "../../etc"})


@pytest.mark.parametrize(("body", "param"), [
    ({"name": "x", "limits": {"rpm": True}}, "limits.rpm"),
    ({"name": "x", "limits": {"tpm": 1.5}}, "limits.tpm"),
    ({"name": "x", "limits": []}, "limits"),
    ({"name": "x", "models": ["a"] * 65}, "models"),
    ({"name": "x", "team": 3}, "team"),
    ({"name": "x\n"}, "name"),
    ({"name": "x", "budget": {"tokens_per_week": 1}}, "budget"),
    ([], "body"),
])
def test_validation_names_the_field(body, param):
    with pytest.raises(InvalidRequestError) as info:
        parse_spec(body)
    assert info.value.param == param


def test_partial_update_and_expiry():
    assert parse_spec({"limits": {"rpm": 3}}, partial=True) == {"limits": Limits(rpm=3)}
    record, _ = mint(parse_spec({"name": "x", "expires_at": 100}), None)
    assert record.expired(now=100) and not record.expired(now=99)


def test_model_patterns():
    record, _ = mint(parse_spec({"name": "x", "models": ["anthropic.claude-3-*", "fast"]}), None)
    assert record.allows_model("fast", "meta.llama3", None)
    assert record.allows_model("other", "anthropic.claude-3-haiku-20240307-v1:0")
    assert not record.allows_model("meta.llama3-8b", "meta.llama3-8b")
    assert dataclasses.replace(record, models=()).allows_model("anything")


def test_decide_order_and_empty_token_window():
    limits, budget = Limits(rpm=2, tpm=100, max_streams=1), Budget(tokens_per_day=50)
    base = {"requests": 0, "tokens": 0, "streams": 0, "day": 0, "month": 0, "usd_micros": 0,
            "estimate": 500, "stream": True}
    assert decide(limits, budget, **base) == "ok"  # an empty window admits a big request
    assert decide(limits, budget, **{**base, "requests": 2}) == "rpm"
    assert decide(limits, budget, **{**base, "tokens": 1}) == "tpm"
    assert decide(limits, budget, **{**base, "day": 50}) == "budget_day"
    assert decide(limits, budget, **{**base, "streams": 1}) == "streams"
    assert decide(limits, budget, **{**base, "streams": 1, "stream": False}) == "ok"
    assert decide(Limits(), Budget(usd_per_month=1), **{**base, "usd_micros": 10**6}) \
        == "budget_usd"


async def test_memory_limiter_windows_and_settle():
    record, _ = mint(parse_spec({"name": "x", "limits": {"rpm": 2, "tpm": 1000}}), None)
    limiter = MemoryLimiter()
    now = 1_800_000_000.0 - 1_800_000_000.0 % 60  # the start of a minute
    first = await limiter.reserve(record, 600, False, now=now)
    assert first.allowed and first.tokens_used == 600 and first.reset_s == 60
    assert not (await limiter.reserve(record, 600, False, now=now + 1)).allowed  # tpm
    await limiter.settle(first.reservation, Usage("m", 10, 20, 5))
    second = await limiter.reserve(record, 600, False, now=now + 2)
    assert second.allowed and second.tokens_used == 630
    assert (await limiter.reserve(record, 1, False, now=now + 3)).outcome == "rpm"
    assert (await limiter.reserve(record, 1, False, now=now + 60)).allowed  # a new minute
    rows = await limiter.usage(record.id, [Windows.at(now).day])
    assert rows == [{"date": rows[0]["date"], "model": "m", "requests": 1, "input_tokens": 10,
                     "output_tokens": 20, "cached_tokens": 5}]


async def test_stream_leases_expire():
    record, _ = mint(parse_spec({"name": "x", "limits": {"max_streams": 1}}), None)
    limiter = MemoryLimiter(lease_s=10)
    assert (await limiter.reserve(record, 1, True, now=1000.0)).allowed
    assert (await limiter.reserve(record, 1, True, now=1005.0)).outcome == "streams"
    # A process that died holding a slot frees it when its lease ends.
    assert (await limiter.reserve(record, 1, True, now=1011.0)).allowed


def test_price_table():
    table = PriceTable({"*haiku*": Price(0.25, 1.25)})
    assert table.micros(("fast", "anthropic.claude-3-haiku"), 1000, 1000) == 1500
    assert table.micros(("llama",), 1000, 1000) == 0


def test_key_settings_are_validated_by_name():
    from bedrock_gateway.settings import Settings, SettingsError

    with pytest.raises(SettingsError) as info:
        Settings.from_env({"API_KEY": "k" * 20, "ADMIN_API_KEY": "short",
                           "REDIS_FAILURE_POLICY": "maybe", "KEYS_CACHE_SECONDS": "5",
                           "KEYS_REDIS_TIMEOUT_SECONDS": "0", "KEYS_DEFAULT_OUTPUT_TOKENS": "0"})
    text = str(info.value)
    for name in ("ADMIN_API_KEY", "REDIS_FAILURE_POLICY", "KEYS_CACHE_SECONDS",
                 "KEYS_REDIS_TIMEOUT_SECONDS", "KEYS_DEFAULT_OUTPUT_TOKENS"):
        assert name in text
    with pytest.raises(SettingsError, match="ADMIN_API_KEY must differ"):
        Settings.from_env({"API_KEY": "x" * 20, "ADMIN_API_KEY": "x" * 20})
    settings = Settings.from_env({"ADMIN_API_KEY": "a" * 20})
    assert settings.has_key_source() and settings.redis_failure_policy == "open"
