"""The control plane: ListFoundationModels filters, ListInferenceProfiles pages, catalogs."""

from __future__ import annotations

import asyncio
import json
import re
import sys
from pathlib import Path

import pytest
import yaml

from bedrock_gateway.emulator import (
    EmulatorConfig,
    default_catalog,
    load_catalog,
    start_emulator,
)
from tests.support.constants import HAIKU
from tests.support.converse_events import user

SONNET_4 = "anthropic.claude-sonnet-4-20250514-v1:0"


async def test_list_foundation_models(make_client):
    control = await make_client("bedrock", region="us-east-1")
    models = {m["modelId"]: m for m in (await control.list_foundation_models())["modelSummaries"]}
    haiku = models[HAIKU]
    assert haiku["modelArn"] == f"arn:aws:bedrock:us-east-1::foundation-model/{HAIKU}"
    assert haiku["inferenceTypesSupported"] == ["ON_DEMAND"]
    assert haiku["modelLifecycle"] == {"status": "ACTIVE"}
    assert haiku["responseStreamingSupported"] is True
    assert models[SONNET_4]["inferenceTypesSupported"] == ["INFERENCE_PROFILE"]
    assert any(m["modelLifecycle"]["status"] == "LEGACY" for m in models.values())
    assert "mistral.mistral-large-2407-v1:0" not in models
    assert models["stability.sd3-5-large-v1:0"]["outputModalities"] == ["IMAGE"]

    embeddings = await control.list_foundation_models(byOutputModality="EMBEDDING")
    assert sorted(m["modelId"] for m in embeddings["modelSummaries"]) == [
        "amazon.titan-embed-text-v1", "amazon.titan-embed-text-v2:0",
        "cohere.embed-english-v3", "cohere.embed-multilingual-v3"]
    on_demand = await control.list_foundation_models(byInferenceType="ON_DEMAND")
    assert SONNET_4 not in {m["modelId"] for m in on_demand["modelSummaries"]}
    assert HAIKU in {m["modelId"] for m in on_demand["modelSummaries"]}
    anthropic = await control.list_foundation_models(byProvider="anthropic")
    assert {m["providerName"] for m in anthropic["modelSummaries"]} == {"Anthropic"}
    west = await make_client("bedrock", region="us-west-2")
    assert "mistral.mistral-large-2407-v1:0" in {
        m["modelId"] for m in (await west.list_foundation_models())["modelSummaries"]}


async def test_list_inference_profiles_pages_and_types(make_client):
    control = await make_client("bedrock", region="us-east-1")
    pages, token = [], None
    while True:
        kwargs = {"maxResults": 3, **({"nextToken": token} if token else {})}
        page = await control.list_inference_profiles(**kwargs)
        pages.append(page["inferenceProfileSummaries"])
        token = page.get("nextToken")
        if not token:
            break
    assert all(len(p) == 3 for p in pages[:-1]) and len(pages) > 2
    profiles = [p for page in pages for p in page]
    ids = [p["inferenceProfileId"] for p in profiles]
    assert len(ids) == len(set(ids))
    assert "us." + SONNET_4 in ids and "global." + SONNET_4 in ids and "abc123xyz" in ids
    assert not any(i.startswith("eu.") for i in ids)
    paginator = control.get_paginator("list_inference_profiles")
    listed = [p async for page in paginator.paginate() for p in page["inferenceProfileSummaries"]]
    assert [p["inferenceProfileId"] for p in listed] == ids

    system = await control.list_inference_profiles(typeEquals="SYSTEM_DEFINED", maxResults=100)
    assert {p["type"] for p in system["inferenceProfileSummaries"]} == {"SYSTEM_DEFINED"}
    [app] = (await control.list_inference_profiles(typeEquals="APPLICATION"))[
        "inferenceProfileSummaries"]
    assert app["inferenceProfileArn"] == \
        "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc123xyz"
    assert app["models"] == [{"modelArn": f"arn:aws:bedrock:us-east-1::foundation-model/{HAIKU}"}]
    assert app["status"] == "ACTIVE"
    haiku = next(p for p in profiles if p["inferenceProfileId"] == "us." + HAIKU)
    assert haiku["inferenceProfileArn"] == ("arn:aws:bedrock:us-east-1:123456789012:"
                                            f"inference-profile/us.{HAIKU}")
    assert haiku["models"][0]["modelArn"].endswith(HAIKU)

    eu = await make_client("bedrock", region="eu-west-1")
    eu_ids = [p["inferenceProfileId"] for p in
              (await eu.list_inference_profiles(maxResults=100))["inferenceProfileSummaries"]]
    assert "eu." + SONNET_4 in eu_ids and "global." + SONNET_4 in eu_ids
    assert not any(i.startswith("us.") for i in eu_ids)
    with pytest.raises(control.exceptions.ValidationException):
        await control.list_inference_profiles(nextToken="not-a-token")


