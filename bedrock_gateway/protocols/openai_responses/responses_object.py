"""The Responses API `response` object and its usage; status and incomplete reasons; the
bodies of a stored response's deletion and of its input items' pages.

Usage: `input_tokens` counts every prompt token, cached ones included (Bedrock's `inputTokens`
excludes cache reads and writes, so they are added); cache reads are
`input_tokens_details.cached_tokens`. Bedrock does not count reasoning tokens apart, so
`output_tokens_details.reasoning_tokens` is 0 (they are inside `output_tokens`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from bedrock_gateway.errors import InvalidRequestError

# Bedrock stop reasons that end a response as `incomplete`, with OpenAI's reason.
INCOMPLETE_REASONS: Mapping[str, str] = {
    "max_tokens": "max_output_tokens",
    "model_context_window_exceeded": "max_output_tokens",
    "guardrail_intervened": "content_filter",
    "content_filtered": "content_filter",
}


def responses_usage(usage: Mapping) -> dict:
    fresh = usage.get("inputTokens") or 0
    read = usage.get("cacheReadInputTokens") or 0
    write = usage.get("cacheWriteInputTokens") or 0
    output = usage.get("outputTokens") or 0
    prompt = fresh + read + write
    return {"input_tokens": prompt, "input_tokens_details": {"cached_tokens": read},
            "output_tokens": output, "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": prompt + output}


def response_object(*, response_id: str, created_at: int, model: str, status: str,
                    output: list[dict], usage: dict | None, echo: Mapping[str, object],
                    error: dict | None = None, incomplete_reason: str | None = None) -> dict:
    """A `response` object (`object: "response"`), as the API returns and streams it."""
    body: dict = {
        "id": response_id,
        "object": "response",
        "created_at": created_at,
        "status": status,
        "background": False,
        "error": error,
        "incomplete_details": {"reason": incomplete_reason} if incomplete_reason else None,
        "model": model,
        "output": output,
        "usage": usage,
    }
    body.update(echo)
    return body


def usage_for_context(usage: dict | None) -> dict | None:
    """The chat-style usage the request context records for telemetry."""
    if not usage:
        return None
    return {"prompt_tokens": usage["input_tokens"], "completion_tokens": usage["output_tokens"],
            "prompt_tokens_details": {"cached_tokens": usage["input_tokens_details"][
                "cached_tokens"]}}


def deleted_response(response_id: str) -> dict:
    """The body of `DELETE /responses/{id}`."""
    return {"id": response_id, "object": "response.deleted", "deleted": True}


def _page_limit(raw: str | None) -> int:
    if raw is None:
        return 20
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if not 1 <= value <= 100:
        raise InvalidRequestError("'limit' must be an integer from 1 to 100.", param="limit")
    return value


def input_items_page(items: Sequence[dict], *, order: str | None, limit: str | None,
                     after: str | None) -> dict:
    """One page of `GET /responses/{id}/input_items`, from the query's strings as sent (order
    `desc` by default, 20 items by default, 1 to 100; `after` an item id of the list)."""
    if order is None:
        order = "desc"
    if order not in ("asc", "desc"):
        raise InvalidRequestError("'order' must be asc or desc.", param="order")
    count = _page_limit(limit)
    ordered = list(items)
    if order == "desc":
        ordered.reverse()
    if after:
        ids = [item.get("id") for item in ordered]
        if after not in ids:
            raise InvalidRequestError(f"No input item with id '{after}'.", param="after")
        ordered = ordered[ids.index(after) + 1:]
    page = ordered[:count]
    return {"object": "list", "data": page,
            "first_id": page[0]["id"] if page else None,
            "last_id": page[-1]["id"] if page else None,
            "has_more": len(ordered) > count}
