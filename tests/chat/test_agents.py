"""Agent behaviour on the default model: no silent truncation, no call loops."""

from __future__ import annotations

import json

import pytest

from llamaprov import TruncatedOutputError
from llamaprov.chat import ToolRequestDone, ToolRequestStart, chat_llamaprov, tool


def secret_word(number: int) -> str:
    """The secret word for a number.

    Args:
        number: which secret word
    """
    return {7: "pineapple"}.get(number, "unknown")


def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def test_a_tool_call_cut_by_max_tokens_raises_and_the_chat_is_unchanged(model):
    chat = chat_llamaprov(model, tools=[secret_word], params={"temperature": 0, "max_tokens": 8})
    with pytest.raises(TruncatedOutputError, match="max_tokens=8") as info:
        chat.chat("What is the secret word for number 7?", tool_choice="required")
    assert info.value.max_tokens == 8 and info.value.raw.startswith('{"tool_call"')
    assert chat.get_turns() == []
    chat.close()


def test_structured_output_cut_by_max_tokens_raises_without_grammar_close(model):
    chat = chat_llamaprov(model, params={"temperature": 0, "max_tokens": 12, "grammar_close": False})
    schema = {"type": "object", "properties": {"story": {"type": "string"}}, "required": ["story"]}
    with pytest.raises(TruncatedOutputError) as info:
        chat.chat_structured("Tell me a long story.", type=schema)
    assert info.value.max_tokens == 12
    assert chat.provider.tokens_used().output == 12  # the cut reply's tokens, counted once
    chat.close()


def test_structured_output_that_max_tokens_would_cut_is_closed_validly(model):
    import jsonschema

    chat = chat_llamaprov(model, params={"temperature": 0, "max_tokens": 12})
    schema = {"type": "object", "properties": {"story": {"type": "string"}, "year": {"type": "integer"}},
              "required": ["story", "year"], "additionalProperties": False}
    value = chat.chat_structured("Tell me a long story.", type=schema)
    jsonschema.validate(value, schema)
    assert chat.last_turn().finish_reason == "length" and chat.last_turn().tokens.output <= 12
    chat.close()


def test_a_tool_call_that_max_tokens_would_cut_is_closed_and_runs(model):
    seen = []

    def lookup(query: str, limit: int) -> str:
        """Search the documents.

        Args:
            query: what to search for
            limit: how many results
        """
        seen.append((query, limit))
        return "no results"

    chat = chat_llamaprov(model, tools=[lookup], max_tool_rounds=1,
                          params={"temperature": 0, "max_tokens": 30})
    chat.chat("Explain in detail how blood glucose is regulated by the body.", tool_choice="required")
    turns = chat.get_turns()
    (request,) = turns[1].tool_requests
    assert turns[1].finish_reason == "tool_calls" and turns[1].tokens.output <= 30
    assert seen == [(request.arguments["query"], request.arguments["limit"])]
    chat.close()


def test_a_call_repeating_one_whose_result_the_model_has_is_replaced_by_the_answer(model):
    # greedy, the 135M model asks for add(17, 25) again after its result instead of answering
    from llamaprov.chat import ContentText, ContentToolRequest, ContentToolResult, LlamaProvider, Turn

    turns = [Turn("user", [ContentText("What is 17 + 25?")]),
             Turn("assistant", [ContentToolRequest("c1", "add", {"a": 17, "b": 25})]),
             Turn("user", [ContentToolResult("c1", 42, name="add")])]
    request = {"tools": [tool(add)], "params": {"temperature": 0, "max_tokens": 64}}
    provider = LlamaProvider(model)
    n_prompt = len(provider._plan(turns, request["tools"], None, request["params"], "auto").tokens)
    events = list(provider.stream_perform(turns, **request))
    queued = provider.submit(turns, **request)
    plain = provider.submit(turns[:1], tools=request["tools"], params=request["params"], tool_choice="none")
    for turn in (events[-1].turn, queued.result(300)):
        assert not turn.tool_requests and "42" in turn.text and turn.finish_reason == "eog"
        assert turn.tokens.input == 2 * n_prompt  # the repeated call was decoded, then the answer
    assert not [e for e in events if isinstance(e, (ToolRequestStart, ToolRequestDone))]
    assert plain.result(300).text  # decoded alongside, unaffected
    # the provider's usage counts both replies, as the turn does
    assert provider.tokens_used().input == 4 * n_prompt + plain.result().tokens.input
    # in a chat: one call, then the answer
    chat = chat_llamaprov(model, n_ctx=2048, tools=[add, secret_word],
                          params={"temperature": 0, "max_tokens": 64})
    chat.chat("What is the secret word for number 7?", tool_choice="auto")
    turns = chat.get_turns()
    calls = [(r.name, json.dumps(r.arguments, sort_keys=True)) for t in turns for r in t.tool_requests]
    assert len(calls) == 1 and not turns[-1].tool_requests and turns[-1].text
    provider.close()
    chat.close()


