"""What the Bedrock layer tells whoever watches a request's calls, and nothing more.

The router reports each call to one region (an attempt) and each move to another region through
these protocols; the server implements them (metrics, spans). Nothing about the watcher crosses
back: the router holds an `AttemptObserver` only while its attempt runs, and an open stream carries
no telemetry state at all.
"""

from __future__ import annotations

from typing import Literal, Protocol

from bedrock_gateway.errors import GatewayError

# The Bedrock runtime operations the gateway calls, as telemetry names them. `invoke` is
# InvokeModel for embeddings, `invoke_model` InvokeModel for text.
BedrockOperation = Literal["converse", "converse_stream", "invoke", "invoke_model",
                           "invoke_stream", "count_tokens"]
# The operations whose result is an open stream (the call succeeded once its first bytes came).
STREAM_OPERATIONS: frozenset[BedrockOperation] = frozenset({"converse_stream", "invoke_stream"})


class AttemptObserver(Protocol):
    """One call to one region, from the moment it was started."""

    def finished(self, duration_s: float, error: GatewayError | None) -> None:
        """The call returned (`error` None; for a stream: the stream is open) or failed. Not
        called when the call was cancelled (the request went away)."""

    def withheld(self, error: GatewayError) -> None:
        """The call was never sent: the request's own check refused it (send_gate.py). Not a
        Bedrock call: no call metric, no verdict on the region."""


class CallObserver(Protocol):
    """One request's watcher of its Bedrock calls."""

    def attempt_started(self, region: str, operation: BedrockOperation) -> AttemptObserver: ...

    def failover(self, from_region: str, to_region: str, reason: str) -> None: ...
