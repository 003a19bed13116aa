"""The emulator's configuration (one frozen object) and its typed app keys."""

from __future__ import annotations

from dataclasses import dataclass, field

from aiohttp import web

from bedrock_gateway.emulator.emulated_models import CatalogConfig, default_catalog
from bedrock_gateway.emulator.faults import FaultBook
from bedrock_gateway.emulator.stats import Stats


@dataclass(frozen=True)
class EmulatorConfig:
    default_region: str = "us-east-1"  # for requests without SigV4 (bearer token, none)
    delay_ms: float = 0.0  # default pause between two stream events (`delay_ms=` overrides)
    chunks: int = 8  # default text chunks of a reply (`chunks=` overrides)
    catalog: CatalogConfig = field(default_factory=default_catalog)
    profiles_page_size: int = 10  # ListInferenceProfiles page size when maxResults is absent


CONFIG = web.AppKey("emulator_config", EmulatorConfig)
STATS = web.AppKey("emulator_stats", Stats)
FAULTS = web.AppKey("emulator_faults", FaultBook)
