"""Checks shared by the tests of the JSON-call family formats: streaming against the whole parse,
a forced call on the default model, a forced tool round trip through a chat."""

from __future__ import annotations

import json
from typing import Any

import jsonschema

from llamaprov.chat import (
    ContentText,
    ContentToolRequest,
    ContentToolResult,
    TextDelta,
    ToolDef,
    ToolRequestArgumentsDelta,
    ToolRequestDone,
    ToolRequestStart,
    Turn,
)
from llamaprov.chat.formats import StreamParser, ToolCallFormat, parse_output
from llamaprov.engine.grammar import check_gbnf

WEATHER = ToolDef(
    "get_weather", "The weather in a city.",
    {"type": "object", "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
     "required": ["city", "days"]},
)


# a conversation with a call of get_weather and its result, for the templates' own rendering of
# a call in history
HISTORY = [
    Turn("user", ["Weather in Paris?"]),
    Turn("assistant", ["Let me check.",
                       ContentToolRequest("call00001", "get_weather", {"city": "Paris", "days": 2})]),
    Turn("user", [ContentToolResult("call00001", value="rainy", name="get_weather")]),
    Turn("assistant", ["It is rainy."]),
    Turn("user", ["And Rome?"]),
]


def calls(contents: list[Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(c.name, c.arguments) for c in contents if isinstance(c, ContentToolRequest)]


def text(contents: list[Any]) -> str:
    return "".join(c.text for c in contents if isinstance(c, ContentText))


def assert_stream_matches_whole(fmt: ToolCallFormat, out: str, prefix: str = "") -> None:
    """``out`` fed char by char (and 5 by 5) gives the contents of the whole parse, each call as
    start, argument deltas that join to its arguments, done; the first call done before the
    second starts."""
    whole, error = parse_output(out, fmt, prefix=prefix)
    assert error is None, error
    assert calls(whole)
    for step in (1, 5):
        parser = StreamParser(fmt, prefix=prefix)
        events = []
        for i in range(0, len(out), step):
            events += parser.feed(out[i:i + step])
        final, contents = parser.finish()
        events += final
        assert parser.error is None, parser.error
        assert calls(contents) == calls(whole)
        assert text(contents) == text(whole)
        assert "".join(e.text for e in events if isinstance(e, TextDelta)) == text(whole)
        for index, (name, args) in enumerate(calls(whole)):
            mine = [e for e in events if getattr(e, "index", None) == index]
            assert isinstance(mine[0], ToolRequestStart) and mine[0].name == name
            assert isinstance(mine[-1], ToolRequestDone) and mine[-1].request.arguments == args
            deltas = [e.delta for e in mine if isinstance(e, ToolRequestArgumentsDelta)]
            assert json.loads("".join(deltas)) == args
        kinds = [(type(e).__name__, getattr(e, "index", None)) for e in events]
        if len(calls(whole)) > 1:
            assert kinds.index(("ToolRequestDone", 0)) < kinds.index(("ToolRequestStart", 1))


def forced_call(model: Any, fmt: ToolCallFormat, prompt: str, tool: ToolDef = WEATHER,
                max_tokens: int = 100) -> dict[str, Any]:
    """Generate a call under ``fmt``'s grammar (greedy, ``max_tokens``: few, more where the
    syntax is long in the model's tokens) and parse it back: the arguments, checked against
    the tool's schema."""
    from llamaprov.engine import SamplingParams

    grammar = fmt.grammar([tool], parallel=False)
    check_gbnf(grammar)
    ctx = model.new_context(n_ctx=1024)
    try:
        out = ctx.completion(prompt, max_tokens=max_tokens,
                             sampling=SamplingParams(temperature=0, grammar=grammar)).result().text
    finally:
        ctx.close()
    parsed = fmt.parse_calls(out)
    ((name, args, _id),) = parsed.calls
    assert name == tool.name, out
    jsonschema.validate(args, tool.parameters)
    return args


def forced_round_trip(model: Any, template: str, fmt_name: str, reasoning: str = "auto",
                      max_tokens: int = 40) -> Any:
    """System prompt, one tool, a forced call to it, then the answer: the chat's turns
    (``reasoning``: the chat's setting; a thinking template may spend the few tokens thinking;
    ``max_tokens``: a reply's budget, more where the syntax is long in the model's tokens)."""
    from llamaprov.chat import chat_llamaprov

    seen = []

    def get_weather(city: str, days: int) -> str:
        """The weather in a city.

        Args:
            city: the city
            days: how many days ahead
        """
        seen.append((city, days))
        return "sunny"

    chat = chat_llamaprov(model, template=template, n_ctx=4096, tools=[get_weather],
                          system_prompt="You are a helpful assistant.", max_tool_rounds=1,
                          params={"temperature": 0, "max_tokens": max_tokens, "reasoning": reasoning})
    try:
        assert chat.provider.tool_format.name == fmt_name
        chat.chat("What is the weather in Paris tomorrow?", tool_choice="get_weather")
        turns = chat.get_turns()
    finally:
        chat.close()
    (request,) = turns[1].tool_requests
    assert seen == [(request.arguments["city"], request.arguments["days"])]
    assert turns[-1].role == "assistant" and not turns[-1].tool_requests
    return turns
