"""Anthropic Messages request -> Converse kwargs, for models that do not take Anthropic's body
(Llama, Mistral, Nova, gpt-oss, DeepSeek, ...).

What has no Converse equivalent: `metadata` (Converse's requestMetadata allows only a narrow
character set) and `disable_parallel_tool_use` are not sent; `tool_choice: none` sends the tools
without a choice when the conversation already holds tool blocks (Converse needs the tool
definitions then) and no tools otherwise; `cache_control` becomes a cache point after the marked
block where the model supports caching, and is dropped elsewhere. Block types, tools or sources
Converse cannot carry get a 400 naming the field.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from typing import Any

from bedrock_gateway.conversation.capabilities import ModelCapabilities
from bedrock_gateway.conversation.images import image_content
from bedrock_gateway.conversation.media_facts import DOCUMENT_MEDIA_TYPES
from bedrock_gateway.errors import InvalidRequestError
from bedrock_gateway.protocols.anthropic_messages.anthropic_request import MessagesRequest

CACHE_POINT = {"type": "default"}
_DOC_NAME = re.compile(r"[^A-Za-z0-9\s\-()\[\]]")


def _bad(param: str, message: str) -> InvalidRequestError:
    return InvalidRequestError(message, param=param)


def _b64(data: str, param: str) -> bytes:
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise _bad(param, "The data is not valid base64.") from None


class _Converter:
    def __init__(self, caps: ModelCapabilities, model: str,
                 fetched: Mapping[str, tuple[bytes, str]]) -> None:
        self.caps, self.model, self.fetched = caps, model, fetched
        self.documents = 0
        self.tool_names: list[str] = []  # names of tools used in the conversation

    def cache_point(self, block: Mapping[str, Any]) -> list[dict]:
        if block.get("cache_control") and self.caps.prompt_caching:
            return [{"cachePoint": dict(CACHE_POINT)}]
        return []

    def image(self, block: Mapping[str, Any], path: str) -> dict:
        source = block["source"]
        if source["type"] == "base64":
            # Checked like every image: size, and the format its bytes say.
            param = f"{path}.source.data"
            return image_content(_b64(source["data"], param), source["media_type"], param)
        if source["type"] == "url" and source["url"] in self.fetched:
            data, fmt = self.fetched[source["url"]]
            return image_content(data, f"image/{fmt}", f"{path}.source.url")
        raise _bad(f"{path}.source.type", f"Image source '{source['type']}' is not "
                   f"supported for model '{self.model}'.")

    def document(self, block: Mapping[str, Any], path: str) -> dict:
        source = block["source"]
        self.documents += 1
        title = _DOC_NAME.sub(" ", str(block.get("title") or "")).split()
        name = " ".join(title)[:200] or f"document-{self.documents}"
        if source["type"] == "base64":
            fmt = DOCUMENT_MEDIA_TYPES.get(source["media_type"])
            if fmt is None:
                raise _bad(f"{path}.source.media_type", "Document type "
                           f"'{source['media_type']}' is not supported.")
            data = _b64(source["data"], f"{path}.source.data")
        elif source["type"] == "text":
            fmt, data = "txt", source["data"].encode()
        else:
            raise _bad(f"{path}.source.type", f"Document source '{source['type']}' is not "
                       f"supported for model '{self.model}'.")
        return {"document": {"format": fmt, "name": name, "source": {"bytes": data}}}

    def block(self, block: Mapping[str, Any], path: str) -> list[dict]:
        kind = block["type"]
        if kind == "text":
            out = [{"text": block["text"]}] if block["text"] else []
        elif kind == "image":
            out = [self.image(block, path)]
        elif kind == "document":
            out = [self.document(block, path)]
        elif kind == "tool_use":
            self.tool_names.append(block["name"])
            out = [{"toolUse": {"toolUseId": block["id"], "name": block["name"],
                                "input": block["input"]}}]
        elif kind == "tool_result":
            out = [{"toolResult": self.tool_result(block, path)}]
        elif kind == "thinking":
            out = [{"reasoningContent": {"reasoningText": {
                "text": block["thinking"], "signature": block["signature"]}}}]
        elif kind == "redacted_thinking":
            out = [{"reasoningContent": {"redactedContent": _b64(block["data"],
                                                                   f"{path}.data")}}]
        else:
            raise _bad(f"{path}.type", f"Content block type '{kind}' is not supported for "
                       f"model '{self.model}' (it is served through Bedrock's Converse API).")
        return out + self.cache_point(block)

    def tool_result(self, block: Mapping[str, Any], path: str) -> dict:
        content = block.get("content")
        parts: list[dict] = []
        if isinstance(content, str):
            parts = [{"text": content}] if content else []
        elif isinstance(content, list):
            for k, part in enumerate(content):
                part_path = f"{path}.content.{k}"
                if part["type"] not in ("text", "image", "document"):
                    raise _bad(f"{part_path}.type", f"Tool result block type '{part['type']}' "
                               f"is not supported for model '{self.model}'.")
                parts.extend(p for p in self.block(part, part_path) if "cachePoint" not in p)
        result: dict[str, Any] = {"toolUseId": block["tool_use_id"], "content": parts}
        if block.get("is_error"):
            result["status"] = "error"
        return result

    def messages(self, messages: list[Mapping[str, Any]]) -> list[dict]:
        out = []
        for i, message in enumerate(messages):
            content = message["content"]
            if isinstance(content, str):
                blocks = [{"text": content}] if content else []
            else:
                blocks = [b for j, block in enumerate(content)
                          for b in self.block(block, f"messages.{i}.content.{j}")]
            if not any("cachePoint" not in b for b in blocks):
                raise _bad(f"messages.{i}.content", "A message needs non-empty content.")
            out.append({"role": message["role"], "content": blocks})
        return out


def _system(system: Any, conv: _Converter) -> list[dict]:
    if isinstance(system, str):
        return [{"text": system}] if system else []
    out: list[dict] = []
    for block in system or ():
        if block["text"]:
            out.append({"text": block["text"]})
        out.extend(conv.cache_point(block))
    return out


def _tool_config(body: Mapping[str, Any], conv: _Converter) -> dict | None:
    specs: list[dict] = []
    defined: set[str] = set()
    for i, tool in enumerate(body.get("tools") or ()):
        if tool.get("type") not in (None, "custom"):
            raise _bad(f"tools.{i}.type", f"Tool type '{tool['type']}' is not supported for "
                       f"model '{conv.model}'.")
        spec: dict[str, Any] = {"name": tool["name"],
                                "inputSchema": {"json": tool["input_schema"]}}
        if tool.get("description"):
            spec["description"] = tool["description"]
        specs.append({"toolSpec": spec})
        specs.extend(conv.cache_point(tool))
        defined.add(tool["name"])
    choice = body.get("tool_choice") or {"type": "auto"}
    if choice["type"] == "none":
        specs = specs if conv.tool_names else []
    # Converse refuses tool blocks without tool definitions; Anthropic allows a history that
    # used tools no longer offered, so those get a minimal definition.
    for name in dict.fromkeys(conv.tool_names):
        if name not in defined:
            specs.append({"toolSpec": {"name": name, "inputSchema": {"json": {
                "type": "object"}}}})
    if not any("toolSpec" in s for s in specs):
        return None
    config: dict[str, Any] = {"tools": specs}
    if choice["type"] in ("any", "tool"):
        if not conv.caps.tool_choice_any:
            raise _bad("tool_choice.type", f"Model '{conv.model}' cannot be forced to use a "
                       "tool; use tool_choice 'auto'.")
        config["toolChoice"] = {"any": {}} if choice["type"] == "any" else {
            "tool": {"name": choice["name"]}}
    elif choice["type"] == "auto" and body.get("tool_choice"):
        config["toolChoice"] = {"auto": {}}
    return config


def to_converse_kwargs(req: MessagesRequest, *, model_id: str, caps: ModelCapabilities,
                       fetched_images: Mapping[str, tuple[bytes, str]] | None = None) -> dict:
    """kwargs for `converse(**kw)` / `converse_stream(**kw)`."""
    body = req.body
    conv = _Converter(caps, req.model, fetched_images or {})
    kwargs: dict[str, Any] = {"modelId": model_id,
                              "messages": conv.messages(body["messages"])}
    system = _system(body.get("system"), conv)
    if system:
        kwargs["system"] = system
    tool_config = _tool_config(body, conv)
    if tool_config is not None:
        kwargs["toolConfig"] = tool_config
    inference: dict[str, Any] = {"maxTokens": req.max_tokens}
    for name, key in (("temperature", "temperature"), ("top_p", "topP"),
                      ("stop_sequences", "stopSequences")):
        if body.get(name) is not None:
            inference[key] = body[name]
    kwargs["inferenceConfig"] = inference
    fields: dict[str, Any] = {}
    thinking = body.get("thinking")
    if thinking and thinking["type"] != "disabled" and caps.reasoning:
        fields["thinking"] = dict(thinking)
    if body.get("top_k") is not None:
        fields["top_k"] = body["top_k"]
    if fields:
        kwargs["additionalModelRequestFields"] = fields
    return kwargs
