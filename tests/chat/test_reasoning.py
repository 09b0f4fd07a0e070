"""Reasoning models: real templates of the families that think before answering (Qwen3,
DeepSeek-R1, SmolLM3, gpt-oss) on the default model, whose output the tests script with
grammars where they need it to think in a known way; the default model's own template for the
path without reasoning."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest
from _scripted import ANSWER, THOUGHT, YES, YES_TOKEN, Scripted
from _template_files import read_template
from _templates import DEEPSEEK_R1, GPT_OSS, QWEN3, SMOLLM3

from llamaprov.chat import (
    Chat,
    ContentText,
    ContentThinking,
    ContentToolRequest,
    ContentToolResult,
    LlamaProvider,
    TextDelta,
    ThinkingDelta,
    Turn,
    TurnDone,
    tool,
)
from llamaprov.chat.formats import parse_output, thinking_tags
from llamaprov.errors import InvalidArgumentError, TruncatedOutputError


def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


TOOLS = [tool(add)]

FAMILIES = {"qwen3": QWEN3, "deepseek-r1": DEEPSEEK_R1, "smollm3": SMOLLM3, "gpt-oss": GPT_OSS}


def _agent_history() -> list[Turn]:
    return [
        Turn("system", ["Be brief."]),
        Turn("user", ["What is 2 plus 3?"]),
        Turn("assistant", [ContentToolRequest("call1", "add", {"a": 2, "b": 3})]),
        Turn("user", [ContentToolResult("call1", value=5, name="add")]),
        Turn("assistant", ["It is 5."]),
        Turn("user", ["And 3 plus 4?"]),
    ]


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_real_templates_render_in_the_sandbox(model, family):
    provider = LlamaProvider(model, template=FAMILIES[family])
    prompt = provider.format_turns(_agent_history(), TOOLS)
    assert "And 3 plus 4?" in prompt and "It is 5." in prompt


def test_the_family_is_told_by_the_template(model):
    found = {name: LlamaProvider(model, template=t).model_info()["reasoning"]
             for name, t in FAMILIES.items()}
    # DeepSeek-R1's template has no switch: the generic family, which the prompt opens
    assert found == {"qwen3": "qwen3", "deepseek-r1": "think", "smollm3": "smollm3",
                     "gpt-oss": "gpt-oss"}
    assert LlamaProvider(model).model_info()["reasoning"] is None


def _thinking_history() -> list[Turn]:
    """An earlier exchange and the current one, each with thinking; the current one is a tool
    round still going on."""
    return [
        Turn("user", ["What is 1 plus 1?"]),
        Turn("assistant", [ContentThinking("Old thought."), ContentText("2.")]),
        Turn("user", ["What is 2 plus 3?"]),
        Turn("assistant", [ContentThinking("I should call add."),
                           ContentToolRequest("call1", "add", {"a": 2, "b": 3})]),
        Turn("user", [ContentToolResult("call1", value=5, name="add")]),
    ]


def test_thinking_goes_back_apart_from_the_text_as_the_template_wants(model):
    # Qwen3 keeps the thinking of the tool round in progress and drops that of earlier exchanges
    prompt = LlamaProvider(model, template=QWEN3).format_turns(_thinking_history(), TOOLS)
    assert "<|im_start|>assistant\n<think>\nI should call add.\n</think>\n\n<tool_call>" in prompt
    assert "<|im_start|>assistant\n2.<|im_end|>" in prompt
    assert "Old thought." not in prompt
    # a template that does not read thinking never sees it in the text (DeepSeek-R1 drops it)
    prompt = LlamaProvider(model, template=DEEPSEEK_R1).format_turns(_thinking_history()[:2])
    assert "<｜Assistant｜>2.<｜end▁of▁sentence｜>" in prompt and "Old thought." not in prompt


# ------------------------------------------------------------------------- the template switch
def _prompt(model: Any, template: str | None, reasoning: str, system: str | None = None) -> str:
    turns = ([Turn("system", [system])] if system else []) + [Turn("user", ["What is 2 plus 2?"])]
    provider = LlamaProvider(model, template=template) if template else LlamaProvider(model)
    return provider.format_turns(turns, reasoning=reasoning)


def test_qwen3_switch_and_the_thinking_block_the_reply_starts_in(model):
    assert _prompt(model, QWEN3, "on").endswith("<|im_start|>assistant\n<think>\n")
    assert _prompt(model, QWEN3, "auto") == _prompt(model, QWEN3, "on")  # thinks by default
    # off: the template's switch closes an empty block (enable_thinking=False reached it)
    assert _prompt(model, QWEN3, "off").endswith("<|im_start|>assistant\n<think>\n\n</think>\n\n")


def test_deepseek_r1_opens_the_block_itself_and_off_closes_it(model):
    assert _prompt(model, DEEPSEEK_R1, "auto").endswith("<｜Assistant｜><think>\n")
    assert _prompt(model, DEEPSEEK_R1, "on") == _prompt(model, DEEPSEEK_R1, "auto")
    assert _prompt(model, DEEPSEEK_R1, "off").endswith("<｜Assistant｜><think>\n\n</think>\n\n")


def test_smollm3_switch_and_system_flags(model):
    on, off = _prompt(model, SMOLLM3, "on"), _prompt(model, SMOLLM3, "off")
    assert "Reasoning Mode: /think" in on and on.endswith("<|im_start|>assistant\n<think>\n")
    assert "Reasoning Mode: /no_think" in off and off.endswith("assistant\n<think>\n\n</think>\n")
    # the request's setting wins over a flag in the system prompt, which the template removes
    flagged = _prompt(model, SMOLLM3, "on", system="Be brief. /no_think")
    assert "Reasoning Mode: /think" in flagged and "Be brief.\n\n" in flagged
    # "auto" leaves the flag to the template: no thinking, and no block opened for it
    assert _prompt(model, SMOLLM3, "auto", system="Be brief. /no_think").endswith("</think>\n")


def test_gpt_oss_reasoning_effort_and_analysis_channel(model):
    on, off = _prompt(model, GPT_OSS, "on"), _prompt(model, GPT_OSS, "off")
    assert "Reasoning: medium" in on and on.endswith("<|start|>assistant<|channel|>analysis<|message|>")
    assert "Reasoning: low" in off
    assert off.endswith("<|start|>assistant<|channel|>analysis<|message|><|end|>"
                        "<|start|>assistant<|channel|>final<|message|>")


def test_a_model_that_does_not_think(model):
    plain = _prompt(model, None, "auto")
    assert _prompt(model, None, "off") == plain and "<think>" not in plain
    with pytest.raises(InvalidArgumentError, match="reasoning='on' needs a model that thinks"):
        _prompt(model, None, "on")
    with pytest.raises(InvalidArgumentError, match="'maybe'"):
        _prompt(model, QWEN3, "maybe")


# ------------------------------------------------------------------- scripted thinking, decoded
def _events(provider: LlamaProvider, **kwargs: Any) -> tuple[list[Any], Turn]:
    events = list(provider.stream_perform([Turn("user", ["What is 2 plus 2?"])], **kwargs))
    assert isinstance(events[-1], TurnDone)
    return events[:-1], events[-1].turn


def _cache_text(provider: LlamaProvider) -> str:
    return provider.model.detokenize(provider.context.memory.tokens(0))


def test_thinking_streams_as_its_own_events_and_stays_out_of_the_answer(model):
    provider = Scripted(model, template=QWEN3, thinking=f'root ::= "{THOUGHT}</think>"',
                        answer=f'root ::= "{ANSWER}"')
    events, turn = _events(provider, params={"max_tokens": 64})
    kinds = [type(e) for e in events]
    assert set(kinds) == {ThinkingDelta, TextDelta}
    assert kinds.index(TextDelta) > max(i for i, k in enumerate(kinds) if k is ThinkingDelta)
    assert "".join(e.text for e in events if isinstance(e, ThinkingDelta)) == THOUGHT
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == ANSWER
    assert turn.contents == [ContentThinking(THOUGHT), ContentText(ANSWER)]
    assert turn.text == ANSWER and turn.finish_reason == "eog"
    # the answer was decoded after the model's own closing marker and the template's blank line
    assert _cache_text(provider).endswith(f"<think>\n{THOUGHT}</think>\n\n{ANSWER}")


def test_budget_closes_the_thinking_after_that_many_tokens(model):
    assert model.tokenize(" yes", add_special=False) == [YES_TOKEN]  # so the thinking counts them
    provider = Scripted(model, template=QWEN3, thinking=YES,
                        answer=f'root ::= "{ANSWER}"')
    _, turn = _events(provider, params={"max_tokens": 64, "reasoning_budget": 5})
    assert turn.contents == [ContentThinking(" yes" * 5), ContentText(ANSWER)]
    assert _cache_text(provider).endswith(f"<think>\n{' yes' * 5}\n</think>\n\n{ANSWER}")
    # max_tokens counts the thinking (5 tokens) and the answer
    assert turn.tokens.output == 5 + len(model.tokenize(ANSWER, add_special=False))
    # a budget of 0: no thinking at all
    _, turn = _events(provider, params={"max_tokens": 64, "reasoning_budget": 0})
    assert turn.contents == [ContentText(ANSWER)]
    assert _cache_text(provider).endswith(f"<think>\n\n</think>\n\n{ANSWER}")


def test_the_batch_queue_decodes_the_same_phases(model):
    provider = Scripted(model, template=QWEN3, thinking=YES,
                        answer=f'root ::= "{ANSWER}"', max_parallel=2)
    try:
        futures = [provider.submit([Turn("user", ["What is 2 plus 2?"])],
                                   params={"max_tokens": 64, "reasoning_budget": n}) for n in (3, 6)]
        turns = [f.result(timeout=300) for f in futures]
    finally:
        provider.close()
    assert [t.contents for t in turns] == [[ContentThinking(" yes" * n), ContentText(ANSWER)]
                                           for n in (3, 6)]


def test_a_thinking_the_model_ends_without_closing_it_is_closed_for_it(model):
    # the grammar ends after "Hmm." (end of generation): the answer still follows
    provider = Scripted(model, template=DEEPSEEK_R1, thinking='root ::= "Hmm."',
                        answer=f'root ::= "{ANSWER}"')
    _, turn = _events(provider, params={"max_tokens": 64})
    assert turn.contents == [ContentThinking("Hmm."), ContentText(ANSWER)]
    assert _cache_text(provider).endswith(f"<think>\nHmm.\n</think>\n\n{ANSWER}")


def test_max_tokens_spent_on_thinking_ends_the_turn_there(model):
    provider = Scripted(model, template=QWEN3, thinking=YES)
    _, turn = _events(provider, params={"max_tokens": 4})
    assert turn.contents == [ContentThinking(" yes" * 4)] and turn.finish_reason == "length"


def test_gpt_oss_analysis_channel(model):
    provider = Scripted(model, template=GPT_OSS, thinking=f'root ::= "{THOUGHT}<|end|>"',
                        answer=f'root ::= "{ANSWER}"')
    events, turn = _events(provider, params={"max_tokens": 96})
    assert "".join(e.text for e in events if isinstance(e, ThinkingDelta)) == THOUGHT
    assert turn.contents == [ContentThinking(THOUGHT), ContentText(ANSWER)]
    assert _cache_text(provider).endswith(
        f"<|channel|>analysis<|message|>{THOUGHT}<|end|><|start|>assistant<|channel|>final"
        f"<|message|>{ANSWER}")
    # harmony reads a message's thinking as `thinking`; a tool call's message may not hold
    # both text and thinking
    family = provider.reasoning_family
    call = {"id": "c1", "type": "function", "function": {"name": "add", "arguments": {}}}
    assert family.messages([{"role": "assistant", "content": "", "reasoning_content": "Add.",
                             "tool_calls": [call]}], "auto")[0]["thinking"] == "Add."
    assert "thinking" not in family.messages([{"role": "assistant", "content": "Adding.",
                                               "reasoning_content": "Add.", "tool_calls": [call]}],
                                             "auto")[0]
    # and drops the thinking of earlier answers
    history = [Turn("user", ["2 plus 2?"]), Turn("assistant", [ContentThinking("Add."), "4"]),
               Turn("user", ["2 plus 3?"])]
    prompt = provider.format_turns(history)
    assert "<|start|>assistant<|channel|>final<|message|>4<|end|>" in prompt and "Add." not in prompt


class _AsksAgain(Scripted):
    """Thinks, then asks again for a call whose result it has (the answer script); the answer
    that replaces that call is scripted too (``instead``)."""

    def __init__(self, model: Any, *, instead: str, **kwargs: Any) -> None:
        super().__init__(model, **kwargs)
        self.instead = instead

    def _plan(self, *args: Any, **kwargs: Any) -> Any:
        plan = super()._plan(*args, **kwargs)
        assert plan.answer is not None and plan.answer.instead is not None
        instead = plan.answer.instead.replace(grammar=self.instead)
        return replace(plan, answer=replace(plan.answer, instead=instead))


def test_a_repeated_call_after_thinking_is_replaced_by_an_answer_after_the_same_thinking(model):
    # DeepSeek-R1's template with the generic tool format (a call or an answer object): the
    # answer phase's call repeats add(2, 2), whose result the model has
    history = [Turn("user", ["What is 2 plus 2?"]),
               Turn("assistant", [ContentToolRequest("c1", "add", {"a": 2, "b": 2})]),
               Turn("user", [ContentToolResult("c1", value=4, name="add")])]
    call = '{"tool_call": {"name": "add", "arguments": {"a": 2, "b": 2}}}'
    answered = '{"response": "It is 4."}'
    scripts = {"template": DEEPSEEK_R1, "tool_format": "generic",
               "thinking": f'root ::= "{THOUGHT}</think>"'}
    request: dict[str, Any] = {"tools": TOOLS, "params": {"max_tokens": 96}}
    direct = Scripted(model, answer=f"root ::= {json.dumps(answered)}", **scripts)
    baseline = direct.chat_perform(history, **request)  # thinks, then answers
    direct.close()
    provider = _AsksAgain(model, answer=f"root ::= {json.dumps(call)}",
                          instead=f"root ::= {json.dumps(answered)}", **scripts)
    events = list(provider.stream_perform(history, **request))
    assert _cache_text(provider).endswith(f"<think>\n{THOUGHT}</think>\n\n{answered}")
    queued = provider.submit(history, **request).result(timeout=300)
    provider.close()
    assert {type(e) for e in events[:-1]} == {ThinkingDelta, TextDelta}  # no call events
    assert "".join(e.text for e in events if isinstance(e, ThinkingDelta)) == THOUGHT  # once
    for turn in (events[-1].turn, queued):
        assert turn.contents == baseline.contents == [ContentThinking(THOUGHT), ContentText("It is 4.")]
        assert turn.finish_reason == baseline.finish_reason
        # the prompt and the closing marker read for the call and again for the answer; the
        # thinking counted once, the call and the answer
        assert turn.tokens.input == 2 * baseline.tokens.input
        assert turn.tokens.output > baseline.tokens.output
    assert provider.tokens_used() == events[-1].turn.tokens + queued.tokens


# ------------------------------------------------------------- grammars start after the thinking
def test_structured_output_after_free_thinking(model):
    # the model thinks freely (unscripted, 12 tokens at most), then the schema's grammar holds
    chat = Chat(LlamaProvider(model, template=QWEN3),
                params={"temperature": 0, "max_tokens": 96, "reasoning_budget": 12})
    data = chat.chat_structured("What is 2 plus 2? Reply in JSON.",
                                type={"type": "object", "properties": {"answer": {"type": "integer"}},
                                      "required": ["answer"]})
    assert isinstance(data["answer"], int)
    turn = chat.last_turn()
    with pytest.raises(ValueError):  # the model wrote what it liked (the grammar came after)
        json.loads(turn.thinking)


def test_tool_call_after_free_thinking(model):
    provider = LlamaProvider(model, template=QWEN3)
    _, turn = _events(provider, tools=TOOLS, tool_choice="required",
                      params={"temperature": 0, "max_tokens": 96, "reasoning_budget": 10})
    assert turn.thinking and "<tool_call>" not in turn.thinking
    assert [r.name for r in turn.tool_requests] == ["add"] and turn.finish_reason == "tool_calls"


def test_no_reasoning_path_is_unchanged(model):
    # the default model knows no thinking: "auto" and "off" decode as before, with no thinking
    provider = LlamaProvider(model)
    _, plain = _events(provider, params={"temperature": 0, "max_tokens": 16})
    _, off = _events(provider, params={"temperature": 0, "max_tokens": 16, "reasoning": "off",
                                       "reasoning_budget": 4})
    assert off.contents == plain.contents and not plain.thinking
    assert plain.tokens.input == off.tokens.input


def test_structured_output_cut_off_while_thinking_says_so(model):
    provider = Scripted(model, template=QWEN3, thinking=YES)
    with pytest.raises(TruncatedOutputError, match=r"max_tokens=6 .*the thinking took 6 of them"):
        provider.structured_output([Turn("user", ["2 plus 2?"])], type=dict, params={"max_tokens": 6})


@pytest.mark.parametrize("tool_choice", ["required", "add"])
def test_a_forced_call_the_thinking_left_no_room_for_says_so(model, tool_choice):
    # the thinking takes every token: no call was made, and that is no answer
    provider = Scripted(model, template=QWEN3, thinking=YES)
    with pytest.raises(TruncatedOutputError, match=r"max_tokens=6 .*the thinking took 6 of them"):
        _events(provider, tools=TOOLS, tool_choice=tool_choice, params={"max_tokens": 6})
    _, auto = _events(provider, tools=TOOLS, tool_choice="auto", params={"max_tokens": 6})
    assert auto.finish_reason == "length" and auto.thinking  # under auto it may end so


def test_a_stream_closed_while_thinking_leaves_the_provider_usable(model):
    provider = Scripted(model, template=QWEN3, thinking=YES, answer=f'root ::= "{ANSWER}"')
    stream = provider.stream_perform([Turn("user", ["What is 2 plus 2?"])],
                                     params={"max_tokens": 64, "reasoning_budget": 30})
    assert isinstance(next(stream), ThinkingDelta)
    stream.close()
    spent = provider.tokens_used()
    assert spent.output >= 1
    _, turn = _events(provider, params={"max_tokens": 64, "reasoning_budget": 2})
    assert turn.contents == [ContentThinking(" yes" * 2), ContentText(ANSWER)]
    assert provider.tokens_used() == spent + turn.tokens


# ------------------------------------------------------- thinking markers of more families
@pytest.mark.parametrize(("name", "opening", "closing"), [
    ("ByteDance-Seed-OSS.jinja", "<seed:think>", "</seed:think>"),
    ("mistralai-Ministral-3-14B-Reasoning-2512.jinja", "[THINK]", "[/THINK]"),
    ("Apertus-8B-Instruct.jinja", "<|inner_prefix|>", "<|inner_suffix|>"),
    # built with str.format from a template constant: '<think{}>'.format(HYTK)
    ("tencent-Hy3.jinja", "<think:opensource>", "</think:opensource>"),
])
def test_each_family_s_own_thinking_markers_split_thinking_from_the_answer(model, name, opening, closing):
    template = read_template(name)
    provider = LlamaProvider(model, template=template)
    try:
        assert provider.model_info()["reasoning"] == "think"
        assert provider.reasoning_family is not None
        assert (provider.reasoning_family.open, provider.reasoning_family.close) == (opening, closing)
        contents, error = parse_output(f"{opening}Two and two make four.{closing}It is 4.",
                                       provider.tool_format, tags=thinking_tags(template))
    finally:
        provider.close()
    assert error is None
    assert [type(c) for c in contents] == [ContentThinking, ContentText]
    assert contents[0].thinking.strip() == "Two and two make four." and contents[1].text.strip() == "It is 4."


def test_apertus_deliberation_switch(model):
    template = read_template("Apertus-8B-Instruct.jinja")
    assert "Deliberation: enabled" in _prompt(model, template, "on")
    assert "Deliberation: disabled" in _prompt(model, template, "off")


def test_hunyuan3_switch_is_its_reasoning_effort(model):
    template = read_template("tencent-Hy3.jinja")
    assistant = "<｜hy_Assistant:opensource｜>"
    assert _prompt(model, template, "on").endswith(assistant + "<think:opensource>")
    # its default is no_think: the template closes an empty block
    assert _prompt(model, template, "off").endswith(assistant + "<think:opensource></think:opensource>")
    assert _prompt(model, template, "auto") == _prompt(model, template, "off")


def test_minimax_m3_thinking_markers_are_recognised_beside_think(model):
    template = read_template("MiniMax-M3.jinja")
    assert ("<mm:think>", "</mm:think>") in thinking_tags(template)
    contents, error = parse_output("<mm:think>Check.</mm:think>It is 4.", None, tags=thinking_tags(template))
    assert error is None and [type(c) for c in contents] == [ContentThinking, ContentText]
