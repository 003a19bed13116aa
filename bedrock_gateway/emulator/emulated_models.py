"""The emulated catalog: foundation models and inference profiles per region.

`CatalogConfig` holds, per region, the raw `modelSummaries` (ListFoundationModels) and
`inferenceProfileSummaries` (ListInferenceProfiles) in botocore's shapes. `default_catalog()`
builds the bundled one; `load_catalog(path)` reads a JSON or YAML file shaped
`{"regions" | "listings": {"<region>": {"modelSummaries": [...],
"inferenceProfileSummaries": [...]}}}` (the gateway's catalog fixtures load as they are).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from types import MappingProxyType
from typing import Any

import orjson

ACCOUNT = "123456789012"
REGIONS = ("us-east-1", "us-west-2", "eu-west-1")
_GEO_DESTINATIONS = {
    "us": ("us-east-1", "us-east-2", "us-west-2"),
    "eu": ("eu-west-1", "eu-west-3", "eu-central-1"),
    "global": ("us-east-1", "us-west-2", "eu-west-1", "ap-northeast-1"),
}
_GEO_NAMES = {"us": "US", "eu": "EU", "global": "Global"}
_ALL = REGIONS
_US = ("us-east-1", "us-west-2")
_OD, _IP = ("ON_DEMAND",), ("INFERENCE_PROFILE",)
_TEXT, _TEXT_IMAGE = ("TEXT",), ("TEXT", "IMAGE")

# (model id, name, provider, input, output, inference types, regions, geo profiles, lifecycle)
_MODELS: tuple[tuple[Any, ...], ...] = (
    ("anthropic.claude-3-haiku-20240307-v1:0", "Claude 3 Haiku", "Anthropic", _TEXT_IMAGE,
     _TEXT, _OD, _ALL, ("us", "eu"), "ACTIVE"),
    ("anthropic.claude-3-5-sonnet-20240620-v1:0", "Claude 3.5 Sonnet", "Anthropic", _TEXT_IMAGE,
     _TEXT, _OD, _ALL, ("us", "eu"), "ACTIVE"),
    ("anthropic.claude-3-7-sonnet-20250219-v1:0", "Claude 3.7 Sonnet", "Anthropic", _TEXT_IMAGE,
     _TEXT, _IP, _ALL, ("us", "eu"), "ACTIVE"),
    ("anthropic.claude-sonnet-4-20250514-v1:0", "Claude Sonnet 4", "Anthropic", _TEXT_IMAGE,
     _TEXT, _IP, _ALL, ("us", "eu", "global"), "ACTIVE"),
    ("anthropic.claude-opus-4-1-20250805-v1:0", "Claude Opus 4.1", "Anthropic", _TEXT_IMAGE,
     _TEXT, _IP, _US, ("us",), "ACTIVE"),
    ("anthropic.claude-sonnet-4-5-20250929-v1:0", "Claude Sonnet 4.5", "Anthropic", _TEXT_IMAGE,
     _TEXT, _IP, _ALL, ("us", "eu", "global"), "ACTIVE"),
    ("anthropic.claude-haiku-4-5-20251001-v1:0", "Claude Haiku 4.5", "Anthropic", _TEXT_IMAGE,
     _TEXT, _IP, _ALL, ("us", "eu", "global"), "ACTIVE"),
    ("anthropic.claude-v2:1", "Claude", "Anthropic", _TEXT, _TEXT, _OD, _US, (), "LEGACY"),
    ("amazon.nova-lite-v1:0", "Nova Lite", "Amazon", ("TEXT", "IMAGE", "VIDEO"), _TEXT, _OD,
     _ALL, ("us", "eu"), "ACTIVE"),
    ("amazon.nova-pro-v1:0", "Nova Pro", "Amazon", ("TEXT", "IMAGE", "VIDEO"), _TEXT, _OD,
     _ALL, ("us", "eu"), "ACTIVE"),
    ("meta.llama3-1-8b-instruct-v1:0", "Llama 3.1 8B Instruct", "Meta", _TEXT, _TEXT, _OD, _US,
     ("us",), "ACTIVE"),
    ("mistral.mistral-large-2407-v1:0", "Mistral Large (24.07)", "Mistral AI", _TEXT, _TEXT,
     _OD, ("us-west-2",), (), "ACTIVE"),
    ("deepseek.r1-v1:0", "DeepSeek-R1", "DeepSeek", _TEXT, _TEXT, _IP, _US, ("us",), "ACTIVE"),
    ("openai.gpt-oss-120b-1:0", "gpt-oss-120b", "OpenAI", _TEXT, _TEXT, _OD, _US, (), "ACTIVE"),
    ("amazon.titan-embed-text-v1", "Titan Embeddings G1 - Text", "Amazon", _TEXT,
     ("EMBEDDING",), _OD, _ALL, (), "ACTIVE"),
    ("amazon.titan-embed-text-v2:0", "Titan Text Embeddings V2", "Amazon", _TEXT,
     ("EMBEDDING",), _OD, _ALL, (), "ACTIVE"),
    ("cohere.embed-english-v3", "Embed English", "Cohere", _TEXT, ("EMBEDDING",), _OD, _ALL, (),
     "ACTIVE"),
    ("cohere.embed-multilingual-v3", "Embed Multilingual", "Cohere", _TEXT, ("EMBEDDING",), _OD,
     _ALL, (), "ACTIVE"),
    ("stability.sd3-5-large-v1:0", "Stable Diffusion 3.5 Large", "Stability AI", _TEXT_IMAGE,
     ("IMAGE",), _OD, _US, (), "ACTIVE"),
)
_APPLICATION_PROFILE = ("us-east-1", "abc123xyz", "team-haiku",
                        "anthropic.claude-3-haiku-20240307-v1:0")


def model_arn(region: str, model_id: str) -> str:
    return f"arn:aws:bedrock:{region}::foundation-model/{model_id}"


def model_id_of(arn_or_id: str) -> str:
    return arn_or_id.rpartition("foundation-model/")[2] if "foundation-model/" in arn_or_id \
        else arn_or_id


@dataclass(frozen=True)
class RegionCatalog:
    models: tuple[Mapping[str, Any], ...] = ()
    profiles: tuple[Mapping[str, Any], ...] = ()

    @cached_property
    def models_by_id(self) -> Mapping[str, Mapping[str, Any]]:
        return MappingProxyType({m["modelId"]: m for m in self.models})

    @cached_property
    def profiles_by_key(self) -> Mapping[str, Mapping[str, Any]]:
        """Profiles by id and by ARN."""
        index: dict[str, Mapping[str, Any]] = {}
        for profile in self.profiles:
            index[profile["inferenceProfileId"]] = profile
            index[profile["inferenceProfileArn"]] = profile
        return MappingProxyType(index)


@dataclass(frozen=True)
class CatalogConfig:
    regions: Mapping[str, RegionCatalog] = field(default_factory=dict)

    def region(self, name: str) -> RegionCatalog:
        return self.regions.get(name) or RegionCatalog()

    def model_anywhere(self, model_id: str) -> Mapping[str, Any] | None:
        """A model's summary from any region (profiles may point at models of other regions)."""
        for region in self.regions.values():
            if model_id in region.models_by_id:
                return region.models_by_id[model_id]
        return None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CatalogConfig:
        regions = data.get("regions") or data.get("listings")
        if not isinstance(regions, Mapping):
            raise TypeError("a catalog needs a 'regions' (or 'listings') mapping")
        return cls(MappingProxyType({
            name: RegionCatalog(tuple(listing.get("modelSummaries") or ()),
                                tuple(listing.get("inferenceProfileSummaries") or ()))
            for name, listing in regions.items()}))


