"""The files in examples/ work as shipped: the config file loads (every key a known setting, all
valid), and a gateway given the aliases file serves its aliases (chat and embeddings)."""

from __future__ import annotations

from pathlib import Path

import yaml

from bedrock_gateway.bedrock.catalog import load_aliases
from bedrock_gateway.settings import Settings, setting_names

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "examples/gateway.yaml"
ALIASES = ROOT / "examples/model-aliases.yaml"


def test_example_config_loads_and_is_valid():
    keys = set(yaml.safe_load(CONFIG.read_text()))
    assert keys <= set(setting_names()), keys - set(setting_names())
    assert not keys & {"API_KEY", "OPENAI_API_KEY"}, "no keys in a config file"
    settings = Settings.from_env({"GATEWAY_CONFIG_FILE": str(CONFIG), "API_KEY_FILE": "/k"})
    assert settings.regions == ("us-east-1", "us-west-2")
    assert settings.default_max_tokens == 4096
    assert settings.allowed_origins == ("https://chat.example.com",)
    assert settings.log_format == "json"
    assert (ROOT / settings.model_aliases_file).resolve() == ALIASES.resolve()
    # The environment wins over the file.
    assert Settings.from_env({"GATEWAY_CONFIG_FILE": str(CONFIG),
                              "LOG_FORMAT": "text"}).log_format == "text"


async def test_gateway_serves_the_example_aliases(make_gateway):
    aliases = load_aliases(str(ALIASES))
    gateway = await make_gateway(model_aliases_file=str(ALIASES))
    async with gateway.client() as client:
        listed = {m.id for m in (await client.models.list()).data}
        assert set(aliases) <= listed
        for alias in ("gpt-4o", "gpt-4o-mini"):
            reply = await client.chat.completions.create(
                model=alias, messages=[{"role": "user", "content": "hi"}])
            assert reply.model == alias and reply.choices[0].message.content
        embedding = await client.embeddings.create(model="text-embedding-3-small", input="x")
        assert embedding.data[0].embedding
