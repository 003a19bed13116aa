"""Request validation like Bedrock's: which model a request reaches, and what Converse accepts.

Pure: each function returns a value or raises `EmulatorError` with Bedrock's code and wording.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bedrock_gateway.emulator.emulated_models import CatalogConfig, model_id_of
from bedrock_gateway.emulator.emulated_errors import EmulatorError, validation
from bedrock_gateway.emulator.script import signature_for

_INVALID_ID = "The provided model identifier is invalid."
_ARN = re.compile(r"^arn:aws[a-z-]*:bedrock:([a-z0-9-]+):(\d*):"
                  r"(foundation-model|inference-profile|application-inference-profile)/(.+)$")
IMAGE_FORMATS = frozenset({"png", "jpeg", "gif", "webp"})
DOCUMENT_FORMATS = frozenset({"pdf", "csv", "doc", "docx", "xls", "xlsx", "html", "txt", "md"})


@dataclass(frozen=True, slots=True)
class Target:
    """What a model identifier reaches in a region."""

    model_id: str  # the foundation model that answers
    summary: Mapping[str, Any]  # its ListFoundationModels summary
    profile_id: str | None = None  # set when reached through an inference profile

    @property
    def output(self) -> str:
        return (self.summary.get("outputModalities") or ["TEXT"])[0]

    @property
    def streaming(self) -> bool:
        return bool(self.summary.get("responseStreamingSupported"))


def resolve_model(catalog: CatalogConfig, region: str, requested: str) -> Target:
    listing = catalog.region(region)
    arn = _ARN.match(requested)
    if arn and arn.group(1) != region:
        raise validation(_INVALID_ID)
    key = requested
    if arn and arn.group(3) == "foundation-model":
        key = arn.group(4)
    profile = listing.profiles_by_key.get(key)
    if profile is not None:
        model_id = model_id_of(profile["models"][0]["modelArn"])
        summary = listing.models_by_id.get(model_id) or catalog.model_anywhere(model_id)
        if summary is None:
            raise EmulatorError("ResourceNotFoundException", "Model not found.")
        return Target(model_id, summary, profile["inferenceProfileId"])
    summary = listing.models_by_id.get(key)
    if summary is None:
        if arn:
            raise EmulatorError("ResourceNotFoundException",
                                f"The resource {requested} wasn't found.")
        raise validation(_INVALID_ID)
    if "ON_DEMAND" not in (summary.get("inferenceTypesSupported") or ()):
        raise validation(
            f"Invocation of model ID {key} with on-demand throughput isn't supported. Retry your "
            "request with the ID or ARN of an inference profile that contains this model.")
    return Target(key, summary)


def resolve_foundation_model(catalog: CatalogConfig, region: str, requested: str) -> Target:
    """A foundation model id or ARN (CountTokens takes no profiles and needs no on-demand)."""
    summary = catalog.region(region).models_by_id.get(model_id_of(requested))
    if summary is None:
        raise validation(_INVALID_ID)
    return Target(summary["modelId"], summary)


def require_text_model(target: Target) -> None:
    if target.output != "TEXT":
        raise validation("This action doesn't support the model that you provided. Try again "
                         "with a supported text or chat model.")


def validate_converse(body: Mapping[str, Any]) -> None:
    messages = body.get("messages") or []
    if not messages or messages[0].get("role") != "user":
        raise validation("A conversation must start with a user message. Try again with a "
                         "conversation that starts with a user message.")
    has_tools = bool(body.get("toolConfig"))
    previous_tool_ids: set[str] = set()
    for i, message in enumerate(messages):
        role = message.get("role")
        if role not in ("user", "assistant"):
            raise validation(f"messages.{i}.role: {role!r} is not a valid role.")
        if i and role == messages[i - 1].get("role"):
            raise validation("A conversation must alternate between user and assistant roles. "
                             "Make sure the conversation alternates between user and assistant "
                             "roles and try again.")
        content = message.get("content") or []
        if not content:
            raise validation(f"The content field in the Message object at messages.{i} is empty."
                             " Add a ContentBlock object to the content field and try again.")
        tool_ids: set[str] = set()
        for j, block in enumerate(content):
            where = f"messages.{i}.content.{j}"
            _validate_block(where, block, has_tools)
            if "toolUse" in block:
                tool_ids.add(block["toolUse"].get("toolUseId", ""))
            if "toolResult" in block:
                use_id = block["toolResult"].get("toolUseId", "")
                if use_id not in previous_tool_ids:
                    raise validation(
                        f"The toolResult block at {where} has toolUseId {use_id}, which matches "
                        "no toolUse block in the previous assistant message.")
        previous_tool_ids = tool_ids
    for k, block in enumerate(body.get("system") or ()):
        if "text" in block and not block["text"].strip():
            raise validation(f"The text field in the SystemContentBlock object at system.{k} is "
                             "blank. Add text to the text field, and try again.")
    _validate_inference(body.get("inferenceConfig") or {},
                        body.get("additionalModelRequestFields") or {})
    _validate_tool_config(body.get("toolConfig"))
    _validate_thinking_blocks(messages, body.get("additionalModelRequestFields") or {})


def _validate_thinking_blocks(messages: list, extra: Mapping[str, Any]) -> None:
    """Like Anthropic with thinking on: reasoning sent back must carry the signature it was
    given (`script.signature_for(text)`), and in a tool loop the assistant turn with the tool
    calls must start with its reasoning block."""
    thinking = extra.get("thinking") if isinstance(extra, Mapping) else None
    if not isinstance(thinking, Mapping) or thinking.get("type", "enabled") == "disabled":
        return
    for i, message in enumerate(messages):
        for j, block in enumerate(message.get("content") or ()):
            text = (block.get("reasoningContent") or {}).get("reasoningText")
            if text is not None and text.get("signature") != signature_for(text.get("text", "")):
                raise validation(f"messages.{i}.content.{j}: Invalid `signature` in `thinking` "
                                 "block.")
    if len(messages) < 2 or not any("toolResult" in b for b in messages[-1].get("content") or ()):
        return
    last = messages[-2].get("content") or [{}]
    if any("toolUse" in b for b in last) and "reasoningContent" not in last[0]:
        raise validation(f"messages.{len(messages) - 2}.content.0.type: Expected `thinking` or "
                         "`redacted_thinking`, but found another block. When `thinking` is "
                         "enabled, a final `assistant` message must start with a thinking block.")


def _validate_block(where: str, block: Mapping[str, Any], has_tools: bool) -> None:
    if "text" in block and not str(block["text"]).strip():
        raise validation(f"The text field in the ContentBlock object at {where} is blank. Add "
                         "text to the text field, and try again.")
    if ("toolUse" in block or "toolResult" in block) and not has_tools:
        raise validation("The toolConfig field must be defined when using toolUse and toolResult"
                         " content blocks.")
    if "image" in block:
        image = block["image"]
        if image.get("format") not in IMAGE_FORMATS:
            raise validation(f"{where}.image.format: the format must be one of "
                             + ", ".join(sorted(IMAGE_FORMATS)) + ".")
        _require_bytes(f"{where}.image", image.get("source") or {})
    if "document" in block:
        document = block["document"]
        if document.get("format") not in DOCUMENT_FORMATS:
            raise validation(f"{where}.document.format: the format must be one of "
                             + ", ".join(sorted(DOCUMENT_FORMATS)) + ".")
        if not document.get("name"):
            raise validation(f"{where}.document.name: a document needs a name.")
        source = document.get("source") or {}
        if "bytes" in source:
            _require_bytes(f"{where}.document", source)


def _require_bytes(where: str, source: Mapping[str, Any]) -> None:
    if "s3Location" in source:
        return
    try:
        data = base64.b64decode(source.get("bytes") or "", validate=True)
    except (binascii.Error, ValueError):
        raise validation(f"{where}.source.bytes: invalid base64.") from None
    if not data:
        raise validation(f"{where}.source.bytes: the bytes are empty.")


def _validate_inference(config: Mapping[str, Any], extra: Mapping[str, Any]) -> None:
    for name in ("temperature", "topP"):
        value = config.get(name)
        if value is not None and not 0 <= value <= 1:
            raise validation(f"The value at inferenceConfig.{name} must be between 0 and 1.")
    if config.get("maxTokens") is not None and config["maxTokens"] < 1:
        raise validation("The value at inferenceConfig.maxTokens must be greater than or equal "
                         "to 1.")
    thinking = extra.get("thinking") if isinstance(extra, Mapping) else None
    if isinstance(thinking, Mapping) and thinking.get("type", "enabled") != "disabled":
        if config.get("temperature") is not None and config["temperature"] != 1:
            raise validation("The model returned the following errors: `temperature` may only "
                             "be set to 1 when thinking is enabled.")
        if config.get("topP") is not None:
            raise validation("The model returned the following errors: `top_p` must be unset "
                             "when thinking is enabled.")


def _validate_tool_config(tool_config: Mapping[str, Any] | None) -> None:
    if not tool_config:
        return
    names = [t["toolSpec"]["name"] for t in tool_config.get("tools") or () if "toolSpec" in t]
    if len(names) != len(set(names)):
        raise validation("The toolConfig field contains duplicate tool names.")
    choice = (tool_config.get("toolChoice") or {}).get("tool")
    if choice and choice.get("name") not in names:
        raise validation(f"The tool {choice.get('name')} in toolChoice is not defined in "
                         "toolConfig.tools.")


def tool_schema(tool_config: Mapping[str, Any], name: str) -> Any:
    for tool in tool_config.get("tools") or ():
        spec = tool.get("toolSpec") or {}
        if spec.get("name") == name:
            return (spec.get("inputSchema") or {}).get("json") or {}
    return {}
