"""Values the tests share: the static API key every in-process gateway accepts, the admin key of
the key tests, and the model ids the emulator lists (see bedrock_gateway/emulator)."""

from __future__ import annotations

TEST_KEY = "sk-test-0123456789"
ADMIN_KEY = "admin-0123456789abcdef"

HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"
SONNET_35 = "anthropic.claude-3-5-sonnet-20240620-v1:0"  # in every emulated region, like Haiku
MISTRAL = "mistral.mistral-large-2407-v1:0"  # the emulator lists it in us-west-2 only

TWO_REGIONS = ("us-east-1", "us-west-2")
