"""Media facts: the magic bytes that tell an image's format, one image check for every way an
image arrives (data URL, Anthropic base64, fetched bytes), and the reasoning-effort budgets."""

from __future__ import annotations

import base64

import pytest

from bedrock_gateway.conversation.images import image_block, image_content, not_an_image
from bedrock_gateway.conversation.media_facts import (
    IMAGE_FORMATS,
    IMAGE_MAX_BYTES,
    IMAGE_MEDIA_TYPES,
    IMAGE_SIGNATURE_BYTES,
    sniff_image_format,
)
from bedrock_gateway.conversation.reasoning_budgets import thinking_for_effort
from bedrock_gateway.errors import InvalidRequestError
from bedrock_gateway.protocols.anthropic_messages import parse_messages_request, to_converse_kwargs
from bedrock_gateway.conversation.capabilities import capabilities_for

PNG = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"
JPEG = b"\xff\xd8\xff\xe0\0\x10JFIF\0"
GIF = b"GIF89a\x01\0\x01\0\0\0"
WEBP = b"RIFF\x24\0\0\0WEBPVP8 "
HTML = b"<!doctype html><html></html>"
PARAM = "messages[0].content[0].image_url.url"


@pytest.mark.parametrize(("data", "fmt"), [
    (PNG, "png"), (JPEG, "jpeg"), (GIF, "gif"), (b"GIF87a" + b"\0" * 6, "gif"), (WEBP, "webp"),
    (HTML, None), (b"BM\x1e\0\0\0", None), (b"RIFF\0\0\0\0WAVE", None), (b"", None),
    (PNG[:7], None), (bytearray(PNG), "png"),
])
def test_sniff_image_format(data: bytes, fmt: str | None) -> None:
    assert sniff_image_format(data) == fmt


def test_the_signature_fits_in_the_first_bytes() -> None:
    for data in (PNG, JPEG, GIF, WEBP):
        assert sniff_image_format(data[:IMAGE_SIGNATURE_BYTES]) is not None
    assert set(IMAGE_MEDIA_TYPES.values()) == set(IMAGE_FORMATS)


@pytest.mark.parametrize(("data", "label", "fmt"), [
    (PNG, "image/png", "png"), (JPEG, "image/png", "jpeg"), (PNG, "application/octet-stream",
                                                             "png"), (WEBP, None, "webp")])
def test_an_image_is_what_its_bytes_say(data: bytes, label: str | None, fmt: str) -> None:
    assert image_content(data, label, PARAM)["image"]["format"] == fmt


@pytest.mark.parametrize(("data", "code"), [
    (HTML, "invalid_image_format"), (b"", "invalid_value"),
    (PNG + b"\0" * (IMAGE_MAX_BYTES + 1 - len(PNG)), "image_too_large")])
def test_what_is_not_an_image_is_a_400_naming_the_part(data: bytes, code: str) -> None:
    with pytest.raises(InvalidRequestError) as info:
        image_content(data, "image/png", PARAM)
    assert (info.value.status, info.value.code, info.value.param) == (400, code, PARAM)


def test_a_data_url_and_fetched_bytes_get_the_same_refusal() -> None:
    url = "https://example.com/x.png"
    refusals = []
    for fetched, source in (({}, f"data:image/png;base64,{base64.b64encode(HTML).decode()}"),
                            ({url: (HTML, "png")}, url)):
        with pytest.raises(InvalidRequestError) as info:
            image_block(source, fetched, PARAM)
        refusals.append((info.value.status, info.value.code, info.value.param))
    expected = not_an_image(PARAM, "image/png")
    assert refusals == [(expected.status, expected.code, expected.param)] * 2


def test_anthropic_base64_images_are_checked_like_every_image() -> None:
    def kwargs(data: bytes, media_type: str) -> dict:
        req = parse_messages_request({"model": "m", "max_tokens": 5, "messages": [{
            "role": "user", "content": [{"type": "image", "source": {
                "type": "base64", "media_type": media_type,
                "data": base64.b64encode(data).decode()}}]}]})
        model = "amazon.nova-lite-v1:0"
        return to_converse_kwargs(req, model_id=model, caps=capabilities_for(model))

    image = kwargs(JPEG, "image/png")["messages"][0]["content"][0]["image"]
    assert image["format"] == "jpeg"  # the label was wrong; Bedrock gets what it is
    with pytest.raises(InvalidRequestError) as info:
        kwargs(HTML, "image/png")
    assert (info.value.code, info.value.param) == ("invalid_image_format",
                                                   "messages.0.content.0.source.data")
    with pytest.raises(InvalidRequestError) as info:
        kwargs(PNG + b"\0" * IMAGE_MAX_BYTES, "image/png")
    assert info.value.code == "image_too_large"


BUDGETS = {"low": 1024, "medium": 4096, "high": 16384}


@pytest.mark.parametrize(("effort", "budget"), [
    ("minimal", 1024), ("low", 1024), ("medium", 4096), ("high", 16384), ("none", None),
    (None, None), ("extreme", None)])
def test_reasoning_effort_to_thinking_budget(effort: str | None, budget: int | None) -> None:
    thinking = thinking_for_effort(effort, BUDGETS)
    assert thinking == (None if budget is None else {"type": "enabled", "budget_tokens": budget})


def test_a_level_without_a_budget_turns_thinking_off() -> None:
    assert thinking_for_effort("high", {"low": 2000}) is None
    assert thinking_for_effort("minimal", {"low": 2000}) == {"type": "enabled",
                                                             "budget_tokens": 2000}


def test_the_fetch_limit_defaults_to_bedrocks_image_limit() -> None:
    from bedrock_gateway.settings import Settings

    assert Settings().image_fetch_max_bytes == IMAGE_MAX_BYTES