def test_calls_that_are_not_all_repeats_stand(model):
    # a new call beside a repeated one, a repeat of a call without its result, a forced call:
    # the reply stands (the plan knows only the calls of the last exchange with their results)
    from llamaprov.chat import ContentText, ContentToolRequest, ContentToolResult, LlamaProvider, Turn
    from llamaprov.chat._plan import answer_instead

    provider = LlamaProvider(model)
    done = ContentToolRequest("c1", "add", {"a": 17, "b": 25})
    turns = [Turn("user", [ContentText("What is 17 + 25?")]), Turn("assistant", [done]),
             Turn("user", [ContentToolResult("c1", 42, name="add")])]
    plan = provider._plan(turns, [tool(add)], None, {}, "auto")
    assert plan.answered == {("add", '{"a": 17, "b": 25}')} and plan.instead is not None
    again = ContentToolRequest("c2", "add", {"a": 17, "b": 25})
    other = ContentToolRequest("c3", "add", {"a": 1, "b": 2})
    assert answer_instead(plan, Turn("assistant", [again], finish_reason="tool_calls")) is not None
    assert answer_instead(plan, Turn("assistant", [again, other], finish_reason="tool_calls")) is None
    assert answer_instead(plan, Turn("assistant", ["42"], finish_reason="eog")) is None
    assert provider._plan(turns, [tool(add)], None, {}, "add").instead is None
    assert provider._plan(turns, [tool(add)], None, {}, "required").instead is None
    asked = [*turns, Turn("assistant", ["It is 42."]), Turn("user", ["And 17 + 25?"])]  # a new exchange
    assert provider._plan(asked, [tool(add)], None, {}, "auto").instead is None
    provider.close()


def test_a_schema_a_grammar_can_only_widen_is_validated_after_the_call(model):
    # oneOf branches that may overlap: compiled as anyOf, the arguments checked against the
    # schema before the tool runs (a ToolError result goes back to the model otherwise)
    import jsonschema

    from llamaprov.chat import ToolDef

    seen = []
    schema = {"type": "object", "required": ["shape"], "properties": {"shape": {"oneOf": [
        {"type": "object", "properties": {"radius": {"type": "number"}}, "required": ["radius"]},
        {"type": "object", "properties": {"width": {"type": "number"}}, "required": ["width"]},
    ]}}}
    area = ToolDef("area", "The area of a shape.", schema, func=lambda shape: seen.append(shape) or 1.0)
    chat = chat_llamaprov(model, tools=[area], params={"temperature": 0, "max_tokens": 64},
                          max_tool_rounds=1)
    chat.chat("What is the area of a circle of radius 2?", tool_choice="required")
    (request,) = chat.get_turns()[1].tool_requests
    (result,) = chat.get_turns()[2].tool_results
    try:
        jsonschema.validate(request.arguments, schema)
        assert result.error is None and seen == [request.arguments["shape"]]
    except jsonschema.ValidationError:
        assert result.error and not seen
    chat.close()


def test_structured_output_shows_the_schema_in_the_prompt_unless_told_not_to(model):
    from llamaprov.chat import ContentText, LlamaProvider, Turn

    provider = LlamaProvider(model)
    schema = {"type": "object", "required": ["city"],
              "properties": {"city": {"type": "string", "description": "the capital city"}}}
    turns = [Turn("system", [ContentText("Be brief.")]), Turn("user", [ContentText("France?")])]
    shown = provider._plan(turns, [], schema, {}, "auto").prompt
    assert "the capital city" in shown and "Be brief." in shown
    hidden = provider._plan(turns, [], schema, {"schema_in_prompt": False}, "auto").prompt
    assert "the capital city" not in hidden and "Be brief." in hidden
    chat = chat_llamaprov(model, params={"temperature": 0, "max_tokens": 48})
    assert chat.chat_structured("The capital of France is Paris.", type=schema,
                                schema_in_prompt=True) == {"city": "Paris"}
    provider.close()
    chat.close()
