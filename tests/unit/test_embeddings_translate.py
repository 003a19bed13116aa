"""OpenAI embeddings <-> Bedrock InvokeModel bodies, from golden files in
tests/fixtures/embeddings: request -> planned bodies; result bodies -> OpenAI response; errors."""

from __future__ import annotations

import ast
import base64
import json
import sys
from array import array
from pathlib import Path

import pytest

from bedrock_gateway.errors import InvalidRequestError, UpstreamError
from bedrock_gateway.protocols.openai_embeddings import embeddings_bodies as emb
from bedrock_gateway.protocols.openai_embeddings.embeddings_bodies import (
    EmbeddingsRequest,
    Invocation,
    assemble_vectors,
    build_embeddings_response,
    encode_base64,
    family_for,
    input_tokens_of,
    parse_embeddings_request,
    parse_invocation_result,
    plan_invocations,
)

FIXTURES = Path(__file__).parents[1] / "fixtures" / "embeddings"
GOLDEN = [case for path in sorted(FIXTURES.glob("golden_*.json"))
          for case in json.loads(path.read_text())["cases"]]
ERRORS = json.loads((FIXTURES / "errors.json").read_text())
FAMILIES = json.loads((FIXTURES / "families.json").read_text())


def _expand(body):
    """errors.json writes a long input list as {"repeat": s, "count": n}."""
    if isinstance(body, dict) and isinstance(body.get("input"), dict):
        spec = body["input"]
        body = {**body, "input": [spec["repeat"]] * spec["count"]}
    return body


@pytest.mark.parametrize("case", GOLDEN, ids=[c["name"] for c in GOLDEN])
def test_golden_round_trip(case):
    req = parse_embeddings_request(case["request"])
    family = case["family"]
    if not case.get("alias"):
        assert family_for(req.model) == family
    plan = plan_invocations(req, family)
    assert [{"body": i.body, "indexes": list(i.indexes)} for i in plan] == case["invocations"]
    # The bodies are what goes on the wire: they must be plain JSON.
    assert json.loads(json.dumps([i.body for i in plan])) == [i.body for i in plan]

    vectors = assemble_vectors(plan, [parse_invocation_result(family, r) for r in case["results"]])
    body_tokens = [input_tokens_of(family, r) for r in case["results"]]
    tokens = sum(case.get("header_input_tokens") or body_tokens)
    response = build_embeddings_response(req.model, vectors, tokens, req.encoding_format)
    assert response == case["response"]


BASE64 = [c for c in GOLDEN if c["request"].get("encoding_format") == "base64"]


@pytest.mark.parametrize("case", BASE64, ids=[c["name"] for c in BASE64])
def test_base64_decodes_to_the_float32_vectors(case):
    req = parse_embeddings_request(case["request"])
    plan = plan_invocations(req, case["family"])
    vectors = assemble_vectors(plan, [parse_invocation_result(case["family"], r)
                                      for r in case["results"]])
    for item, vector in zip(case["response"]["data"], vectors, strict=True):
        decoded = array("f")
        decoded.frombytes(base64.b64decode(item["embedding"]))
        if sys.byteorder == "big":  # the wire format is little-endian, like numpy's default
            decoded.byteswap()
        assert decoded.tolist() == vector  # fixture values are exact in float32


def test_base64_is_little_endian_float32():
    import struct
    raw = base64.b64decode(encode_base64([1.0, -2.5, 0.1]))
    assert len(raw) == 12
    assert struct.unpack("<3f", raw) == pytest.approx((1.0, -2.5, 0.1), rel=1e-7)
    assert raw[:4] == b"\x00\x00\x80\x3f"


@pytest.mark.parametrize("model_id, family", FAMILIES.items(), ids=FAMILIES.keys())
def test_family_for(model_id, family):
    assert family_for(model_id) == family


@pytest.mark.parametrize("case", ERRORS["request_errors"],
                         ids=[c["name"] for c in ERRORS["request_errors"]])
def test_request_errors(case):
    with pytest.raises(InvalidRequestError) as info:
        parse_embeddings_request(_expand(case["body"]))
    assert info.value.status == 400 and info.value.param == case["param"]
    assert case.get("contains", "") in info.value.message


@pytest.mark.parametrize("case", ERRORS["plan_errors"],
                         ids=[c["name"] for c in ERRORS["plan_errors"]])
def test_plan_errors(case):
    req = parse_embeddings_request(case["body"])  # valid in itself: the model name says nothing
    with pytest.raises(InvalidRequestError) as info:
        plan_invocations(req, case["family"])
    assert info.value.status == 400 and info.value.param == case["param"]


@pytest.mark.parametrize("case", ERRORS["result_errors"],
                         ids=[c["name"] for c in ERRORS["result_errors"]])
def test_result_errors(case):
    with pytest.raises(UpstreamError):
        parse_invocation_result(case["family"], case["body"])


def test_parsed_request_defaults():
    req = parse_embeddings_request({"model": "m", "input": "x", "encoding_format": None})
    assert req == EmbeddingsRequest(model="m", inputs=("x",), encoding_format="float")
    with pytest.raises(AttributeError):
        req.model = "other"  # type: ignore[misc]


def test_unknown_fields_are_ignored():
    req = parse_embeddings_request({"model": "m", "input": ["a"], "something_new": {"x": 1}})
    assert req.inputs == ("a",)


def test_cohere_batches_cover_every_index_once():
    req = parse_embeddings_request({"model": "cohere.embed-english-v3",
                                    "input": [f"t{i}" for i in range(200)]})
    plan = plan_invocations(req, "cohere_v3")
    assert [len(i.indexes) for i in plan] == [96, 96, 8]
    assert [n for i in plan for n in i.indexes] == list(range(200))
    assert all(i.body["texts"] == [f"t{n}" for n in i.indexes] for i in plan)


def test_assemble_restores_input_order_whatever_the_completion_order():
    plan = [Invocation({}, (2, 0)), Invocation({}, (1,))]
    assert assemble_vectors(plan, [[[2.0], [0.0]], [[1.0]]]) == [[0.0], [1.0], [2.0]]


def test_assemble_rejects_a_wrong_count_from_bedrock():
    with pytest.raises(UpstreamError):
        assemble_vectors([Invocation({}, (0, 1))], [[[1.0]]])
    with pytest.raises(ValueError):
        assemble_vectors([Invocation({}, (0,))], [])


def test_input_tokens_of():
    assert input_tokens_of("titan_v2", {"inputTextTokenCount": 7}) == 7
    assert input_tokens_of("titan_v1", {}) is None
    assert input_tokens_of("cohere_v3", {"inputTextTokenCount": 7}) is None


def test_module_imports_no_io_libraries():
    tree = ast.parse(Path(emb.__file__).read_text())
    imported = {alias.name.split(".")[0] for node in ast.walk(tree)
                if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom) and node.module}
    assert not imported & {"aiohttp", "aioboto3", "aiobotocore", "botocore", "boto3"}
