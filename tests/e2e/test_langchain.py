"""LangChain's ChatOpenAI against the gateway, unchanged: invoke, stream, a tool-calling loop and
structured output."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from tests.conftest import HAIKU, TEST_KEY


class Person(BaseModel):
    name: str
    age: int


def chat_model(gateway, model: str = HAIKU):
    from langchain_openai import ChatOpenAI

    return ChatOpenAI(model=model, base_url=gateway.base_url, api_key=TEST_KEY, max_retries=0)


async def test_invoke_and_stream(gateway):
    llm = chat_model(gateway)
    reply = await llm.ainvoke("Hello there [[emu chunks=4]]")
    assert reply.content.startswith("Echo:")
    assert reply.response_metadata["finish_reason"] == "stop"
    pieces = [chunk.content async for chunk in llm.astream("Hello there [[emu chunks=4]]")]
    assert "".join(pieces) == reply.content
    assert len([p for p in pieces if p]) == 4


async def test_bind_tools_loop(gateway):
    from langchain_core.messages import HumanMessage, ToolMessage
    from langchain_core.tools import tool

    @tool
    def get_weather(city: str) -> str:
        """The weather for a city."""
        return f"sunny in {city}"

    llm = chat_model(gateway).bind_tools([get_weather])
    messages = [HumanMessage('Weather in Lima? [[emu tool=get_weather:{"city": "Lima"}]]')]
    first = await llm.ainvoke(messages)
    assert first.tool_calls[0]["name"] == "get_weather"
    assert first.tool_calls[0]["args"] == {"city": "Lima"}
    messages.append(first)
    for call in first.tool_calls:
        messages.append(ToolMessage(get_weather.invoke(call["args"]),
                                    tool_call_id=call["id"]))
    final = await llm.ainvoke(messages)
    assert final.content and not final.tool_calls


@pytest.mark.parametrize("method", [None, "function_calling", "json_schema"])
async def test_with_structured_output(gateway, method):
    llm = chat_model(gateway)
    structured = (llm.with_structured_output(Person) if method is None
                  else llm.with_structured_output(Person, method=method))
    person = await structured.ainvoke("Invent a person.")
    assert isinstance(person, Person)
    assert person.name and isinstance(person.age, int)
