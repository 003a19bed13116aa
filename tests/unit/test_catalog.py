"""The model catalog: table-driven from tests/fixtures/catalog/*.json (listings in botocore's
shapes -> expected ids, resolution, errors), plus the refresher driven by fake fetch functions."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import datetime
from pathlib import Path

import pytest

from bedrock_gateway.bedrock.catalog import (
    Catalog,
    CatalogRefresher,
    RegionListing,
    build_catalog,
    load_aliases,
)
from bedrock_gateway.errors import ModelNotFoundError

FIXTURE_DIR = Path(__file__).parents[1] / "fixtures" / "catalog"
FIXTURES = sorted(FIXTURE_DIR.glob("*.json"))
BASIC = FIXTURE_DIR / "us_east_1_basic.json"
_TIMESTAMPS = {"createdAt", "updatedAt", "startOfLifeTime", "endOfLifeTime", "legacyTime"}


def _as_botocore(value):
    """JSON timestamps -> datetime, as botocore's parser returns them."""
    if isinstance(value, dict):
        return {k: datetime.fromisoformat(v)
                if k in _TIMESTAMPS and isinstance(v, str) else _as_botocore(v)
                for k, v in value.items()}
    if isinstance(value, list):
        return [_as_botocore(v) for v in value]
    return value


def _build(path: Path) -> tuple[Catalog, dict]:
    case = json.loads(path.read_text())
    listings = {region: RegionListing.from_dict(_as_botocore(data))
                for region, data in case["listings"].items()}
    return build_catalog(listings, **case["options"]), case["expect"]


@pytest.fixture(params=FIXTURES, ids=[p.stem for p in FIXTURES])
def built(request):
    return _build(request.param)


def test_fixtures_exist():
    assert len(FIXTURES) >= 5


def test_listed_ids(built):
    catalog, expect = built
    assert sorted(catalog.entries) == expect["ids"]
    assert catalog.size == len(expect["ids"])
    assert [row["id"] for row in catalog.list_models()] == expect["ids"]


def test_entry_fields(built):
    catalog, expect = built
    for model_id, fields in expect.get("entries", {}).items():
        entry = catalog.entries[model_id]
        assert entry.id == model_id
        for name, value in fields.items():
            got = getattr(entry, name)
            assert (list(got) if isinstance(got, tuple) else got) == value, (model_id, name)


def test_resolve(built):
    catalog, expect = built
    for requested, model_id in expect.get("resolve", {}).items():
        assert catalog.resolve(requested).id == model_id, requested


def test_not_found(built):
    catalog, expect = built
    for requested in expect.get("not_found", []):
        with pytest.raises(ModelNotFoundError) as info:
            catalog.resolve(requested)
        assert info.value.status == 404 and info.value.param == "model"


def test_regions_for(built):
    catalog, expect = built
    for requested, regions in expect.get("regions_for", {}).items():
        assert list(catalog.resolve(requested).regions) == regions


def test_aliases_and_list_rows(built):
    catalog, expect = built
    if "aliases" in expect:
        assert dict(catalog.aliases) == expect["aliases"]
    if "list_models" in expect:
        spec = expect["list_models"]
        assert catalog.list_models(spec["kind"]) == spec["rows"]


def test_every_listed_entry_resolves_to_itself(built):
    catalog, _ = built
    for model_id, entry in catalog.entries.items():
        assert catalog.resolve(model_id) is entry
        assert entry.regions, model_id


def test_catalog_is_immutable():
    catalog, _ = _build(FIXTURES[0])
    with pytest.raises(TypeError):
        catalog.entries["x"] = None  # type: ignore[index]
    with pytest.raises(AttributeError):
        catalog.aliases = {}  # type: ignore[misc]


def test_list_models_filters_and_aliases():
    catalog, _ = _build(BASIC)
    embeddings = catalog.list_models(output="embedding")
    assert [r["id"] for r in embeddings] == ["amazon.titan-embed-text-v2:0",
                                             "cohere.embed-english-v3"]
    assert all(r["object"] == "model" and isinstance(r["created"], int) for r in embeddings)
    with_aliases = catalog.list_models(output="embedding", include_aliases=True)
    assert with_aliases[-1] == {"id": "text-embedding-3-small", "object": "model", "created": 0,
                                "owned_by": "Amazon"}


def test_dropped_alias_is_logged(caplog):
    with caplog.at_level(logging.WARNING, logger="bedrock_gateway.bedrock.catalog"):
        catalog, _ = _build(BASIC)
    assert "gone" not in catalog.aliases
    assert any("gone" in r.getMessage() for r in caplog.records)


