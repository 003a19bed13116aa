"""Virtual keys with the embedded default (keys in process, optionally a YAML file; counters in
process), over HTTP: the admin API and its authz, validation, limits, budgets, model access,
revocation, the keys file re-read on change."""

from __future__ import annotations

import asyncio
import json
import os

import yaml

from bedrock_gateway.keys.model import mint, parse_spec
from tests.support.constants import HAIKU, TEST_KEY
from tests.support.interpreter import gateway_command
from tests.support.keys_admin import (
    ADMIN_KEY,
    call,
    chat,
    create_key,
    usage,
    wait_usage,
)
from tests.support.polling import eventually


async def test_admin_api_authz_and_validation(make_gateway):
    gateway = await make_gateway(admin_api_key=ADMIN_KEY)
    root = gateway.root
    created = await create_key(root, team="search")
    secret = created["key"]
    # A data key (static or virtual) is refused on the admin API...
    for key in (TEST_KEY, secret, "nonsense"):
        reply = await call("GET", f"{root}/admin/v1/keys", key)
        assert reply.status == 401 and reply.body["error"]["code"] == "admin_key_required"
    # ...and the admin key on the data routes.
    reply = await chat(root, ADMIN_KEY, model=HAIKU)
    assert reply.status == 401 and reply.body["error"]["code"] == "invalid_api_key"
    reply = await call("GET", f"{root}/v1/models", ADMIN_KEY)
    assert reply.status == 401
    # Both work where they belong.
    assert (await chat(root, secret, model=HAIKU)).status == 200
    assert (await call("GET", f"{root}/admin/v1/keys", ADMIN_KEY)).status == 200

    bad = [({}, "name"), ({"name": ""}, "name"), ({"name": "x", "limits": {"rpm": -1}},
                                                  "limits.rpm"),
           ({"name": "x", "limits": {"rps": 1}}, "limits"), ({"name": "x", "models": "a"},
                                                             "models"),
           ({"name": "x", "expires_at": "tomorrow"}, "expires_at"),
           ({"name": "x", "budget": {"usd_per_month": "a lot"}}, "budget.usd_per_month"),
           ({"name": "x", "owner": "me"}, "body")]
    for body, param in bad:
        reply = await call("POST", f"{root}/admin/v1/keys", ADMIN_KEY, body)
        assert reply.status == 400, body
        assert reply.body["error"]["param"] == param, (body, reply.body)
    reply = await call("PATCH", f"{root}/admin/v1/keys/{created['id']}", ADMIN_KEY, {})
    assert reply.status == 400
    reply = await call("GET", f"{root}/admin/v1/keys/nosuchkey000", ADMIN_KEY)
    assert reply.status == 404 and reply.body["error"]["code"] == "key_not_found"
    reply = await call("GET", f"{root}/admin/v1/keys/{created['id']}/usage?days=0", ADMIN_KEY)
    assert reply.status == 400 and reply.body["error"]["param"] == "days"


async def test_admin_api_disabled_without_admin_key(gateway):
    reply = await call("GET", f"{gateway.root}/admin/v1/keys", TEST_KEY)
    assert reply.status == 404


async def test_secret_shown_once_and_crud(make_gateway):
    gateway = await make_gateway(admin_api_key=ADMIN_KEY)
    root = gateway.root
    created = await create_key(root, name="ci bot", team="platform", models=["anthropic.*"],
                               limits={"rpm": 10, "tpm": 5000, "max_streams": 2},
                               budget={"tokens_per_day": 100000},
                               expires_at="2099-01-01T00:00:00Z")
    secret = created["key"]
    assert secret.startswith(f"bgw-{created['id']}-")
    assert created["limits"] == {"rpm": 10, "tpm": 5000, "max_streams": 2}
    assert created["expires_at"] == "2099-01-01T00:00:00Z"
    for path in ("/admin/v1/keys", f"/admin/v1/keys/{created['id']}"):
        reply = await call("GET", root + path, ADMIN_KEY)
        assert reply.status == 200
        text = str(reply.body)
        assert secret not in text and "'key':" not in text and "hash" not in text
    listed = (await call("GET", f"{root}/admin/v1/keys", ADMIN_KEY)).body["data"]
    assert [k["id"] for k in listed] == [created["id"]]

    patched = await call("PATCH", f"{root}/admin/v1/keys/{created['id']}", ADMIN_KEY,
                         {"limits": {"rpm": 1}, "team": "search"})
    assert patched.status == 200 and patched.body["limits"]["rpm"] == 1
    assert patched.body["team"] == "search" and "key" not in patched.body
    assert (await chat(root, secret, model=HAIKU)).status == 200
    assert (await chat(root, secret, model=HAIKU)).status == 429

    assert (await call("DELETE", f"{root}/admin/v1/keys/{created['id']}", ADMIN_KEY)).status == 204
    reply = await chat(root, secret, model=HAIKU)
    assert reply.status == 401
    got = await call("GET", f"{root}/admin/v1/keys/{created['id']}", ADMIN_KEY)
    assert got.body["revoked"] is True


