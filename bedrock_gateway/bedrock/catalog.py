"""The model catalog: what the gateway can call on Bedrock, and in which regions.

`build_catalog` is pure: raw control-plane listings (botocore's response shapes) in, an immutable
`Catalog` out. `CatalogRefresher` is the only part that waits on anything; it is handed its fetch
function, so it never holds a client and its tests need no botocore.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any, Literal

from bedrock_gateway.errors import ModelNotFoundError
from bedrock_gateway.conversation.model_ids import (
    geo_prefix,
    named_model_id,
    parse_bedrock_arn,
    profile_geographies,
)

log = logging.getLogger(__name__)

Kind = Literal["foundation", "system_profile", "application_profile"]
Output = Literal["text", "embedding"]

@dataclass(frozen=True, slots=True)
class RegionListing:
    """One region's raw answers: `modelSummaries` of ListFoundationModels and the
    `inferenceProfileSummaries` of ListInferenceProfiles (both types, all pages)."""

    model_summaries: tuple[Mapping[str, Any], ...] = ()
    inference_profile_summaries: tuple[Mapping[str, Any], ...] = ()

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RegionListing:
        return cls(tuple(data.get("modelSummaries") or ()),
                   tuple(data.get("inferenceProfileSummaries") or ()))


@dataclass(frozen=True, slots=True)
class CatalogEntry:
    id: str  # exactly what is sent to Bedrock as modelId
    kind: Kind
    base_model_id: str
    name: str
    provider: str
    output: Output
    regions: tuple[str, ...]  # regions whose listing holds it, primary first
    streaming: bool
    created: int
    legacy: bool = False  # Bedrock marks it LEGACY: still callable, on its way out


@dataclass(frozen=True, slots=True)
class Catalog:
    entries: Mapping[str, CatalogEntry] = field(default_factory=lambda: MappingProxyType({}))
    aliases: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    # Every other accepted name (aliases, application profile ids, bare ids of profile-only
    # models) -> entry id, precedence already settled at build time.
    names: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def size(self) -> int:
        return len(self.entries)

    def resolve(self, requested: str) -> CatalogEntry:
        """The entry for an id, alias, model/profile ARN, or bare id of a profile-only model.
        Clients sometimes send the ARN they copied from the console instead of the id."""
        entry = self._lookup(requested)
        if entry is None and (named := named_model_id(requested)) != requested:
            entry = self._lookup(named)
        if entry is None:
            raise ModelNotFoundError(requested)
        return entry

    def list_models(self, kind: Kind | None = None, *, output: Output | None = None,
                    include_aliases: bool = False) -> list[dict]:
        """Entries in OpenAI's /v1/models shape, sorted by id."""
        chosen = [e for e in self.entries.values()
                  if (kind is None or e.kind == kind) and (output is None or e.output == output)]
        named = [(e.id, e) for e in sorted(chosen, key=lambda e: e.id)]
        if include_aliases:
            ids = {e.id for e in chosen}
            named += [(a, self.entries[t]) for a, t in sorted(self.aliases.items()) if t in ids]
        return [{"id": name, "object": "model", "created": e.created, "owned_by": e.provider}
                for name, e in named]

    def _lookup(self, name: str) -> CatalogEntry | None:
        return self.entries.get(name) or self.entries.get(self.names.get(name, ""))