def test_empty_catalog():
    catalog = build_catalog({}, cross_region=True, application_profiles=True, aliases={"a": "b"},
                            primary_region="us-east-1")
    assert catalog.size == 0 and catalog.list_models() == [] and not catalog.aliases
    with pytest.raises(ModelNotFoundError):
        catalog.resolve("anything")
    assert Catalog().size == 0


@pytest.mark.parametrize("text, expected", [
    ("gpt-4o-mini: anthropic.claude-3-haiku-20240307-v1:0\n",
     {"gpt-4o-mini": "anthropic.claude-3-haiku-20240307-v1:0"}),
    ("aliases:\n  small: amazon.titan-embed-text-v2:0\n",
     {"small": "amazon.titan-embed-text-v2:0"}),
    ('{"a": "b", "c": "d"}', {"a": "b", "c": "d"}),
    ("", {}),
])
def test_load_aliases(tmp_path, text, expected):
    path = tmp_path / "aliases.yaml"
    path.write_text(text)
    assert load_aliases(str(path)) == expected


@pytest.mark.parametrize("text", ["- a\n- b\n", "a: 1\n", "a: {b: c}\n"])
def test_load_aliases_rejects_non_string_mappings(tmp_path, text):
    path = tmp_path / "aliases.yaml"
    path.write_text(text)
    with pytest.raises(ValueError, match="aliases"):
        load_aliases(str(path))


# ---- the refresher, with fake fetch functions ------------------------------------------------

def _listing(*model_ids: str) -> RegionListing:
    return RegionListing(tuple(
        {"modelId": m, "modelName": m, "providerName": "P", "outputModalities": ["TEXT"],
         "inferenceTypesSupported": ["ON_DEMAND"], "modelLifecycle": {"status": "ACTIVE"}}
        for m in model_ids))


def _builder(listings):
    return build_catalog(listings, cross_region=True, application_profiles=True, aliases={},
                         primary_region="us-east-1")


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Script:
    """A fetch function that answers from a script: per round, per region, a listing or an error."""

    def __init__(self, rounds: list[dict[str, object]]) -> None:
        self.rounds, self.round = rounds, 0
        self.calls: list[tuple[int, str]] = []

    async def __call__(self, region: str) -> RegionListing:
        self.calls.append((self.round, region))
        await asyncio.sleep(0)
        answer = self.rounds[min(self.round, len(self.rounds) - 1)][region]
        if isinstance(answer, BaseException):
            raise answer
        return answer  # type: ignore[return-value]


def _refresher(script: Script, regions=("us-east-1",), **kw) -> tuple[CatalogRefresher, list]:
    delays: list[float] = []
    clock = kw.pop("clock", FakeClock())

    async def sleep(seconds: float) -> None:
        delays.append(seconds)
        script.round += 1
        clock.now += seconds
        if script.round >= len(script.rounds):
            raise asyncio.CancelledError  # end the test's run(), as a task cancel would
    refresher = CatalogRefresher(script, regions, interval_s=kw.pop("interval_s", 300.0),
                                 build=kw.pop("build", _builder), sleep=sleep, clock=clock,
                                 jitter=kw.pop("jitter", lambda: 1.0), **kw)
    return refresher, delays


async def test_first_load_sets_ready_and_publishes():
    updates: list[Catalog] = []
    script = Script([{"us-east-1": _listing("m1")}])
    refresher, delays = _refresher(script, on_update=updates.append)
    assert not refresher.ready.is_set() and refresher.current is None
    assert refresher.age_seconds() is None
    with pytest.raises(asyncio.CancelledError):
        await refresher.run()
    assert refresher.ready.is_set()
    assert list(refresher.current.entries) == ["m1"]
    assert updates == [refresher.current]
    assert delays == [300.0]
    assert refresher.age_seconds() == 300.0  # the fake sleep advanced the clock


async def test_failure_keeps_last_good_catalog():
    script = Script([{"us-east-1": _listing("m1")}, {"us-east-1": OSError("boom")},
                     {"us-east-1": _listing("m1", "m2")}])
    seen: list = []
    refresher, _ = _refresher(script, on_update=seen.append)
    await refresher.refresh_once()
    good = refresher.current
    script.round = 1
    assert await refresher.refresh_once() is False
    assert refresher.current is good and refresher.ready.is_set()
    script.round = 2
    assert await refresher.refresh_once() is True
    assert sorted(refresher.current.entries) == ["m1", "m2"]
    assert len(seen) == 2


