"""Amazon Bedrock wire-protocol emulator for the gateway's tests, demo and benchmark.

`create_emulator_app(config)` builds the aiohttp app; `start_emulator(config, host, port)` runs
it in-process; `python -m bedrock_gateway.emulator` runs it as a process. The reply formulas the
gateway's tests compute expectations with live in `bedrock_gateway.emulator.script`.
"""

from bedrock_gateway.emulator.emulator_app import create_emulator_app
from bedrock_gateway.emulator.emulated_models import CatalogConfig, default_catalog, load_catalog
from bedrock_gateway.emulator.config import EmulatorConfig
from bedrock_gateway.emulator.script import (
    count_tokens,
    embedding_vector,
    example_from_schema,
    reply_chunks,
)
from bedrock_gateway.emulator.server import start_emulator

__all__ = ["CatalogConfig", "EmulatorConfig", "count_tokens", "create_emulator_app",
           "default_catalog", "embedding_vector", "example_from_schema", "load_catalog",
           "reply_chunks", "start_emulator"]
