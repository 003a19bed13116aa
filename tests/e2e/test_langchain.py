"""LangChain's ChatOpenAI against the gateway, unchanged: invoke, stream, a tool-calling loop
(invoked and streamed) and structured output by each of LangChain's methods."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, SecretStr

from bedrock_gateway.emulator.script import reply_text
from tests.support.constants import HAIKU, TEST_KEY

NATIVE_JSON_MODEL = "openai.gpt-oss-120b-1:0"


class Person(BaseModel):
    name: str
    age: int


def chat_model(gateway, model: str = HAIKU, **kwargs):
    from langchain_openai import ChatOpenAI

    return ChatOpenAI(model=model, base_url=gateway.base_url, api_key=SecretStr(TEST_KEY),
                      max_retries=0, **kwargs)


async def sent(emulator) -> list[dict]:
    return [r["request"] for r in (await emulator.stats())["recent"]
            if r["operation"].startswith("converse")]


async def test_invoke_and_stream(gateway):
    llm = chat_model(gateway, stream_usage=True)
    reply = await llm.ainvoke("Hello there [[emu chunks=4]]")
    assert reply.content == reply_text("Hello there", 4)
    assert reply.response_metadata["finish_reason"] == "stop"
    assert reply.usage_metadata["output_tokens"] == 4
    assert reply.usage_metadata["input_tokens"] == 2

    chunks = [chunk async for chunk in llm.astream("Hello there [[emu chunks=4]]")]
    assert "".join(c.content for c in chunks) == reply.content
    assert len([c for c in chunks if c.content]) == 4
    total = chunks[0]
    for chunk in chunks[1:]:
        total += chunk
    assert total.response_metadata["finish_reason"] == "stop"
    assert total.usage_metadata["output_tokens"] == 4  # the include_usage chunk was read


@pytest.mark.parametrize("stream", [False, True])
async def test_bind_tools_loop(gateway, emulator, stream):
    from langchain_core.messages import HumanMessage, ToolMessage
    from langchain_core.tools import tool

    @tool
    def get_weather(city: str) -> str:
        """The weather for a city."""
        return f"sunny in {city}"

    llm = chat_model(gateway).bind_tools([get_weather])

    async def call(messages):
        if not stream:
            return await llm.ainvoke(messages)
        chunks = [chunk async for chunk in llm.astream(messages)]
        total = chunks[0]
        for chunk in chunks[1:]:
            total += chunk
        return total

    messages = [HumanMessage('Weather in Lima? [[emu tool=get_weather:{"city": "Lima"}]]')]
    first = await call(messages)
    assert [(c["name"], c["args"]) for c in first.tool_calls] == [("get_weather",
                                                                  {"city": "Lima"})]
    assert first.response_metadata["finish_reason"] == "tool_calls"
    messages.append(first)
    for tool_call in first.tool_calls:
        messages.append(ToolMessage(await get_weather.ainvoke(tool_call["args"]),
                                    tool_call_id=tool_call["id"]))
    final = await call(messages)
    assert final.content == reply_text("", 8) and not final.tool_calls
    assert final.response_metadata["finish_reason"] == "stop"
    turns = [[(m["role"], m["blocks"]) for m in r["messages"]] for r in await sent(emulator)]
    assert turns[-1] == [("user", ["text"]), ("assistant", ["toolUse"]),
                         ("user", ["toolResult"])]


async def test_structured_output_default_method_is_json_schema(gateway, emulator):
    """LangChain's default for ChatOpenAI is `json_schema` (a response_format): the raw message
    carries the JSON as content and no tool call."""
    structured = chat_model(gateway).with_structured_output(Person, include_raw=True)
    result = await structured.ainvoke("Invent a person.")
    assert result["parsing_error"] is None
    assert isinstance(result["parsed"], Person)
    raw = result["raw"]
    assert not raw.tool_calls
    assert Person.model_validate_json(raw.content) == result["parsed"]
    (request,) = await sent(emulator)
    # Haiku has no native structured output: the schema went as a forced synthetic tool.
    assert (request["tools"], request["toolChoice"]) == (["Person"], {"tool": {"name": "Person"}})


@pytest.mark.parametrize("model", [HAIKU, NATIVE_JSON_MODEL])
@pytest.mark.parametrize("method", ["json_schema", "function_calling"])
async def test_with_structured_output(gateway, emulator, model, method):
    structured = chat_model(gateway, model).with_structured_output(Person, method=method,
                                                                   include_raw=True)
    prompt = "Invent a person."
    if method == "function_calling" and model == NATIVE_JSON_MODEL:
        # gpt-oss cannot be forced to call a tool (no toolChoice any/tool): the gateway asks in
        # a system instruction, which the emulated model does not read, so `tool=` plays the
        # model's obedient answer.
        prompt += ' [[emu tool=Person:{"name": "Ada", "age": 36}]]'
    result = await structured.ainvoke(prompt)
    assert result["parsing_error"] is None
    person = result["parsed"]
    assert isinstance(person, Person) and person.name and isinstance(person.age, int)
    raw = result["raw"]
    (request,) = await sent(emulator)
    if method == "function_calling":  # a tool call named after the model, parsed by LangChain
        assert [c["name"] for c in raw.tool_calls] == ["Person"]
        assert request["tools"] == ["Person"]
        if model == NATIVE_JSON_MODEL:
            assert request["toolChoice"] is None
            assert request["system"] == ["You must call the tool `Person`."]
        else:
            assert request["toolChoice"] == {"tool": {"name": "Person"}}
    else:
        assert not raw.tool_calls
        assert Person.model_validate_json(raw.content) == person
        if model == NATIVE_JSON_MODEL:
            assert "outputConfig" in request["fields"] and request["tools"] == []


async def test_structured_output_json_mode(gateway):
    # json_mode sends response_format json_object; the emulator only echoes unless told, so
    # `text=` scripts the JSON answer a model would give.
    structured = chat_model(gateway).with_structured_output(Person, method="json_mode")
    person = await structured.ainvoke(
        'Invent a person as JSON. [[emu text={"name": "Ada", "age": 36}]]')
    assert person == Person(name="Ada", age=36)


async def test_parallel_tool_calls_streamed_then_answered(gateway, emulator):
    from langchain_core.messages import HumanMessage, ToolMessage
    from langchain_core.tools import tool

    @tool
    def get_weather(city: str) -> str:
        """The weather for a city."""
        return f"sunny in {city}"

    llm = chat_model(gateway).bind_tools([get_weather])
    messages = [HumanMessage('Lima and Oslo? [[emu text_before=Checking. '
                             'tool=get_weather:{"city": "Lima"} '
                             'tool=get_weather:{"city": "Oslo"}]]')]
    chunks = [chunk async for chunk in llm.astream(messages)]
    first = chunks[0]
    for chunk in chunks[1:]:
        first += chunk
    assert first.content == "Checking."
    assert [c["args"] for c in first.tool_calls] == [{"city": "Lima"}, {"city": "Oslo"}]
    assert len({c["id"] for c in first.tool_calls}) == 2
    messages.append(first)
    for tool_call in first.tool_calls:
        messages.append(ToolMessage(await get_weather.ainvoke(tool_call["args"]),
                                    tool_call_id=tool_call["id"]))
    final = await llm.ainvoke(messages)
    assert final.content == reply_text("", 8) and not final.tool_calls
    turns = [[(m["role"], m["blocks"]) for m in r["messages"]] for r in await sent(emulator)]
    assert turns[-1] == [("user", ["text"]), ("assistant", ["text", "toolUse", "toolUse"]),
                         ("user", ["toolResult", "toolResult"])]


async def test_structured_output_streamed(gateway):
    structured = chat_model(gateway, NATIVE_JSON_MODEL).with_structured_output(Person)
    results = [part async for part in structured.astream("Invent a person.")]
    assert results and isinstance(results[-1], Person)
    assert results[-1].name and isinstance(results[-1].age, int)
