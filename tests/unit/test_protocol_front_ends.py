"""Protocols are front-ends: the shared core (the router's failover, the stream pump) knows no
client protocol, so adding one touches neither. A protocol brings its plan and translator
(bedrock_gateway/protocols/<name>/), its stream writer and its route."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest


PACKAGE = Path(__file__).resolve().parents[2] / "bedrock_gateway"  # this checkout
SHARED_CORE = ["server/stream_pump.py", "bedrock/router.py"]
# What is particular to one protocol: its translation, its stream framing.
PROTOCOL_SPECIFIC = ("bedrock_gateway.protocols", "bedrock_gateway.conversation",
                     "bedrock_gateway.server.sse", "bedrock_gateway.server.protocol_writers",
                     "bedrock_gateway.server.routes")


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
             for alias in node.names}
    names |= {node.module for node in ast.walk(tree)
              if isinstance(node, ast.ImportFrom) and node.module}
    return names


@pytest.mark.parametrize("module", SHARED_CORE)
def test_shared_core_imports_no_protocol(module: str) -> None:
    imported = imported_modules(PACKAGE / module)
    assert imported, "the module was read"
    specific = {name for name in imported if name.startswith(PROTOCOL_SPECIFIC)}
    assert not specific, f"{module} depends on a protocol: {sorted(specific)}"


def test_every_generation_route_uses_the_shared_steps() -> None:
    """Admission, the deadline and the pump are shared (server/routes/route_steps.py), not
    copied into each route."""
    routes = PACKAGE / "server" / "routes"
    for name in ("chat_routes", "embeddings_routes", "messages_routes", "responses_routes",
                 "bedrock_invoke_routes"):
        imported = imported_modules(routes / f"{name}.py")
        assert "bedrock_gateway.server.routes.route_steps" in imported, name
        source = (routes / f"{name}.py").read_text()
        assert "KEY_SERVICE" not in source and "pump_stream(" not in source, name