async def test_rpm_limit_headers_and_retry_after(make_gateway):
    gateway = await make_gateway(admin_api_key=ADMIN_KEY)
    created = await create_key(gateway.root, limits={"rpm": 3, "tpm": 100000})
    remaining = []
    for _ in range(3):
        reply = await chat(gateway.root, created["key"], model=HAIKU, max_tokens=100)
        assert reply.status == 200
        assert reply.headers["x-ratelimit-limit-requests"] == "3"
        assert reply.headers["x-ratelimit-limit-tokens"] == "100000"
        assert reply.headers["x-ratelimit-reset-requests"].endswith("s")
        remaining.append(reply.headers["x-ratelimit-remaining-requests"])
    assert remaining == ["2", "1", "0"]
    refused = await chat(gateway.root, created["key"], model=HAIKU)
    assert refused.status == 429
    assert refused.body["error"]["code"] == "rate_limit_exceeded"
    assert refused.body["error"]["type"] == "rate_limit_error"
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert refused.headers["x-ratelimit-remaining-requests"] == "0"
    # Another key is not affected; nor are static keys.
    other = await create_key(gateway.root, limits={"rpm": 3})
    assert (await chat(gateway.root, other["key"], model=HAIKU)).status == 200
    assert (await chat(gateway.root, TEST_KEY, model=HAIKU)).status == 200


async def test_model_access_with_patterns_and_aliases(make_gateway, tmp_path):
    aliases = tmp_path / "aliases.yaml"
    aliases.write_text(f"fast: {HAIKU}\n")
    gateway = await make_gateway(admin_api_key=ADMIN_KEY, model_aliases_file=str(aliases))
    by_pattern = await create_key(gateway.root, models=["anthropic.claude-3-haiku-*"])
    by_alias = await create_key(gateway.root, models=["fast"])
    sonnet = "anthropic.claude-3-5-sonnet-20240620-v1:0"
    assert (await chat(gateway.root, by_pattern["key"], model=HAIKU)).status == 200
    assert (await chat(gateway.root, by_pattern["key"], model="fast")).status == 200
    assert (await chat(gateway.root, by_alias["key"], model="fast")).status == 200
    for key, model in ((by_pattern["key"], sonnet), (by_alias["key"], sonnet)):
        reply = await chat(gateway.root, key, model=model)
        assert reply.status == 403
        assert reply.body["error"]["code"] == "model_not_allowed"
        assert reply.body["error"]["type"] == "permission_error"


async def test_tpm_reserves_estimate_and_settles_streamed_usage(make_gateway, emulator):
    gateway = await make_gateway(admin_api_key=ADMIN_KEY)
    created = await create_key(gateway.root, limits={"tpm": 1000})
    key = created["key"]
    # The first request reserves ~900 tokens; Bedrock's usage is a few tokens.
    first = await chat(gateway.root, key, "one two [[emu chunks=5]]", model=HAIKU,
                       max_tokens=900, stream=True)
    assert first.status == 200 and "[DONE]" in first.body
    assert int(first.headers["x-ratelimit-remaining-tokens"]) < 100
    got = await wait_usage(gateway.root, created["id"], 1)
    assert got["totals"]["output_tokens"] == 5 and got["totals"]["input_tokens"] > 0
    assert got["data"][0]["model"] == HAIKU and got["data"][0]["requests"] == 1
    # Settled: the window holds the real usage, so 500 more fit (900 + 500 would not).
    second = await chat(gateway.root, key, model=HAIKU, max_tokens=500)
    assert second.status == 200
    third = await chat(gateway.root, key, model=HAIKU, max_tokens=1000)
    assert third.status == 429
    assert third.body["error"]["code"] == "tokens_rate_limit_exceeded"
    assert third.headers["x-ratelimit-limit-tokens"] == "1000"


