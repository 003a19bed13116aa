"""The Anthropic Messages request: checked before anything is sent, with the failing field named.

Validation covers what the gateway itself relies on (types of the fields it reads, the blocks it
translates or fetches); everything else in the body is kept as sent, so that on the native path
new fields and block types reach Bedrock untouched. Errors are `InvalidRequestError`s whose
`param` is the field's path (`messages.0.content.1.source.data`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TypeGuard

from bedrock_gateway.conversation.media_facts import IMAGE_MEDIA_TYPES
from bedrock_gateway.errors import InvalidRequestError

ROLES = frozenset({"user", "assistant"})
TOOL_CHOICES = frozenset({"auto", "any", "tool", "none"})
THINKING_TYPES = frozenset({"enabled", "disabled", "adaptive"})


@dataclass(frozen=True, slots=True)
class MessagesRequest:
    body: Mapping[str, Any]  # the request as sent (validated), `model` and `stream` included
    model: str
    stream: bool
    max_tokens: int
    betas: tuple[str, ...]  # anthropic-beta header values, then the body's own


def _bad(param: str, message: str) -> InvalidRequestError:
    return InvalidRequestError(message, param=param)


def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _require_str(block: Mapping[str, Any], key: str, path: str) -> None:
    if not isinstance(block.get(key), str):
        raise _bad(f"{path}.{key}", "Field required (a string)." if key not in block
                   else "Input should be a string.")


def parse_betas(header: str | None) -> tuple[str, ...]:
    """`anthropic-beta: a,b` (the header may repeat; the caller joins repeats with commas)."""
    if not header:
        return ()
    return tuple(dict.fromkeys(part.strip() for part in header.split(",") if part.strip()))


def parse_messages_request(body: Mapping[str, Any], *, beta_header: str | None = None,
                           count_only: bool = False) -> MessagesRequest:
    """A checked request. `count_only`: a count_tokens body (no max_tokens, no stream)."""
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise _bad("model", "Field required: the model to use.")
    max_tokens = body.get("max_tokens", 0 if count_only else None)
    if not count_only:
        if max_tokens is None:
            raise _bad("max_tokens", "Field required.")
        if not _is_int(max_tokens) or max_tokens < 1:
            raise _bad("max_tokens", "Input should be an integer greater than or equal to 1.")
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise _bad("stream", "Input should be a valid boolean.")
    _check_system(body.get("system"))
    _check_messages(body.get("messages"))
    _check_tools(body.get("tools"), body.get("tool_choice"))
    _check_sampling(body)
    _check_thinking(body.get("thinking"))
    betas = list(parse_betas(beta_header))
    own = body.get("anthropic_beta")
    if own is not None:
        if not isinstance(own, list) or not all(isinstance(b, str) for b in own):
            raise _bad("anthropic_beta", "Input should be a list of strings.")
        betas.extend(b for b in own if b not in betas)
    return MessagesRequest(body, model, bool(stream) and not count_only,
                           int(max_tokens or 0), tuple(betas))


def _check_system(system: Any) -> None:
    if system is None or isinstance(system, str):
        return
    if not isinstance(system, list):
        raise _bad("system", "Input should be a string or a list of text blocks.")
    for i, block in enumerate(system):
        if not isinstance(block, dict) or block.get("type") != "text":
            raise _bad(f"system.{i}", "System blocks must be text blocks.")
        _require_str(block, "text", f"system.{i}")


def _check_messages(messages: Any) -> None:
    if not isinstance(messages, list):
        raise _bad("messages", "Field required: a list of messages.")
    if not messages:
        raise _bad("messages", "At least one message is required.")
    for i, message in enumerate(messages):
        path = f"messages.{i}"
        if not isinstance(message, dict):
            raise _bad(path, "Each message must be an object with `role` and `content`.")
        if message.get("role") not in ROLES:
            raise _bad(f"{path}.role", "Input should be 'user' or 'assistant'.")
        content = message.get("content")
        if isinstance(content, str):
            continue
        if not isinstance(content, list):
            raise _bad(f"{path}.content", "Input should be a string or a list of blocks.")
        for j, block in enumerate(content):
            check_block(block, f"{path}.content.{j}")


def check_block(block: Any, path: str) -> None:
    if not isinstance(block, dict) or not isinstance(block.get("type"), str):
        raise _bad(f"{path}.type", "Each content block needs a string `type`.")
    kind = block["type"]
    if kind == "text":
        _require_str(block, "text", path)
    elif kind == "image":
        _check_source(block.get("source"), f"{path}.source", image=True)
    elif kind == "document":
        _check_source(block.get("source"), f"{path}.source", image=False)
    elif kind == "tool_use":
        _require_str(block, "id", path)
        _require_str(block, "name", path)
        if not isinstance(block.get("input"), dict):
            raise _bad(f"{path}.input", "Input should be an object.")
    elif kind == "tool_result":
        _require_str(block, "tool_use_id", path)
        content = block.get("content")
        if isinstance(content, list):
            for k, part in enumerate(content):
                check_block(part, f"{path}.content.{k}")
        elif content is not None and not isinstance(content, str):
            raise _bad(f"{path}.content", "Input should be a string or a list of blocks.")
    elif kind == "thinking":
        _require_str(block, "thinking", path)
        _require_str(block, "signature", path)
    elif kind == "redacted_thinking":
        _require_str(block, "data", path)


def _check_source(source: Any, path: str, *, image: bool) -> None:
    if not isinstance(source, dict):
        raise _bad(path, "Field required: the block's `source`.")
    kind = source.get("type")
    if kind == "base64":
        _require_str(source, "data", path)
        _require_str(source, "media_type", path)
        if image and source["media_type"] not in IMAGE_MEDIA_TYPES:
            raise _bad(f"{path}.media_type", "Input should be 'image/jpeg', 'image/png', "
                       "'image/gif' or 'image/webp'.")
    elif kind == "url":
        _require_str(source, "url", path)
    elif kind == "text" and not image:
        _require_str(source, "data", path)
    elif kind == "content" and not image:
        if not isinstance(source.get("content"), (list, str)):
            raise _bad(f"{path}.content", "Input should be a string or a list of blocks.")
    elif not isinstance(kind, str):
        raise _bad(f"{path}.type", "Field required: the source's `type`.")
    # Other source types (`file`, ...) go to Bedrock as sent; the Converse path refuses them.


def _check_tools(tools: Any, choice: Any) -> None:
    if tools is not None:
        if not isinstance(tools, list):
            raise _bad("tools", "Input should be a list of tools.")
        for i, tool in enumerate(tools):
            if not isinstance(tool, dict):
                raise _bad(f"tools.{i}", "Each tool must be an object.")
            _require_str(tool, "name", f"tools.{i}")
            if tool.get("type") in (None, "custom") and not isinstance(
                    tool.get("input_schema"), dict):
                raise _bad(f"tools.{i}.input_schema", "Field required (a JSON schema object).")
    if choice is None:
        return
    if not isinstance(choice, dict) or choice.get("type") not in TOOL_CHOICES:
        raise _bad("tool_choice.type", "Input should be 'auto', 'any', 'tool' or 'none'.")
    if choice["type"] == "tool":
        _require_str(choice, "name", "tool_choice")
    flag = choice.get("disable_parallel_tool_use")
    if flag is not None and not isinstance(flag, bool):
        raise _bad("tool_choice.disable_parallel_tool_use", "Input should be a valid boolean.")


def _check_sampling(body: Mapping[str, Any]) -> None:
    for name, low, high in (("temperature", 0.0, 1.0), ("top_p", 0.0, 1.0)):
        value = body.get(name)
        if value is not None and (not _is_number(value) or not low <= value <= high):
            raise _bad(name, f"Input should be a number between {low:g} and {high:g}.")
    top_k = body.get("top_k")
    if top_k is not None and (not _is_int(top_k) or top_k < 0):
        raise _bad("top_k", "Input should be a non-negative integer.")
    stops = body.get("stop_sequences")
    if stops is not None and (not isinstance(stops, list)
                              or not all(isinstance(s, str) for s in stops)):
        raise _bad("stop_sequences", "Input should be a list of strings.")
    metadata = body.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        raise _bad("metadata", "Input should be an object.")


def _check_thinking(thinking: Any) -> None:
    if thinking is None:
        return
    if not isinstance(thinking, dict) or thinking.get("type") not in THINKING_TYPES:
        raise _bad("thinking.type", "Input should be 'enabled', 'disabled' or 'adaptive'.")
    if thinking["type"] == "enabled":
        budget = thinking.get("budget_tokens")
        if not _is_int(budget) or budget < 1:
            raise _bad("thinking.budget_tokens", "Field required: a positive integer.")


def iter_blocks(body: Mapping[str, Any]) -> Iterator[tuple[str, dict]]:
    """(path, block) for every content block of every message, tool results' blocks included."""
    for i, message in enumerate(body.get("messages") or ()):
        content = message.get("content")
        if not isinstance(content, list):
            continue
        for j, block in enumerate(content):
            yield f"messages.{i}.content.{j}", block
            inner = block.get("content") if block.get("type") == "tool_result" else None
            if isinstance(inner, list):
                for k, part in enumerate(inner):
                    yield f"messages.{i}.content.{j}.content.{k}", part


def remote_image_urls(req: MessagesRequest) -> dict[str, str]:
    """{url: path of its block} for image blocks with a URL source (fetched by the gateway)."""
    urls: dict[str, str] = {}
    for path, block in iter_blocks(req.body):
        source = block.get("source")
        if block.get("type") == "image" and isinstance(source, dict) \
                and source.get("type") == "url":
            urls.setdefault(source["url"], f"{path}.source.url")
    return urls