def load_catalog(path: str | Path) -> CatalogConfig:
    text = Path(path).read_text()
    if str(path).endswith((".yaml", ".yml")):
        import yaml  # only needed for YAML catalogs

        data = yaml.safe_load(text)
    else:
        data = orjson.loads(text)
    return CatalogConfig.from_dict(data)


def default_catalog() -> CatalogConfig:
    listings: dict[str, dict[str, list[dict[str, Any]]]] = {
        region: {"modelSummaries": [], "inferenceProfileSummaries": []} for region in REGIONS}
    for (model_id, name, provider, inputs, outputs, types, regions, geos,
         lifecycle) in _MODELS:
        for region in regions:
            listings[region]["modelSummaries"].append(_model(
                region, model_id, name, provider, inputs, outputs, types, lifecycle))
        for geo in geos:
            for region in REGIONS:
                if geo == "global" or region.startswith(geo + "-"):
                    listings[region]["inferenceProfileSummaries"].append(
                        _system_profile(region, geo, model_id, provider, name))
    region, profile_id, profile_name, model_id = _APPLICATION_PROFILE
    listings[region]["inferenceProfileSummaries"].append({
        "inferenceProfileName": profile_name,
        "description": "Application inference profile for a team",
        "createdAt": "2025-06-01T09:30:00Z", "updatedAt": "2025-06-01T09:30:00Z",
        "inferenceProfileArn":
            f"arn:aws:bedrock:{region}:{ACCOUNT}:application-inference-profile/{profile_id}",
        "models": [{"modelArn": model_arn(region, model_id)}],
        "inferenceProfileId": profile_id, "status": "ACTIVE", "type": "APPLICATION",
    })
    return CatalogConfig.from_dict({"regions": listings})


def _model(region: str, model_id: str, name: str, provider: str, inputs: tuple[str, ...],
           outputs: tuple[str, ...], types: tuple[str, ...], lifecycle: str) -> dict[str, Any]:
    summary: dict[str, Any] = {
        "modelArn": model_arn(region, model_id), "modelId": model_id, "modelName": name,
        "providerName": provider, "inputModalities": list(inputs),
        "outputModalities": list(outputs), "customizationsSupported": [],
        "inferenceTypesSupported": list(types), "modelLifecycle": {"status": lifecycle},
    }
    if outputs == ("TEXT",):
        summary["responseStreamingSupported"] = True
    return summary


def _system_profile(region: str, geo: str, model_id: str, provider: str,
                    name: str) -> dict[str, Any]:
    profile_id = f"{geo}.{model_id}"
    destinations = (region, *(r for r in _GEO_DESTINATIONS[geo] if r != region))
    label = f"{_GEO_NAMES[geo]} {provider if provider != 'Amazon' else ''} {name}"
    return {
        "inferenceProfileName": " ".join(label.split()),
        "description": f"Routes requests to {name} in {', '.join(destinations)}.",
        "createdAt": "2024-08-27T17:00:00Z", "updatedAt": "2024-08-27T17:00:00Z",
        "inferenceProfileArn": f"arn:aws:bedrock:{region}:{ACCOUNT}:inference-profile/"
                               f"{profile_id}",
        "models": [{"modelArn": model_arn(r, model_id)} for r in destinations],
        "inferenceProfileId": profile_id, "status": "ACTIVE", "type": "SYSTEM_DEFINED",
    }
