"""The OpenAI Agents SDK (`openai-agents`) through the gateway: an agent with one function tool
runs to a final answer on the Responses API (OpenAIResponsesModel, an AsyncOpenAI client pointed
at the gateway, tracing export off)."""

from __future__ import annotations

import secrets

from agents import Agent, OpenAIResponsesModel, RunConfig, Runner, function_tool

from tests.support.constants import HAIKU


async def test_agent_with_one_function_tool_reaches_a_final_answer(client, emulator):
    token = f"tok-{secrets.token_hex(6)}"
    calls: list[str] = []

    @function_tool
    def lookup_code(city: str) -> str:
        """The secret code of a city."""
        calls.append(city)
        return f"The code of {city} is {token}."

    agent = Agent(name="coder", instructions="Use the tool, then answer.", tools=[lookup_code],
                  model=OpenAIResponsesModel(model=HAIKU, openai_client=client))
    result = await Runner.run(
        agent, 'Code for Oslo? [[emu tool=lookup_code:{"city": "Oslo"} after_tool=quote]]',
        run_config=RunConfig(tracing_disabled=True))

    assert calls == ["Oslo"]
    assert token in result.final_output
    sent = [r["request"] for r in (await emulator.stats())["recent"] if r.get("request")]
    assert len(sent) == 2
    assert sent[0]["tools"] == ["lookup_code"] and sent[0]["system"] == [
        "Use the tool, then answer."]
    assert [m["blocks"][-1] for m in sent[1]["messages"][-2:]] == ["toolUse", "toolResult"]