def build_catalog(per_region: Mapping[str, RegionListing], *, cross_region: bool,
                  application_profiles: bool, aliases: Mapping[str, str],
                  primary_region: str) -> Catalog:
    """Build the catalog of what is callable, from every region's listings."""
    order = sorted(per_region, key=lambda r: r != primary_region)  # stable: primary first
    meta: dict[str, Mapping[str, Any]] = {}  # usable model id -> its summary (first region)
    on_demand: dict[str, list[str]] = {}
    for region in order:
        for summary in per_region[region].model_summaries:
            model_id = summary.get("modelId")
            if not model_id or _output_of(summary) is None or _status(summary) is None:
                continue
            meta.setdefault(model_id, summary)
            if "ON_DEMAND" in (summary.get("inferenceTypesSupported") or ()):
                on_demand.setdefault(model_id, []).append(region)

    entries: dict[str, CatalogEntry] = {
        mid: _entry(mid, "foundation", meta[mid], regions,
                    created=(meta[mid].get("modelLifecycle") or {}).get("startOfLifeTime"))
        for mid, regions in on_demand.items()}
    names: dict[str, str] = {}
    wanted = {"SYSTEM_DEFINED"} if cross_region else set()
    if application_profiles:
        wanted.add("APPLICATION")
    for entry, profile_id in _profile_entries(per_region, order, meta, wanted):
        entries[entry.id] = entry
        if profile_id != entry.id:  # an application profile is also reachable by its short id
            names.setdefault(profile_id, entry.id)

    # A model callable only through profiles is listed as its profiles, yet its bare id still
    # works: it goes to the profile of the primary region's geography.
    for model_id in meta.keys() - on_demand.keys():
        profiles = [e for e in entries.values()
                    if e.kind == "system_profile" and e.base_model_id == model_id]
        if profiles:
            names[model_id] = min(profiles, key=lambda e: _profile_rank(e, primary_region)).id

    frozen = Catalog(MappingProxyType(entries), MappingProxyType({}), MappingProxyType(dict(names)))
    kept: dict[str, str] = {}
    for alias, target in aliases.items():
        if alias in entries:
            log.warning("model alias %r ignored: it is already a model id", alias)
            continue
        try:
            kept[alias] = names[alias] = frozen.resolve(target).id
        except ModelNotFoundError:
            log.warning("model alias %r dropped: %r is not in the catalog", alias, target)
    return Catalog(MappingProxyType(entries), MappingProxyType(kept), MappingProxyType(names))


def _output_of(summary: Mapping[str, Any]) -> Output | None:
    outputs = set(summary.get("outputModalities") or ())
    if "IMAGE" in outputs:
        return None  # image generators do not fit chat or embeddings
    if "EMBEDDING" in outputs:
        return "embedding"
    return "text" if "TEXT" in outputs else None


def _status(summary: Mapping[str, Any]) -> str | None:
    status = (summary.get("modelLifecycle") or {}).get("status", "ACTIVE")
    return status if status in ("ACTIVE", "LEGACY") else None


def _entry(entry_id: str, kind: Kind, model: Mapping[str, Any], regions: Iterable[str], *,
           name: str | None = None, created: object = None) -> CatalogEntry:
    base, output = model["modelId"], _output_of(model) or "text"
    return CatalogEntry(
        id=entry_id, kind=kind, base_model_id=base, name=name or model.get("modelName") or base,
        provider=model.get("providerName") or base.split(".")[0], output=output,
        regions=tuple(regions),
        # Some listings omit the flag; text models stream through ConverseStream, embeddings never.
        streaming=bool(model.get("responseStreamingSupported", output == "text")),
        created=_epoch(created), legacy=_status(model) == "LEGACY")


def _profile_entries(per_region: Mapping[str, RegionListing], order: Sequence[str],
                     meta: Mapping[str, Mapping[str, Any]], wanted: set[str],
                     ) -> Iterable[tuple[CatalogEntry, str]]:
    """(entry, inferenceProfileId) for each active profile of a wanted type on a usable model."""
    first: dict[str, tuple[Mapping[str, Any], str, str]] = {}  # key -> (summary, base, type)
    regions: dict[str, list[str]] = {}
    for region in order:
        for profile in per_region[region].inference_profile_summaries:
            ptype = profile.get("type", "SYSTEM_DEFINED")
            base = _base_model(profile)
            active = profile.get("status", "ACTIVE") == "ACTIVE"
            if ptype not in wanted or not active or base is None or base not in meta:
                continue
            key = profile.get("inferenceProfileArn") if ptype == "APPLICATION" \
                else profile.get("inferenceProfileId")
            if not key or not profile.get("inferenceProfileId"):
                continue
            first.setdefault(key, (profile, base, ptype))
            regions.setdefault(key, []).append(region)
    for key, (profile, base, ptype) in first.items():
        kind: Kind = "application_profile" if ptype == "APPLICATION" else "system_profile"
        yield _entry(key, kind, meta[base], regions[key], name=profile.get("inferenceProfileName"),
                     created=profile.get("createdAt")), profile["inferenceProfileId"]


def _base_model(profile: Mapping[str, Any]) -> str | None:
    """The foundation model a profile routes to, from the ARNs of its models."""
    for model in profile.get("models") or ():
        arn = parse_bedrock_arn(model.get("modelArn") or "")
        if arn is not None and arn.resource == "foundation-model":
            return arn.resource_id
    return None


