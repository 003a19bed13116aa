"""Every AWS client the gateway builds, in one place: one aiobotocore session, and per region one
`bedrock-runtime` and one `bedrock` (control plane) client, created at start-up and closed at
shutdown (plus Secrets Manager / SSM clients when a key source needs them). Swapping the SDK, or
its configuration, is a change to this module only.

aiobotocore is used directly (not through aioboto3, whose newest release pins an old aiobotocore
and so an old botocore without Converse's `outputConfig`): `get_session().create_client(...)` is
the same design, one long-lived client per (service, region).
"""

from __future__ import annotations

from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any

from aiobotocore.config import AioConfig
from aiobotocore.session import AioSession, get_session

from bedrock_gateway.bedrock.region_slots import RegionSlots
from bedrock_gateway.bedrock.send_gate import SendGate
from bedrock_gateway.settings import Settings


@dataclass(slots=True)
class RegionClients:
    region: str
    runtime: Any  # aiobotocore bedrock-runtime client
    control: Any  # aiobotocore bedrock client
    slots: RegionSlots


def runtime_config(settings: Settings) -> AioConfig:
    # Pool size = admitted streams per region (a stream holds its connection until it ends),
    # plus a little room for the control plane and non-stream calls finishing.
    return AioConfig(
        max_pool_connections=settings.max_streams_per_region + 8,
        connect_timeout=settings.bedrock_connect_timeout_seconds,
        # read_timeout is the longest gap between two reads, not a total deadline.
        read_timeout=settings.bedrock_read_timeout_seconds,
        # Several regions: one call per region and the router moves on (see router.py).
        retries={"mode": "standard",
                 "total_max_attempts": 1 if len(settings.regions) > 1
                 else settings.bedrock_max_attempts},
        tcp_keepalive=True,
        user_agent_extra="bedrock-gateway",
    )


def control_config(settings: Settings) -> AioConfig:
    return AioConfig(
        max_pool_connections=4,
        connect_timeout=settings.bedrock_connect_timeout_seconds,
        read_timeout=30,
        retries={"mode": "standard", "total_max_attempts": 3},
    )


def new_session() -> AioSession:
    """The process's one AWS session: credentials from the default chain (env, profile, IRSA,
    EKS Pod Identity), resolved once and refreshed by botocore, shared by every client."""
    return get_session()


@asynccontextmanager
async def open_region_clients(settings: Settings, session: AioSession | None = None,
                              send_gate: SendGate | None = None):
    """Yield {region: RegionClients}; every client is closed when the context exits.

    Endpoints are never passed explicitly, so the standard AWS_ENDPOINT_URL_BEDROCK_RUNTIME /
    AWS_ENDPOINT_URL_BEDROCK variables keep working; credentials come from the default chain.
    Every runtime client's sends wait for the holds of `send_gate` (send_gate.py).
    """
    session = session or new_session()
    async with AsyncExitStack() as stack:
        clients: dict[str, RegionClients] = {}
        run_cfg, ctl_cfg = runtime_config(settings), control_config(settings)
        for region in settings.regions:
            runtime = await stack.enter_async_context(
                session.create_client("bedrock-runtime", region_name=region, config=run_cfg)
            )
            if send_gate is not None:
                runtime.meta.events.register("before-send.bedrock-runtime",
                                             send_gate.before_send)
            control = await stack.enter_async_context(
                session.create_client("bedrock", region_name=region, config=ctl_cfg)
            )
            slots = RegionSlots(settings.max_streams_per_region,
                                settings.region_queue_timeout_seconds)
            clients[region] = RegionClients(region, runtime, control, slots)
        yield clients


@asynccontextmanager
async def open_secret_clients(region: str, session: AioSession | None = None):
    """Secrets Manager and SSM clients for API-key sources, only when such a source is set."""
    session = session or new_session()
    async with AsyncExitStack() as stack:
        sm = await stack.enter_async_context(
            session.create_client("secretsmanager", region_name=region))
        ssm = await stack.enter_async_context(session.create_client("ssm", region_name=region))
        yield sm, ssm


def supports_native_structured_output(runtime_client: Any) -> bool:
    """True when the installed botocore knows Converse's `outputConfig` (botocore >= 1.42)."""
    shape = runtime_client.meta.service_model.operation_model("Converse").input_shape
    return "outputConfig" in shape.members
