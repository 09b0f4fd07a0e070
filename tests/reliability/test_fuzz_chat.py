"""Property-based fuzzing of the chat layer: tool-call parsers on mutated model output, chat
templates on odd messages, and the Chat API on odd inputs and settings.

Each test runs one hypothesis search in a child process (see ``run_fuzz`` in conftest.py). The
parsers promise more than the rest: ``parse_output`` and the streaming parser never raise at all
(a model's output is whatever it is), so any exception from them, even a LlamaProvError, is a
finding there.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.fuzz


def test_fuzz_tool_call_parsers(fuzz):
    """``parse_output`` and the streaming parser of every format on mutated model output, fed
    whole and in random chunks."""
    fuzz("""
        from llamaprov.chat.formats import TOOL_FORMATS, THINKING_TAGS, make_parser, parse_output
        from llamaprov.chat import ToolDef

        TOOLS = [ToolDef("get_weather", "Weather", {"type": "object", "properties": {
                     "city": {"type": "string"}}, "required": ["city"]}),
                 ToolDef("add", "Add", {"type": "object", "properties": {
                     "a": {"type": "integer"}, "b": {"type": "integer"}}})]
        FORMATS = [None] + [cls(template_tools=t) for cls in TOOL_FORMATS.values() for t in (True, False)]
        CALL = '{"name": "get_weather", "arguments": {"city": "Paris"}}'
        PIECES = [
            CALL, '{"name": "add", "parameters": {"a": 1, "b": 2}}',
            "<tool_call>\\n" + CALL + "\\n</tool_call>", "<tool_call>", "</tool_call>", "[TOOL_CALLS]",
            "[TOOL_CALLS] [" + CALL + "]", "<|python_tag|>", ">>>",
            ">>>get_weather\\n{\\"city\\": \\"Paris\\"}",
            ">>>all\\n", "all\\n", '{"tool_call": ' + CALL + "}", '{"tool_calls": [' + CALL + ", 7]}",
            '{"function": {"name": "f", "arguments": "{\\\\"a\\\\": 1}"}}',
            '{"name": "\\\\x"', '{"name": "a\\nb", "arguments": ', '{"name": 7}', '"arguments": "not json"',
            "<think>", "</think>", "<thinking>", "</thinking>", "<|START_THINKING|>", "<|END_THINKING|>",
            "[" * 3000, "{" * 3000, '{"a":' * 2000, "]" * 10, "}" * 10, '"', "\\\\", "\\x00", "\\ud800",
            "\\n", " ", "Hello", "1e999999", "-", "null", "true", ",", ";", ":", "NaN", "Infinity",
            '{"name": "get_weather", "arguments": {"city": "\\\\ud800"}}', "\\u2028", "\\ufeff",
        ]
        outputs = st.lists(st.sampled_from(PIECES) | st.text(max_size=8), max_size=8).map("".join)
        tags = st.sampled_from([list(THINKING_TAGS[:1]), list(THINKING_TAGS), []])
        prompts = st.sampled_from(["", "Hi", "<think>", "<think>\\n", "x>>>", "<thinking>", "</think>"])

        def stream(fmt, tag_list, prompt, text, cuts):
            parser = make_parser(fmt, tag_list, prompt)
            pos = 0
            for cut in sorted(cuts):
                parser.feed(text[pos:cut])
                pos = max(pos, cut)
            parser.feed(text[pos:])
            return parser.finish()

        def never_raises(fn, *args):
            try:
                return fn(*args)
            except LlamaProvError as exc:  # even ours: these promise not to raise
                raise AssertionError(f"raised {type(exc).__name__}: {exc}") from exc

        @fuzz_settings()
        @given(st.sampled_from(range(len(FORMATS))), tags, prompts, outputs,
               st.lists(st.integers(0, 400), max_size=6), st.booleans())
        @example(4, [THINKING_TAGS[0]], "", "[TOOL_CALLS]" + "[" * 100000, [], False)
        @example(1, [THINKING_TAGS[0]], "", '<tool_call>{"name": "\\\\x"', [], False)
        @example(1, [THINKING_TAGS[0]], "", '<tool_call>{"name": "\\\\x", "arguments": {}}</tool_call>', [5],
                 False)
        @example(7, [THINKING_TAGS[0]], ">>>", "get_weather\\n" + "[" * 100000, [], False)
        def search(fmt_index, tag_list, prompt, text, cuts, in_thinking):
            fmt = FORMATS[fmt_index]
            current(fmt=None if fmt is None else type(fmt).__name__, tags=tag_list, prompt=prompt,
                    text=text, cuts=cuts, in_thinking=in_thinking)
            check("parse_output", never_raises, parse_output, text, fmt)
            check("parse_output(in_thinking)", never_raises,
                  lambda: parse_output(text, fmt, tags=tag_list or None, in_thinking=in_thinking,
                                       prefix=prompt))
            check("make_parser/feed/finish", never_raises, stream, fmt, tag_list, prompt, text, cuts)

        search()
        report()
    """, examples=400, timeout=150)


def test_fuzz_apply_chat_template(fuzz):
    """``Model.apply_chat_template`` on odd messages (missing keys, non-str content, huge,
    nested, odd tool lists) with the model's template, built-in ones and odd Jinja."""
    fuzz("""
        from llamaprov.engine import chat_builtin_templates

        OWN = MODEL.chat_template()
        TEMPLATES = [None, OWN, "chatml", "llama3", "mistral-v7", "gemma", "zephyr", "nope",
                     "{{ messages[0]['content'] }}", "{{ messages[0].content.x.y }}",
                     "{% for m in messages %}{{ m.role + m.content }}{% endfor %}",
                     "{{ raise_exception('no') }}", "{{ tools | tojson }}", "{% if %}",
                     "{{ messages | tojson }}", "{{ 'a' * 10**10 }}",
                     "{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}",
                     "{{ ''.__class__.__mro__ }}", "{{ strftime_now('%Y') }}"]
        TEMPLATES += chat_builtin_templates()[:8]
        leaves = (st.none() | st.booleans() | nasty_numbers | st.text(max_size=10)
                  | st.sampled_from(["x" * 100000, "\\x00", "\\ud800", "<|im_end|>"]))
        values = st.recursive(leaves, lambda c: st.lists(c, max_size=3) | st.dictionaries(
            st.text(max_size=5) | st.sampled_from(["type", "text", "role", "content"]), c, max_size=3),
            max_leaves=8)
        keys = st.sampled_from(["role", "content", "tool_calls", "name", "tool_call_id",
                                "reasoning_content", "type", "function"]) | st.text(max_size=4)
        roles = st.sampled_from(["system", "user", "assistant", "tool", "ipython", ""]) | values
        message = st.fixed_dictionaries({}, optional={"role": roles, "content": values}).flatmap(
            lambda base: st.dictionaries(keys, values, max_size=2).map(lambda extra: {**extra, **base}))
        messages = (st.lists(message, max_size=4) | st.lists(values, max_size=2) | values)
        tools = st.none() | st.lists(values, max_size=2) | values

        @fuzz_settings()
        @given(messages, st.sampled_from(range(len(TEMPLATES))), tools, st.booleans())
        @example([{"role": "user", "content": [{"type": "text", "text": "hi"}]}], 2, None, True)
        @example([{"role": "user"}], 1, None, True)
        @example([{"role": "user", "content": 7}], 1, None, True)
        @example([{"role": "user", "content": {"a": 1}}], 1, [{"type": "function"}], True)
        @example([{"content": "x"}], 1, None, True)
        @example([{"role": "user", "content": "\\ud800"}], 1, None, False)
        @example("user: hi", 1, None, True)
        def search(msgs, template_index, tool_list, add_generation_prompt):
            template = TEMPLATES[template_index]
            current(messages=msgs, template=template, tools=tool_list,
                    add_generation_prompt=add_generation_prompt)
            check("Model.apply_chat_template", MODEL.apply_chat_template, msgs, template=template,
                  tools=tool_list, add_generation_prompt=add_generation_prompt)

        search()
        report()
    """, examples=250, timeout=150)


