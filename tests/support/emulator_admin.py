"""The one client of the Bedrock emulator's control API (`/_emulator/...`, see
bedrock_gateway/emulator/control.py): fault rules, stats, reset. Used by the emulator's own tests
(an in-process emulator) and by every end-to-end test (the emulator as a separate process)."""

from __future__ import annotations

from typing import Any

import aiohttp

from tests.support.polling import eventually


class EmulatorAdmin:
    """A running emulator: its base URL (what AWS_ENDPOINT_URL_* point at) and its control API."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url

    async def control(self, method: str, path: str, json: Any = None) -> tuple[int, Any]:
        """One control call as it is: (status, JSON body or None); never raises on a status."""
        async with aiohttp.ClientSession() as session, session.request(
                method, f"{self.base_url}/_emulator/{path}", json=json) as response:
            return response.status, await response.json(content_type=None)

    async def _ok(self, method: str, path: str, json: Any = None) -> Any:
        status, body = await self.control(method, path, json)
        assert status == 200, (method, path, status, body)
        return body

    async def reset(self) -> None:
        """Forget the fault rules, the request log and the counters."""
        await self._ok("POST", "reset")

    async def stats(self) -> dict[str, Any]:
        body: dict[str, Any] = await self._ok("GET", "stats")
        return body

    async def add_fault(self, **rule: Any) -> str:
        """Add one fault rule; returns its id."""
        body = await self._ok("POST", "faults", rule)
        return str(body["id"])

    async def clear_faults(self) -> None:
        await self._ok("DELETE", "faults")

    async def open_streams(self) -> int:
        return int((await self.stats())["open_streams"])

    async def wait_open_streams(self, expected: int, *, within: float = 10.0) -> None:
        """Poll until exactly `expected` upstream streams are open (AssertionError if never)."""
        async def reached() -> bool:
            return await self.open_streams() == expected

        await eventually(reached, within=within, what=f"{expected} open emulator streams")