def _profile_rank(entry: CatalogEntry, primary: str) -> tuple:
    prefix = geo_prefix(entry.id) or ""
    geos = profile_geographies(primary)
    if prefix in geos:
        return (0, geos.index(prefix), entry.id)
    # Then anything the primary region itself can call, keeping `global.` (routes worldwide,
    # which may cross a data-residency line) as the last resort.
    return (1 if primary in entry.regions else 3, prefix == "global", entry.id)


def _epoch(value: object) -> int:
    if isinstance(value, datetime):  # what botocore returns
        return int(value.timestamp())
    try:  # JSON fixtures and emulators send ISO 8601 text
        return int(datetime.fromisoformat(value).timestamp()) if isinstance(value, str) else 0
    except ValueError:
        return 0


def load_aliases(path: str) -> dict[str, str]:
    """Aliases from a YAML or JSON file: a flat mapping, or one under an `aliases:` key."""
    import yaml  # only needed when an aliases file is configured

    with open(path, encoding="utf-8") as handle:
        data = yaml.safe_load(handle) or {}
    if isinstance(data, dict) and isinstance(data.get("aliases"), dict):
        data = data["aliases"]
    if not isinstance(data, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in data.items()):
        raise ValueError(f"{path}: model aliases must map names to model ids (strings)")
    return dict(data)


class CatalogRefresher:
    """Keeps `current` fresh: fetch every region, build, publish, sleep; never gives up."""

    def __init__(self, fetch: Callable[[str], Awaitable[RegionListing]], regions: Sequence[str],
                 *, interval_s: float, build: Callable[[Mapping[str, RegionListing]], Catalog],
                 on_update: Callable[[Catalog], None] | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
                 jitter: Callable[[], float] = random.random,
                 fetch_timeout_s: float | None = 60.0) -> None:
        self._fetch, self._regions, self._interval = fetch, tuple(regions), interval_s
        self._build, self._on_update, self._clock = build, on_update, clock
        self._sleep, self._jitter, self._fetch_timeout = sleep, jitter, fetch_timeout_s
        self._listings: dict[str, RegionListing] = {}  # last good listing per region
        self._loaded_at: float | None = None
        self.current: Catalog | None = None
        self.ready = asyncio.Event()
        self.consecutive_failures = 0

    async def run(self) -> None:
        while True:
            try:
                ok = await self.refresh_once()
            except Exception as exc:  # noqa: BLE001 - a bug in build must not end refreshing
                log.warning("model catalog build failed (%s); keeping the previous catalog",
                            type(exc).__name__)
                ok = False
            self.consecutive_failures = 0 if ok else self.consecutive_failures + 1
            await self._sleep(self.next_delay())

    def next_delay(self) -> float:
        """The interval when healthy; else 1 s doubling per failed round up to the interval,
        jittered to 50-100 % so that many replicas do not retry in step."""
        if self.consecutive_failures == 0:
            return self._interval
        backoff = min(self._interval, 2.0 ** min(self.consecutive_failures - 1, 30))
        return backoff * (0.5 + 0.5 * self._jitter())

    async def refresh_once(self) -> bool:
        """One round. True when every region answered; a partial round still publishes."""
        results = await asyncio.gather(*(self._fetch_one(r) for r in self._regions),
                                       return_exceptions=True)
        failed = 0
        for region, result in zip(self._regions, results, strict=True):
            if isinstance(result, BaseException):
                failed += 1
                # The type only: messages can carry account ids, ARNs or endpoint details.
                log.warning("listing models in %s failed (%s); keeping its last good listing",
                            region, type(result).__name__)
            else:
                self._listings[region] = result
        if failed == len(self._regions):
            return False
        catalog = self._build({r: self._listings[r] for r in self._regions if r in self._listings})
        self.current, self._loaded_at = catalog, self._clock()
        self.ready.set()
        if self._on_update is not None:
            try:
                self._on_update(catalog)
            except Exception as exc:  # noqa: BLE001 - a metrics hook must not stop publishing
                log.warning("model catalog update hook failed (%s)", type(exc).__name__)
        return failed == 0

    async def _fetch_one(self, region: str) -> RegionListing:
        async with asyncio.timeout(self._fetch_timeout):
            return await self._fetch(region)

    def age_seconds(self) -> float | None:
        """Seconds since the last successful build, or None before the first."""
        return None if self._loaded_at is None else self._clock() - self._loaded_at
