"""Anthropic's model names for Bedrock's Claude models, and Anthropic's model-list shape.

Bedrock id `anthropic.claude-sonnet-4-5-20250929-v1:0` is Anthropic's `claude-sonnet-4-5-20250929`
(dated), also reachable as `claude-sonnet-4-5` and `claude-sonnet-4-5-latest` (undated: the newest
date wins) and, for a model whose name ends in a bare major version (`claude-sonnet-4`), as
`claude-sonnet-4-0`, Anthropic's alias form.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime

_BEDROCK_CLAUDE = re.compile(r"^anthropic\.(claude-[a-z0-9-]+?)-v\d+(?::\d+)?$")
_DATED = re.compile(r"^(claude-[a-z0-9-]+?)-(\d{8})$")


def anthropic_names(base_model_ids: Iterable[str]) -> dict[str, str]:
    """{Anthropic name: Bedrock base model id} for every Claude model in `base_model_ids`."""
    dated: dict[str, str] = {}
    undated: dict[str, tuple[str, str]] = {}  # name -> (date, base id)
    for base in sorted(set(base_model_ids)):
        match = _BEDROCK_CLAUDE.match(base)
        if not match:
            continue
        name = match.group(1)
        dated.setdefault(name, base)
        date_match = _DATED.match(name)
        if date_match:
            short, date = date_match.groups()
            if short not in undated or undated[short][0] < date:
                undated[short] = (date, base)
    names = dict(dated)
    for short, (_, base) in undated.items():
        names.setdefault(short, base)
        names.setdefault(f"{short}-latest", base)
        if re.search(r"-\d$", short):
            names.setdefault(f"{short}-0", base)
    return names


def model_list(rows: Iterable[tuple[str, str, int]]) -> dict:
    """Anthropic's `GET /v1/models` page from (id, display name, created epoch) rows."""
    data = [{"type": "model", "id": model_id, "display_name": name,
             "created_at": datetime.fromtimestamp(created, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}
            for model_id, name, created in rows]
    return {"data": data, "has_more": False,
            "first_id": data[0]["id"] if data else None,
            "last_id": data[-1]["id"] if data else None}


def model_object(model_id: str, name: str, created: int) -> dict:
    """One model in Anthropic's `GET /v1/models/{id}` shape."""
    return model_list([(model_id, name, created)])["data"][0]
