"""Bad input never escapes as anything but InvalidRequestError.

Every valid request in tests/fixtures/chat is mutated at every JSON path (each value replaced by
values of the wrong type, out of range, or empty) and run through parse + translate: the result
must be kwargs or an InvalidRequestError with a `param` - never a KeyError or TypeError (a 500).
"""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from bedrock_gateway.errors import InvalidRequestError
from bedrock_gateway.protocols.openai_chat import parse_chat_request
from bedrock_gateway.conversation.capabilities import capabilities_for
from bedrock_gateway.protocols.openai_chat.chat_converse import TranslateOptions
from bedrock_gateway.protocols.openai_chat.chat_plan import plan_chat

FIXTURES = Path(__file__).parents[1] / "fixtures" / "chat"
VALID = [p for p in sorted(FIXTURES.glob("*.json"))
         if "expected_kwargs" in json.loads(p.read_text())]
REPLACEMENTS = (None, 0, -1, 1.5, True, "", "x", "data:", [], {}, [None], {"a": None}, [{}])


def paths(value: object, prefix: tuple = ()) -> Iterator[tuple]:
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from paths(item, (*prefix, index))


def replaced(value: object, path: tuple, new: object) -> object:
    if not path:
        return new
    clone = copy.deepcopy(value)
    target = clone
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = new
    return clone


@pytest.mark.parametrize("path", VALID, ids=[p.stem for p in VALID])
def test_mutations_raise_only_invalid_request(path: Path) -> None:
    case = json.loads(path.read_text())
    model_id = case.get("model_id", "anthropic.claude-3-5-sonnet-20241022-v2:0")
    caps = capabilities_for(model_id)
    options = TranslateOptions(**case.get("options", {}))
    fetched = {url: (base64.b64decode(spec["$bytes_b64"]), spec["format"])
               for url, spec in case.get("fetched_images", {}).items()}
    request = case["request"]
    for json_path in paths(request):
        for new in REPLACEMENTS:
            body = replaced(request, json_path, new)
            try:
                req = parse_chat_request(body)
                plan_chat(req, model_id=model_id, caps=caps, options=options,
                          fetched_images=fetched)
            except InvalidRequestError as error:
                assert error.param, (json_path, new, error.message)
            except Exception as error:  # noqa: BLE001 - the point of the test
                pytest.fail(f"{json_path} = {new!r}: {type(error).__name__}: {error}")