async def test_backoff_grows_to_the_interval_then_resets(caplog):
    boom = {"us-east-1": ConnectionError("secret-token-should-not-be-logged")}
    script = Script([boom] * 7 + [{"us-east-1": _listing("m1")}, {"us-east-1": _listing("m1")}])
    refresher, delays = _refresher(script, interval_s=10.0)
    with caplog.at_level(logging.WARNING), pytest.raises(asyncio.CancelledError):
        await refresher.run()
    assert delays == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0, 10.0, 10.0, 10.0]
    assert not any("secret-token" in r.getMessage() for r in caplog.records)
    assert any("ConnectionError" in r.getMessage() for r in caplog.records)
    assert refresher.ready.is_set() and refresher.consecutive_failures == 0


@pytest.mark.parametrize("jitter, first, third",
                         [(0.0, 0.5, 2.0), (0.5, 0.75, 3.0), (1.0, 1.0, 4.0)])
async def test_backoff_is_jittered_within_half_to_full(jitter, first, third):
    boom = {"us-east-1": TimeoutError()}
    refresher, delays = _refresher(Script([boom] * 3), jitter=lambda: jitter)
    with pytest.raises(asyncio.CancelledError):
        await refresher.run()
    assert delays[0] == first and delays[2] == third
    assert not refresher.ready.is_set()


async def test_partial_region_failure_keeps_that_regions_last_listing():
    regions = ("us-east-1", "eu-west-1")
    script = Script([
        {"us-east-1": _listing("m1"), "eu-west-1": _listing("m1", "eu-only")},
        {"us-east-1": _listing("m1", "new"), "eu-west-1": RuntimeError("down")},
    ])
    refresher, _ = _refresher(script, regions=regions)
    assert await refresher.refresh_once() is True
    script.round = 1
    # Partial: published (fresh us-east-1, last good eu-west-1), but reported as not clean.
    assert await refresher.refresh_once() is False
    entries = refresher.current.entries
    assert sorted(entries) == ["eu-only", "m1", "new"]
    assert entries["eu-only"].regions == ("eu-west-1",)
    assert entries["m1"].regions == ("us-east-1", "eu-west-1")


async def test_partial_failure_on_first_load_still_becomes_ready():
    script = Script([{"us-east-1": OSError(), "eu-west-1": _listing("m1")}])
    refresher, _ = _refresher(script, regions=("us-east-1", "eu-west-1"))
    assert await refresher.refresh_once() is False
    assert refresher.ready.is_set()
    assert refresher.current.entries["m1"].regions == ("eu-west-1",)


async def test_regions_are_fetched_concurrently():
    started: list[str] = []
    gate = asyncio.Event()

    async def fetch(region: str) -> RegionListing:
        started.append(region)
        if len(started) == 2:
            gate.set()
        await asyncio.wait_for(gate.wait(), 1.0)  # only returns if both were in flight at once
        return _listing("m1")
    refresher = CatalogRefresher(fetch, ["a", "b"], interval_s=1, build=_builder)
    assert await refresher.refresh_once() is True


async def test_a_hung_fetch_times_out():
    async def fetch(region: str) -> RegionListing:
        await asyncio.sleep(10)
        raise AssertionError("unreachable")
    refresher = CatalogRefresher(fetch, ["a"], interval_s=1, build=_builder, fetch_timeout_s=0.01)
    assert await refresher.refresh_once() is False


async def test_run_survives_build_and_hook_errors():
    def bad_build(listings):
        raise KeyError("bug")
    script = Script([{"us-east-1": _listing("m1")}] * 2)
    refresher, delays = _refresher(script, build=bad_build)
    with pytest.raises(asyncio.CancelledError):
        await refresher.run()
    assert delays == [1.0, 2.0] and refresher.current is None

    def bad_hook(catalog):
        raise RuntimeError("hook")
    refresher, delays = _refresher(Script([{"us-east-1": _listing("m1")}]), on_update=bad_hook)
    with pytest.raises(asyncio.CancelledError):
        await refresher.run()
    assert refresher.ready.is_set() and delays == [300.0]


async def test_run_as_a_task_does_not_block_and_cancels_cleanly():
    fetched = asyncio.Event()

    async def fetch(region: str) -> RegionListing:
        fetched.set()
        return _listing("m1")
    refresher = CatalogRefresher(fetch, ["us-east-1"], interval_s=3600, build=_builder)
    task = asyncio.create_task(refresher.run())
    await asyncio.wait_for(refresher.ready.wait(), 1.0)
    assert fetched.is_set() and refresher.current.size == 1
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
