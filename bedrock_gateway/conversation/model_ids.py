"""What a Bedrock model name says: the one home of model-id facts.

A client names a model by its id (`anthropic.claude-sonnet-4-5-20250929-v1:0`), a system-defined
cross-region inference profile id (the id behind a geography prefix: `us.`, `eu.`, `apac.`,
`global.`, ...), or an ARN (copied from the console or from CloudFormation). The catalog resolves
names with these facts, the translation picks a model family's capabilities by the base model id,
the embeddings pick a body format by it, and the Anthropic model names are derived from it.

Pure and dependency-free: the Bedrock layer (the catalog) and the protocols both use it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

ArnResource = Literal["foundation-model", "inference-profile", "application-inference-profile",
                      "provisioned-model"]

# System-defined inference profiles: geography prefix + base model id. `global.` routes
# worldwide; the others stay within their geography.
_GEO_PREFIX = re.compile(r"^(us-gov|us|eu|apac|jp|au|ca|global)\.")

# The ARNs Converse and InvokeModel take as a modelId (the ConversationalModelId pattern of
# botocore's bedrock-runtime model): a foundation model's ARN has no account; profiles and
# provisioned throughput have one. Model ids are lowercase; a model id may carry up to two
# `:`-suffixes (`anthropic.claude-3-haiku-20240307-v1:0:48k`).
_PARTITION_REGION = r"arn:(?P<partition>aws(?:-[a-z-]+)?):bedrock:(?P<region>[a-z0-9-]{1,20}):"
_MODEL_ID = r"(?:[a-z0-9-]{1,63}\.){1,3}[a-z0-9-]{1,63}(?::[a-z0-9-]{1,63}){0,2}"
_ARN = re.compile(
    _PARTITION_REGION + r"(?:"
    rf":(?P<foundation>foundation-model)/(?P<model>{_MODEL_ID})"
    r"|(?P<account>\d{12}):(?:"
    r"(?P<profile>inference-profile|application-inference-profile)/(?P<profile_id>[A-Za-z0-9:.-]+)"
    r"|(?P<provisioned>provisioned-model)/(?P<provisioned_id>[a-z0-9]{12})))")


@dataclass(frozen=True, slots=True)
class BedrockArn:
    """A parsed Bedrock model ARN."""

    partition: str  # aws, aws-cn, aws-us-gov, ...
    region: str
    account: str  # "" for a foundation model
    resource: ArnResource
    resource_id: str  # model id, profile id, or an opaque id

    @property
    def names_a_model(self) -> bool:
        """True when the resource id is a model id or a system-defined profile id (which tell
        the model); False for application profiles and provisioned throughput (opaque ids)."""
        return self.resource in ("foundation-model", "inference-profile")


def parse_bedrock_arn(text: str) -> BedrockArn | None:
    """The parts of a Bedrock model ARN; None when `text` is not one of the four kinds a model
    call takes (foundation model, inference profile, application inference profile, provisioned
    model)."""
    match = _ARN.fullmatch(text)
    if match is None:
        return None
    if match["foundation"]:
        return BedrockArn(match["partition"], match["region"], "", "foundation-model",
                          match["model"])
    if match["profile"]:
        resource: ArnResource = ("inference-profile" if match["profile"] == "inference-profile"
                                 else "application-inference-profile")
        return BedrockArn(match["partition"], match["region"], match["account"], resource,
                          match["profile_id"])
    return BedrockArn(match["partition"], match["region"], match["account"],
                      "provisioned-model", match["provisioned_id"])


def geo_prefix(model_id: str) -> str | None:
    """The geography of a system-defined profile id (`us`, `eu`, `global`, ...), or None."""
    match = _GEO_PREFIX.match(model_id)
    return match.group(1) if match else None


def strip_geo_prefix(model_id: str) -> str:
    """A profile id without its geography prefix; any other id as it is."""
    return _GEO_PREFIX.sub("", model_id, count=1)


def named_model_id(name: str) -> str:
    """The model or system-defined profile id a foundation-model or inference-profile ARN names;
    any other name (ids, aliases, opaque ARNs) as it is."""
    arn = parse_bedrock_arn(name) if name.startswith("arn:") else None
    return arn.resource_id if arn is not None and arn.names_a_model else name


def base_model_id(model_id: str) -> str | None:
    """The foundation model id behind a model id, system-defined profile id or model/profile ARN;
    None for an ARN that does not tell (application profile, provisioned throughput) or is not a
    Bedrock model ARN."""
    if model_id.startswith("arn:"):
        arn = parse_bedrock_arn(model_id)
        if arn is None or not arn.names_a_model:
            return None
        model_id = arn.resource_id
    return strip_geo_prefix(model_id)


def profile_geographies(region: str) -> tuple[str, ...]:
    """The system-defined profile prefixes a client in `region` is best served by, best first
    (`global` is never among them: it may cross a data-residency line)."""
    if region.startswith("us-gov-"):
        return ("us-gov", "us")
    if region in ("ap-northeast-1", "ap-northeast-3"):
        return ("jp", "apac")
    if region in ("ap-southeast-2", "ap-southeast-4"):
        return ("au", "apac")
    return {"us": ("us",), "ca": ("ca", "us"), "eu": ("eu",), "ap": ("apac",)}.get(
        region.split("-", 1)[0], ())