async def test_daily_budget_exhausted(make_gateway):
    gateway = await make_gateway(admin_api_key=ADMIN_KEY)
    created = await create_key(gateway.root, budget={"tokens_per_day": 10})
    assert (await chat(gateway.root, created["key"], "a b c [[emu chunks=9]]",
                       model=HAIKU, max_tokens=50)).status == 200
    await wait_usage(gateway.root, created["id"], 1)
    refused = await chat(gateway.root, created["key"], model=HAIKU)
    assert refused.status == 429 and refused.body["error"]["code"] == "budget_exceeded"
    assert int(refused.headers["retry-after"]) >= 1


async def test_concurrent_stream_limit(make_gateway, emulator):
    gateway = await make_gateway(admin_api_key=ADMIN_KEY)
    created = await create_key(gateway.root, limits={"max_streams": 1})
    key = created["key"]
    held = asyncio.create_task(chat(gateway.root, key, "x [[emu chunks=3 stall_after=1 "
                                    "stall_s=2]]", model=HAIKU, stream=True))
    await emulator.wait_open_streams(1)
    refused = await chat(gateway.root, key, model=HAIKU, stream=True)
    assert refused.status == 429
    assert refused.body["error"]["code"] == "concurrent_streams_exceeded"
    # Non-streamed requests are not streams.
    assert (await chat(gateway.root, key, model=HAIKU)).status == 200
    assert (await held).status == 200

    async def slot_free() -> bool:
        return (await chat(gateway.root, key, model=HAIKU, stream=True)).status == 200

    await eventually(slot_free, what="the stream slot released")


async def test_embeddings_enforced(make_gateway):
    gateway = await make_gateway(admin_api_key=ADMIN_KEY)
    created = await create_key(gateway.root, limits={"rpm": 1}, models=["cohere.*"])
    body = {"model": "cohere.embed-multilingual-v3", "input": ["a", "b"]}
    url = f"{gateway.root}/v1/embeddings"
    assert (await call("POST", url, created["key"], body)).status == 200
    assert (await call("POST", url, created["key"], body)).status == 429
    titan = {"model": "amazon.titan-embed-text-v2:0", "input": "a"}
    assert (await call("POST", url, created["key"], titan)).status == 403
    got = await wait_usage(gateway.root, created["id"], 1)
    assert got["totals"]["input_tokens"] > 0


async def test_keys_file_reloaded_on_change(make_gateway, tmp_path):
    keys_file = tmp_path / "keys.yaml"
    record, secret = mint(parse_spec({"name": "from file", "limits": {"rpm": 100}}), None)
    gateway = await make_gateway(keys_file=str(keys_file))
    assert (await chat(gateway.root, secret, model=HAIKU)).status == 401
    # An operator (or a Secret update) writes the file: the key works within the poll.
    keys_file.write_text(yaml.safe_dump({"keys": [record.stored()]}))

    async def status_becomes(expected: int) -> None:
        async def reached() -> bool:
            return (await chat(gateway.root, secret, model=HAIKU)).status == expected

        await eventually(reached, what=f"status {expected} for the file's key")

    await status_becomes(200)
    stored = record.stored()
    stored["revoked"] = True
    keys_file.write_text(yaml.safe_dump({"keys": [stored]}))
    await status_becomes(401)


async def test_admin_writes_the_keys_file(make_gateway, tmp_path):
    keys_file = tmp_path / "keys.yaml"
    gateway = await make_gateway(admin_api_key=ADMIN_KEY, keys_file=str(keys_file))
    created = await create_key(gateway.root, team="a")
    text = keys_file.read_text()
    assert created["id"] in text and created["key"] not in text
    assert (await chat(gateway.root, created["key"], model=HAIKU)).status == 200
    # A second gateway reading the same file knows the key.
    other = await make_gateway(keys_file=str(keys_file))
    assert (await chat(other.root, created["key"], model=HAIKU)).status == 200
    got = await usage(gateway.root, created["id"])
    assert got["key_id"] == created["id"]


async def test_usd_budget_from_the_price_table(make_gateway, tmp_path):
    prices = tmp_path / "prices.yaml"
    # 1 USD per input and per output token for Haiku: one request spends the budget.
    prices.write_text('"anthropic.claude-3-haiku-*": {input_per_million: 1000000, '
                      'output_per_million: 1000000}\n')
    gateway = await make_gateway(admin_api_key=ADMIN_KEY, keys_price_table_file=str(prices))
    created = await create_key(gateway.root, budget={"usd_per_month": 2})
    assert (await chat(gateway.root, created["key"], "a b [[emu chunks=3]]",
                       model=HAIKU)).status == 200
    await wait_usage(gateway.root, created["id"], 1)
    refused = await chat(gateway.root, created["key"], model=HAIKU)
    assert refused.status == 429 and refused.body["error"]["code"] == "budget_exceeded"
    assert "USD" in refused.body["error"]["message"]
    # Embeddings models have no price here: a key with only an embeddings budget is unaffected.
    cheap = await create_key(gateway.root, budget={"usd_per_month": 2})
    body = {"model": "cohere.embed-multilingual-v3", "input": ["a"]}
    for _ in range(2):
        reply = await call("POST", f"{gateway.root}/v1/embeddings", cheap["key"], body)
        assert reply.status == 200


