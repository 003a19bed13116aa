"""Model-id facts: one ARN parser, one geography prefix rule, one base-model derivation, and the
catalog, the capabilities table, the embeddings formats and the Anthropic names all reading
model names through them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bedrock_gateway.bedrock.catalog import RegionListing, build_catalog
from bedrock_gateway.conversation.capabilities import DEFAULT, capabilities_for
from bedrock_gateway.errors import ModelNotFoundError
from bedrock_gateway.conversation.model_ids import (
    BedrockArn,
    base_model_id,
    geo_prefix,
    named_model_id,
    parse_bedrock_arn,
    profile_geographies,
    strip_geo_prefix,
)
from bedrock_gateway.protocols.anthropic_messages import anthropic_names
from bedrock_gateway.protocols.openai_embeddings.embeddings_request import family_for

SONNET = "anthropic.claude-3-7-sonnet-20250219-v1:0"
ACCOUNT = "123456789012"

# (ARN, parsed parts as (partition, region, account, resource, resource id))
ACCEPTED = [
    (f"arn:aws:bedrock:us-east-1::foundation-model/{SONNET}",
     ("aws", "us-east-1", "", "foundation-model", SONNET)),
    ("arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0:48k",
     ("aws", "us-east-1", "", "foundation-model", "anthropic.claude-3-haiku-20240307-v1:0:48k")),
    ("arn:aws:bedrock:eu-central-2::foundation-model/cohere.embed-english-v3",
     ("aws", "eu-central-2", "", "foundation-model", "cohere.embed-english-v3")),
    (f"arn:aws:bedrock:us-east-1:{ACCOUNT}:inference-profile/us.{SONNET}",
     ("aws", "us-east-1", ACCOUNT, "inference-profile", f"us.{SONNET}")),
    (f"arn:aws-us-gov:bedrock:us-gov-west-1:{ACCOUNT}:inference-profile/us-gov.{SONNET}",
     ("aws-us-gov", "us-gov-west-1", ACCOUNT, "inference-profile", f"us-gov.{SONNET}")),
    (f"arn:aws-cn:bedrock:cn-north-1:{ACCOUNT}:inference-profile/apac.{SONNET}",
     ("aws-cn", "cn-north-1", ACCOUNT, "inference-profile", f"apac.{SONNET}")),
    (f"arn:aws:bedrock:us-east-1:{ACCOUNT}:application-inference-profile/a1b2c3d4e5f6",
     ("aws", "us-east-1", ACCOUNT, "application-inference-profile", "a1b2c3d4e5f6")),
    (f"arn:aws:bedrock:us-west-2:{ACCOUNT}:provisioned-model/abcdef012345",
     ("aws", "us-west-2", ACCOUNT, "provisioned-model", "abcdef012345")),
]

REFUSED = [
    SONNET,  # an id, not an ARN
    f"us.{SONNET}",
    "arn:aws:bedrock:us-east-1::foundation-model/",  # no model
    f"arn:aws:bedrock:us-east-1:{ACCOUNT}:foundation-model/{SONNET}",  # models have no account
    f"arn:aws:bedrock:us-east-1::inference-profile/us.{SONNET}",  # profiles have one
    f"arn:aws:bedrock:us-east-1:12345:inference-profile/us.{SONNET}",  # 12 digits
    f"arn:aws:bedrock::{ACCOUNT}:inference-profile/us.{SONNET}",  # no region
    f"arn:aws:s3:us-east-1::foundation-model/{SONNET}",  # another service
    f"arn:other:bedrock:us-east-1::foundation-model/{SONNET}",  # not an AWS partition
    f"arn:aws:bedrock:us-east-1:{ACCOUNT}:provisioned-model/xyz",  # ids are 12 characters
    f"arn:aws:bedrock:us-east-1:{ACCOUNT}:custom-model/{SONNET}/abcdef012345",  # not a kind
    f"arn:aws:bedrock:us-east-1::foundation-model/{SONNET}/extra",
    f"arn:aws:bedrock:us-east-1::foundation-model/{SONNET}\n",
    f"arn:aws:bedrock:us-east-1::foundation-model/{SONNET.upper()}",  # model ids are lowercase
    f"xarn:aws:bedrock:us-east-1::foundation-model/{SONNET}",
]


@pytest.mark.parametrize(("arn", "parts"), ACCEPTED, ids=[a for a, _ in ACCEPTED])
def test_the_four_kinds_of_model_arn_parse(arn: str, parts: tuple) -> None:
    assert parse_bedrock_arn(arn) == BedrockArn(*parts)


@pytest.mark.parametrize("text", REFUSED, ids=repr)
def test_anything_else_is_not_a_model_arn(text: str) -> None:
    assert parse_bedrock_arn(text) is None


@pytest.mark.parametrize(("name", "base"), [
    (SONNET, SONNET),
    *((f"{geo}.{SONNET}", SONNET) for geo in ("us", "us-gov", "eu", "apac", "jp", "au", "ca",
                                               "global")),
    ("xx.amazon.titan-embed-text-v2:0", "xx.amazon.titan-embed-text-v2:0"),  # not a geography
    (f"us.us.{SONNET}", f"us.{SONNET}"),  # one prefix only
    (ACCEPTED[0][0], SONNET),
    (ACCEPTED[3][0], SONNET),
    (ACCEPTED[4][0], SONNET),
    (ACCEPTED[6][0], None),  # application profile: opaque
    (ACCEPTED[7][0], None),  # provisioned throughput: opaque
    (REFUSED[3], None),  # a malformed ARN tells nothing
])
def test_base_model_id(name: str, base: str | None) -> None:
    assert base_model_id(name) == base


def test_geography_prefixes() -> None:
    assert geo_prefix(f"us-gov.{SONNET}") == "us-gov"
    assert geo_prefix(f"global.{SONNET}") == "global"
    assert geo_prefix(SONNET) is None
    assert strip_geo_prefix(f"eu.{SONNET}") == SONNET
    assert strip_geo_prefix(SONNET) == SONNET


def test_named_model_id_reads_only_arns_that_name_a_model() -> None:
    assert named_model_id(ACCEPTED[0][0]) == SONNET
    assert named_model_id(ACCEPTED[3][0]) == f"us.{SONNET}"
    assert named_model_id(ACCEPTED[6][0]) == ACCEPTED[6][0]
    assert named_model_id("sonnet") == "sonnet"


@pytest.mark.parametrize(("region", "geographies"), [
    ("us-east-1", ("us",)), ("us-gov-west-1", ("us-gov", "us")), ("ca-central-1", ("ca", "us")),
    ("eu-west-1", ("eu",)), ("ap-northeast-1", ("jp", "apac")),
    ("ap-southeast-2", ("au", "apac")), ("ap-south-1", ("apac",)), ("me-central-1", ()),
])
def test_profile_geographies(region: str, geographies: tuple[str, ...]) -> None:
    assert profile_geographies(region) == geographies


@pytest.mark.parametrize("name", [a for a, _ in ACCEPTED] + REFUSED + [f"eu.{SONNET}"])
def test_capabilities_and_embeddings_read_names_the_same_way(name: str) -> None:
    base = base_model_id(name)
    if base is None:
        assert capabilities_for(name) == DEFAULT and family_for(name) is None
    else:
        assert capabilities_for(name) == capabilities_for(base)
        assert family_for(name) == family_for(base)


def test_embedding_formats_through_every_kind_of_name() -> None:
    titan = "amazon.titan-embed-text-v2:0"
    for name in (titan, f"us.{titan}", f"arn:aws:bedrock:us-east-1::foundation-model/{titan}",
                 f"arn:aws:bedrock:eu-west-1:{ACCOUNT}:inference-profile/eu.{titan}"):
        assert family_for(name) == "titan_v2", name
    assert family_for(ACCEPTED[6][0]) is None


def test_anthropic_names_come_from_base_model_ids() -> None:
    names = anthropic_names([base_model_id(f"global.{SONNET}") or ""])
    assert names["claude-3-7-sonnet-20250219"] == SONNET
    assert names["claude-3-7-sonnet-latest"] == SONNET


def _basic_catalog():
    case = json.loads((Path(__file__).parents[1] / "fixtures" / "catalog"
                       / "us_east_1_basic.json").read_text())
    listings = {region: RegionListing.from_dict(data) for region, data in case["listings"].items()}
    return build_catalog(listings, **case["options"])


def test_the_catalog_resolves_every_kind_of_arn_it_can_call() -> None:
    catalog = _basic_catalog()
    haiku = "anthropic.claude-3-haiku-20240307-v1:0"
    profile = f"arn:aws:bedrock:us-east-1:{ACCOUNT}:application-inference-profile/a1b2c3d4e5f6"
    # A model ARN of any region or partition names the model; a profile ARN its profile.
    assert catalog.resolve(f"arn:aws:bedrock:eu-west-1::foundation-model/{haiku}").id == haiku
    assert catalog.resolve(f"arn:aws-us-gov:bedrock:us-gov-west-1::foundation-model/{haiku}"
                           ).id == haiku
    assert catalog.resolve(f"arn:aws:bedrock:us-east-1::foundation-model/{SONNET}"
                           ).id == f"us.{SONNET}"  # profile-only: the primary geography's
    assert catalog.resolve(f"arn:aws:bedrock:us-west-2:{ACCOUNT}:inference-profile/us.{SONNET}"
                           ).id == f"us.{SONNET}"
    assert catalog.resolve(profile).id == profile
    for unknown in (f"arn:aws:bedrock:us-east-1:{ACCOUNT}:provisioned-model/abcdef012345",
                    f"arn:aws:bedrock:us-east-1:{ACCOUNT}:foundation-model/{haiku}",
                    f"arn:aws:bedrock:us-east-1::foundation-model/{haiku}/x"):
        with pytest.raises(ModelNotFoundError):
            catalog.resolve(unknown)
