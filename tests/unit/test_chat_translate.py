"""OpenAI chat request -> Converse kwargs, from golden files in tests/fixtures/chat (one case per
file): `request` (+ `model_id`, optional `caps` overrides, `options`, `fetched_images`) ->
`expected_kwargs` (and `expected_structured_tool`), or `expected_error`.

Encodings: bytes in kwargs are `{"$bytes_b64": ...}`; a request string may be
`{"$data_url": {"media_type": ..., "bytes": N}}` for a data URL of N bytes (big payloads), and
`fetched_images` maps a URL to `{"$bytes_b64": ..., "format": ...}`.
"""

from __future__ import annotations

import base64
import dataclasses
import json
from pathlib import Path

import pytest

from bedrock_gateway.errors import GatewayError, InvalidRequestError
from bedrock_gateway.protocols.openai_chat import parse_chat_request
from bedrock_gateway.conversation.capabilities import capabilities_for
from bedrock_gateway.protocols.openai_chat.chat_converse import TranslateOptions
from bedrock_gateway.protocols.openai_chat.chat_plan import plan_chat
from tests.support.golden_json import encode_bytes

FIXTURES = Path(__file__).parents[1] / "fixtures" / "chat"
CASES = sorted(FIXTURES.glob("*.json"))
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def expand(value):
    """Fixture macros -> real request values."""
    if isinstance(value, dict):
        if set(value) == {"$data_url"}:
            spec = value["$data_url"]
            size = spec["bytes"]
            data = (PNG_MAGIC + b"\0" * size)[:size]
            return f"data:{spec['media_type']};base64,{base64.b64encode(data).decode()}"
        return {k: expand(v) for k, v in value.items()}
    if isinstance(value, list):
        return [expand(v) for v in value]
    return value



def load_case(path: Path) -> dict:
    return json.loads(path.read_text())


def run_case(case: dict):
    """(kwargs, structured tool) for a case; raises what translation raises."""
    model_id = case.get("model_id", "anthropic.claude-3-5-sonnet-20241022-v2:0")
    caps = dataclasses.replace(capabilities_for(model_id), **case.get("caps", {}))
    options = TranslateOptions(**case.get("options", {}))
    fetched = {url: (base64.b64decode(spec["$bytes_b64"]), spec["format"])
               for url, spec in case.get("fetched_images", {}).items()}
    req = parse_chat_request(expand(case["request"]))
    plan = plan_chat(req, model_id=model_id, caps=caps, options=options, fetched_images=fetched)
    return plan.converse_kwargs, plan.structured_tool


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_chat_fixture(path: Path) -> None:
    case = load_case(path)
    assert case.get("description"), "every fixture says what it covers"
    if "expected_error" in case:
        with pytest.raises(GatewayError) as caught:
            run_case(case)
        expected = case["expected_error"]
        assert isinstance(caught.value, InvalidRequestError)
        assert caught.value.status == expected["status"]
        assert caught.value.param == expected["param"]
        if "code" in expected:
            assert caught.value.code == expected["code"]
        return
    kwargs, structured = run_case(case)
    assert encode_bytes(kwargs) == case["expected_kwargs"]
    assert structured == case.get("expected_structured_tool")
    json.dumps(encode_bytes(kwargs))  # plain data only: botocore serialises it as is


def test_fixture_count() -> None:
    assert len(CASES) >= 50


def test_translation_does_not_mutate_request_or_share_state() -> None:
    case = load_case(FIXTURES / "caching_option_on_claude.json")
    first, _ = run_case(case)
    second, _ = run_case(case)
    assert encode_bytes(first) == encode_bytes(second)


VALID_CASES = [p for p in CASES if "expected_kwargs" in load_case(p)]


@pytest.mark.parametrize("path", VALID_CASES, ids=[p.stem for p in VALID_CASES])
@pytest.mark.parametrize("operation", ["Converse", "ConverseStream"])
def test_kwargs_pass_botocore_validation(path: Path, operation: str) -> None:
    """Every kwargs we build is accepted by the installed botocore's own parameter validation
    (a ParamValidationError would reach the client as a 502)."""
    botocore_session = pytest.importorskip("botocore.session")
    from botocore.validate import ParamValidator

    model = botocore_session.get_session().get_service_model("bedrock-runtime")
    kwargs, _ = run_case(load_case(path))
    report = ParamValidator().validate(kwargs, model.operation_model(operation).input_shape)
    assert not report.has_errors(), report.generate_report()