async def _cli(root: str, *args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        *gateway_command(module="bedrock_gateway.keys"), "--url", root, *args,
        env={**os.environ, "ADMIN_API_KEY": ADMIN_KEY},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await proc.communicate()
    return proc.returncode or 0, out.decode(), err.decode()


async def test_cli_over_the_admin_api(make_gateway):
    gateway = await make_gateway(admin_api_key=ADMIN_KEY)
    code, out, _ = await _cli(gateway.root, "create", "--name", "cli", "--team", "ops",
                              "--model", "anthropic.*", "--rpm", "2", "--tokens-per-day", "9999")
    assert code == 0
    created = json.loads(out)
    assert created["limits"]["rpm"] == 2 and created["budget"]["tokens_per_day"] == 9999
    assert (await chat(gateway.root, created["key"], model=HAIKU)).status == 200
    code, out, _ = await _cli(gateway.root, "list")
    assert [k["id"] for k in json.loads(out)["data"]] == [created["id"]]
    assert created["key"] not in out
    code, out, _ = await _cli(gateway.root, "update", created["id"], "--rpm", "7")
    assert json.loads(out)["limits"]["rpm"] == 7
    await wait_usage(gateway.root, created["id"], 1)
    code, out, _ = await _cli(gateway.root, "usage", created["id"], "--days", "2")
    assert json.loads(out)["totals"]["requests"] == 1
    code, out, _ = await _cli(gateway.root, "revoke", created["id"])
    assert code == 0
    assert (await chat(gateway.root, created["key"], model=HAIKU)).status == 401
    code, _, err = await _cli(gateway.root, "create", "--rpm", "1")
    assert code == 1 and "error 400" in err and "name" in err
    code, _, err = await _cli(gateway.root, "get", "nosuchkey000")
    assert code == 1 and "error 404" in err


async def test_cli_record_makes_a_keys_file_entry(make_gateway, tmp_path):
    code, out, err = await _cli("http://127.0.0.1:1", "record", "--name", "offline",
                                "--rpm", "5")
    assert code == 0
    secret = err.split("shown once; give it to the key's owner): ")[1].strip()
    assert secret not in out
    keys_file = tmp_path / "keys.yaml"
    keys_file.write_text(out)
    gateway = await make_gateway(keys_file=str(keys_file))
    reply = await chat(gateway.root, secret, model=HAIKU)
    assert reply.status == 200 and reply.headers["x-ratelimit-limit-requests"] == "5"


async def test_messages_and_bedrock_invoke_enforced(make_gateway):
    """The Anthropic Messages route and Bedrock's InvokeModel format check the key like chat."""
    gateway = await make_gateway(admin_api_key=ADMIN_KEY)
    created = await create_key(gateway.root, limits={"rpm": 1},
                               models=["anthropic.claude-sonnet-4-5*", "claude-sonnet-4-5"])
    body = {"model": "claude-sonnet-4-5", "max_tokens": 50,
            "messages": [{"role": "user", "content": "hi [[emu chunks=2]]"}]}
    url = f"{gateway.root}/v1/messages"
    first = await call("POST", url, created["key"], body)
    assert first.status == 200, first.body
    assert first.headers["x-ratelimit-limit-requests"] == "1"
    second = await call("POST", url, created["key"], body)
    assert second.status == 429
    assert second.body["type"] == "error"
    assert second.body["error"]["type"] == "rate_limit_error"
    other = await create_key(gateway.root, models=["cohere.*"])
    refused = await call("POST", url, other["key"], body)
    assert refused.status == 403
    assert refused.body["error"]["type"] == "permission_error"
    invoke = f"{gateway.root}/bedrock/model/{HAIKU}/invoke"
    native = {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 20,
              "messages": [{"role": "user", "content": "hi"}]}
    assert (await call("POST", invoke, other["key"], native)).status == 403
    got = await wait_usage(gateway.root, created["id"], 1)
    assert got["totals"]["output_tokens"] > 0
