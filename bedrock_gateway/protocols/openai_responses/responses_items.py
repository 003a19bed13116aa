"""`input`: a string, or a list of items, validated and normalised to OpenAI's item JSON.

Normalised items always have `type` and `id`; message content is always a list of parts. Items
the gateway cannot honour get a 400 naming the field (`input[3].content[0].file_id`); nothing
else escapes for bad input.
"""

from __future__ import annotations

import uuid

import orjson

from bedrock_gateway.errors import InvalidRequestError

_INPUT_ROLES = ("user", "system", "developer")
_TEXT_PARTS = ("input_text", "output_text", "text", "refusal", "summary_text", "reasoning_text")


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex}"


def invalid(message: str, param: str, code: str = "invalid_value") -> InvalidRequestError:
    return InvalidRequestError(message, param=param, code=code)


def object_field(value: object, param: str) -> dict:
    if not isinstance(value, dict):
        raise invalid(f"'{param}' must be an object.", param)
    return value


def _str(value: object, param: str, *, empty_ok: bool = True) -> str:
    if not isinstance(value, str) or not (value or empty_ok):
        raise invalid(f"'{param}' must be a {'' if empty_ok else 'non-empty '}string.", param)
    return value


def optional_string(value: object, param: str) -> str | None:
    return None if value is None else _str(value, param)


def _image_part(part: dict, p: str) -> dict:
    if part.get("file_id") is not None and part.get("image_url") is None:
        raise invalid("Uploaded files ('file_id') are not supported; send 'image_url' (a URL or "
                      "a data URL).", f"{p}.file_id", "unsupported_parameter")
    url = _str(part.get("image_url"), f"{p}.image_url", empty_ok=False)
    if not url[:8].lower().startswith(("data:", "http://", "https://")):
        raise invalid("Image URLs must be data:, http: or https: URLs.", f"{p}.image_url")
    return {"type": "input_image", "image_url": url, "detail": part.get("detail") or "auto"}


def _file_part(part: dict, p: str) -> dict:
    if part.get("file_data") is None:
        field = "file_id" if part.get("file_id") is not None else "file_url"
        if part.get(field) is not None:
            raise invalid(f"'{field}' is not supported; send the file inline as 'file_data'.",
                          f"{p}.{field}", "unsupported_parameter")
    data = _str(part.get("file_data"), f"{p}.file_data", empty_ok=False)
    return {"type": "input_file", "file_data": data,
            "filename": optional_string(part.get("filename"), f"{p}.filename")}


def content_parts(content: object, param: str, *, media: bool) -> list[dict]:
    """A message's (or tool output's) content as a list of parts."""
    if isinstance(content, str):
        return [{"type": "input_text", "text": content}]
    if not isinstance(content, list):
        raise invalid(f"'{param}' must be a string or an array of content parts.", param)
    parts = []
    for j, part in enumerate(content):
        p = f"{param}[{j}]"
        kind = object_field(part, p).get("type")
        if kind in _TEXT_PARTS:
            key = "refusal" if kind == "refusal" else "text"
            parts.append({"type": kind, "text": _str(part.get(key), f"{p}.{key}")})
        elif kind == "input_image" and media:
            parts.append(_image_part(part, p))
        elif kind == "input_file" and media:
            parts.append(_file_part(part, p))
        elif kind == "input_audio":
            raise invalid("Audio input is not supported by this gateway.", p,
                          "unsupported_content")
        else:
            raise invalid(f"Content part type {kind!r} is not allowed here.", f"{p}.type")
    return parts


def _message(item: dict, p: str) -> dict:
    role = item.get("role")
    if role not in (*_INPUT_ROLES, "assistant"):
        raise invalid(f"Unknown role {role!r}; expected user, system, developer or assistant.",
                      f"{p}.role")
    if item.get("content") is None:
        raise invalid(f"'{p}.content' is required.", f"{p}.content")
    parts = content_parts(item["content"], f"{p}.content", media=role == "user")
    if role == "assistant":
        parts = [{"type": "output_text", "text": x["text"], "annotations": []}
                 if x["type"] in ("input_text", "text") else x for x in parts]
    return {"type": "message", "id": item.get("id") or new_id("msg"), "role": role,
            "content": parts, "status": "completed"}


def _arguments_text(value: object, param: str) -> str:
    if isinstance(value, dict):  # lenient: some clients send the object itself
        return orjson.dumps(value).decode()
    return _str(value, param)


def _call(item: dict, p: str, kind: str) -> dict:
    call = {"type": kind, "id": item.get("id") or new_id("fc" if kind == "function_call"
                                                          else "ctc"),
            "call_id": _str(item.get("call_id"), f"{p}.call_id", empty_ok=False),
            "name": _str(item.get("name"), f"{p}.name", empty_ok=False),
            "status": "completed"}
    if kind == "function_call":
        call["arguments"] = _arguments_text(item.get("arguments", ""), f"{p}.arguments")
    else:
        call["input"] = _str(item.get("input", ""), f"{p}.input")
    namespace = optional_string(item.get("namespace"), f"{p}.namespace")
    if namespace:
        call["namespace"] = namespace
    return call


def _output(item: dict, p: str, kind: str) -> dict:
    output = item.get("output")
    if output is None:
        raise invalid(f"'{p}.output' is required.", f"{p}.output")
    if not isinstance(output, str):
        output = content_parts(output, f"{p}.output", media=True)
    return {"type": kind, "id": item.get("id") or new_id("fco"),
            "call_id": _str(item.get("call_id"), f"{p}.call_id", empty_ok=False),
            "output": output, "status": "completed"}


def _reasoning(item: dict, p: str) -> dict:
    summary = item.get("summary") or []
    if not isinstance(summary, list):
        raise invalid(f"'{p}.summary' must be an array.", f"{p}.summary")
    normal: dict = {"type": "reasoning", "id": item.get("id") or new_id("rs"),
                    "summary": content_parts(summary, f"{p}.summary", media=False)}
    if item.get("content"):
        normal["content"] = content_parts(item["content"], f"{p}.content", media=False)
    sealed = optional_string(item.get("encrypted_content"), f"{p}.encrypted_content")
    if sealed:
        normal["encrypted_content"] = sealed
    return normal


def parse_input(value: object) -> list[dict]:
    """The request's `input`, normalised (see the module docstring)."""
    if value is None:
        raise invalid("'input' is required.", "input")
    if isinstance(value, str):
        return [{"type": "message", "id": new_id("msg"), "role": "user",
                 "content": [{"type": "input_text", "text": value}], "status": "completed"}]
    if not isinstance(value, list):
        raise invalid("'input' must be a string or an array of input items.", "input")
    items = []
    for i, raw in enumerate(value):
        p = f"input[{i}]"
        item = object_field(raw, p)
        kind = item.get("type", "message")
        if kind == "message":
            items.append(_message(item, p))
        elif kind in ("function_call", "custom_tool_call"):
            items.append(_call(item, p, kind))
        elif kind in ("function_call_output", "custom_tool_call_output"):
            items.append(_output(item, p, kind))
        elif kind == "reasoning":
            items.append(_reasoning(item, p))
        elif kind == "item_reference":
            raise invalid("Item references are not supported; send the items themselves or use "
                          "'previous_response_id'.", f"{p}.type", "unsupported_parameter")
        else:
            raise invalid(f"Input item type {kind!r} is not supported by this gateway.",
                          f"{p}.type", "unsupported_parameter")
    return items
