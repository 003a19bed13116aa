"""One region's control-plane listing: every page of ListFoundationModels and
ListInferenceProfiles (both types), for the catalog builder."""

from __future__ import annotations

from typing import Any

from bedrock_gateway.bedrock.catalog import RegionListing


async def fetch_region_listing(control: Any) -> RegionListing:
    models = (await control.list_foundation_models()).get("modelSummaries", [])
    profiles: list[dict] = []
    for profile_type in ("SYSTEM_DEFINED", "APPLICATION"):
        kwargs: dict[str, Any] = {"typeEquals": profile_type, "maxResults": 1000}
        while True:
            page = await control.list_inference_profiles(**kwargs)
            profiles.extend(page.get("inferenceProfileSummaries", []))
            token = page.get("nextToken")
            if not token:
                break
            kwargs["nextToken"] = token
    return RegionListing(tuple(models), tuple(profiles))