def test_fuzz_chat_api(fuzz):
    """The Chat API on odd inputs, settings, tool choices and structured-output types."""
    fuzz("""
        import llamaprov
        from llamaprov.chat import ContentText, ContentToolResult, Turn

        CHAT_PARAMS = ["temperature", "top_p", "top_k", "min_p", "seed", "stop", "max_tokens",
                       "repeat_penalty", "frequency_penalty", "presence_penalty"]
        odd = st.sampled_from([None, "", "x", [], {}, object(), b"bytes", ("a",), ["\\x00"]])
        param_values = nasty_numbers | odd | st.sampled_from([0, 1, 0.5, 4, ["."], "stop"])
        settings_ = st.dictionaries(st.sampled_from(CHAT_PARAMS) | st.text(max_size=4),
                                    param_values, max_size=4)
        inputs = st.lists(st.text(max_size=20) | st.sampled_from(
            ["\\ud800", "\\x00", "<|im_end|>", "x" * 5000]) | odd
            | st.builds(ContentText, st.text(max_size=5)) | st.just(Turn("assistant", [ContentText("hi")]))
            | st.just(ContentToolResult("id1", value=[1, 2])), max_size=3)
        choices = st.sampled_from(["auto", "required", "none", "any", "add", "nope", None, 7])
        types = st.sampled_from([None, {"type": "object", "properties": {"a": {"type": "integer"}}},
                                 {"type": "integer"}, {"type": 7}, {}, "nope", int, dict, 7, True])

        def add(a: int, b: int) -> int:
            \"\"\"Add two integers.\"\"\"
            return a + b

        PROVIDER = llamaprov.LlamaProvider(MODEL, n_ctx=512, n_threads=1)

        @fuzz_settings()
        @given(settings_, inputs, choices, types)
        @example({"max_tokens": 2**31}, ["hi"], "auto", None)
        @example({"stop": ["\\ud800"]}, ["hi"], "auto", None)
        @example({}, ["\\ud800"], "auto", None)
        @example({"seed": 2**40}, ["hi"], None, {"type": "integer"})
        def search(settings, items, choice, type_):
            current(settings=settings, inputs=items, tool_choice=choice, type=type_)
            chat = llamaprov.Chat(PROVIDER, params={"max_tokens": 4, "temperature": 0}, tools=[add])
            if check("Chat.params", chat.params, **settings) is None:
                return
            if chat.params().max_tokens > 4:  # validated; generate only a few tokens all the same
                chat.params(max_tokens=4)
            CHAT = chat
            if type_ is None:
                check("Chat.chat", CHAT.chat, *items, tool_choice=choice)
                check("Chat.stream", lambda: list(CHAT.stream(*items, tool_choice=choice, content=True)))
            else:
                check("Chat.chat_structured", CHAT.chat_structured, *items, type=type_)

        search()
        report()
    """, examples=40, timeout=150)