def test_catalog_from_json_and_yaml(tmp_path: Path):
    data = {"regions": {"ap-south-1": {
        "modelSummaries": [{"modelId": "x.model-v1", "modelArn": "arn", "modelName": "X",
                            "providerName": "X", "outputModalities": ["TEXT"],
                            "inferenceTypesSupported": ["ON_DEMAND"]}],
        "inferenceProfileSummaries": []}}}
    (tmp_path / "c.json").write_text(json.dumps(data))
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(data))
    for name in ("c.json", "c.yaml"):
        catalog = load_catalog(tmp_path / name)
        assert list(catalog.regions) == ["ap-south-1"]
        assert "x.model-v1" in catalog.region("ap-south-1").models_by_id
    assert default_catalog().region("nowhere").models == ()


async def test_replaced_catalog_is_served(aws_session):
    fixture = Path(__file__).parents[1] / "fixtures" / "catalog" / "us_east_1_basic.json"
    if not fixture.exists():
        pytest.skip("the gateway's catalog fixtures are not here")
    runner, url = await start_emulator(EmulatorConfig(catalog=load_catalog(fixture), chunks=2))
    try:  # the gateway's catalog fixtures load as they are
        async with aws_session.create_client("bedrock-runtime", region_name="us-east-1",
                                      endpoint_url=url) as runtime:
            response = await runtime.converse(modelId=HAIKU, messages=user("hi"))
            assert response["output"]["message"]["content"][0]["text"] == "Echo: hi"
            with pytest.raises(runtime.exceptions.ValidationException):
                await runtime.converse(modelId="amazon.nova-lite-v1:0", messages=user("hi"))
    finally:
        await runner.cleanup()


async def test_main_prints_its_url_and_serves(tmp_path: Path, aws_session):
    catalog = tmp_path / "catalog.json"
    catalog.write_text(json.dumps({"regions": {"us-east-1": {
        "modelSummaries": [m for m in default_catalog().region("us-east-1").models
                           if m["modelId"] == HAIKU]}}}))
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bedrock_gateway.emulator", "--host", "127.0.0.1", "--port", "0",
        "--chunks", "3", "--catalog", str(catalog), stdout=asyncio.subprocess.PIPE,
        cwd=Path(__file__).parents[2])
    try:
        assert process.stdout is not None
        line = (await asyncio.wait_for(process.stdout.readline(), 15)).decode()
        found = re.search(r"emulator listening on (http://127\.0\.0\.1:\d+)", line)
        assert found is not None, line
        url = found.group(1)
        async with aws_session.create_client("bedrock-runtime", region_name="us-east-1",
                                      endpoint_url=url) as runtime:
            response = await runtime.converse(modelId=HAIKU, messages=user("a b"))
            assert response["output"]["message"]["content"][0]["text"] == "Echo: a b"
        async with aws_session.create_client("bedrock", region_name="us-east-1",
                                      endpoint_url=url) as control:
            models = (await control.list_foundation_models())["modelSummaries"]
            assert [m["modelId"] for m in models] == [HAIKU]
    finally:
        process.terminate()
        assert await asyncio.wait_for(process.wait(), 10) == 0
