"""Inputs the fuzzing found that crashed, hung or raised a non-llamaprov error (issue #11).

Each reproducer runs in a child process (``expect_error``: address space capped, a signal or a
hang fails the test) and must end in a LlamaProvError; where a clamped value is as good as a
rejected one, success is accepted too. The F-numbers match the entries in the findings log.
"""

from __future__ import annotations

import pytest

SUCCESS_OK = ("llamaprov-error", "no-error")


# -- F1: lone surrogates reach .encode("utf-8") -------------------------------------------------
@pytest.mark.parametrize("call", [
    'M.tokenize("\\ud800")',
    'M.tokenize("a\\udc80b", add_special=False, parse_special=True)',
    'M.chat_template("\\ud800")',
    'llamaprov.sampling.grammar(M, \'root ::= "\\ud800"\')',
    'llamaprov.sampling.grammar(M, \'root ::= "a"\', "\\ud800")',
    'M.apply_chat_template([{"role": "user", "content": "\\ud800"}], template="chatml")',
    'M.new_context(n_ctx=64).generate("\\ud800", max_tokens=2)',
    'llamaprov.embed_batch(M, ["ok", "\\ud800"])',
    'llamaprov.chat_llamaprov(M, params={"max_tokens": 2}).chat("\\ud800")',
    'M.save("/tmp/llamaprov-\\ud800.gguf")',
])
def test_lone_surrogate_is_a_llamaprov_error(expect_error, call):
    expect_error(f"""
        M = load_model(default_model_path())
        {call}
    """)


def test_lone_surrogate_in_validate_gbnf_root(expect_error):
    expect_error("""
        from llamaprov.grammars import validate_gbnf
        validate_gbnf('root ::= "a"', root="\\ud800")
    """)


# -- F2: Batch sizes ----------------------------------------------------------------------------
@pytest.mark.parametrize("args", ["2**31", "2**32 + 8", "10**8", "1, 2**31", "1, 0, 2**31"])
def test_huge_batch_is_rejected(expect_error, args):
    """Sizes beyond int32 must not wrap; 10**8 tokens took > 60 s (10**8 mallocs) and ~2 GB."""
    expect_error(f"""
        from llamaprov.engine import Batch
        b = Batch({args})
        raise AssertionError(f"Batch({args}) was accepted (capacity {{b.capacity}})")
    """, timeout=30)


def test_huge_n_batch_context_is_rejected(expect_error):
    expect_error("""
        M = load_model(default_model_path())
        M.new_context(n_ctx=3975, n_batch=2**31 - 1)
    """, timeout=30)


# -- F3: uint32 context sizes wrap silently ---------------------------------------------------
@pytest.mark.parametrize("kwargs", ["n_ctx=2**32 + 8", "n_ctx=256, n_batch=2**32 + 8",
                                    "n_ctx=256, n_ubatch=2**32 + 8"])
def test_context_sizes_beyond_uint32_are_rejected(expect_error, kwargs):
    expect_error(f"""
        M = load_model(default_model_path())
        ctx = M.new_context({kwargs})
        ctx.generate("Hello there, this is a long prompt with many tokens in it for sure",
                     max_tokens=2, temperature=0)
        raise AssertionError(f"accepted {kwargs}: n_ctx={{ctx.n_ctx}} n_batch={{ctx.n_batch}}")
    """)


# -- F4: n_ubatch > n_batch ---------------------------------------------------------------------
def test_ubatch_larger_than_batch_does_not_crash(expect_error):
    expect_error("""
        M = load_model(default_model_path())
        c = M.new_context(n_ctx=64, n_batch=8, n_ubatch=64)
        c.generate("Hello there my friend how are you doing", max_tokens=2)
    """, allowed=SUCCESS_OK)


# -- F5: thread counts --------------------------------------------------------------------------
@pytest.mark.parametrize(("code", "allowed"), [
    ("c = M.new_context(n_ctx=64); c.set_threads(100000); c.generate('Hi', max_tokens=2)", SUCCESS_OK),
    ("M.new_context(n_ctx=64, n_threads=1000).generate('Hi', max_tokens=2)", SUCCESS_OK),
    # beyond int32: must be rejected, never wrapped
    ("M.new_context(n_ctx=64, n_threads=2**31).generate('Hi', max_tokens=2)", ("llamaprov-error",)),
    ("c = M.new_context(n_ctx=64); c.set_threads(2**32); c.generate('Hi', max_tokens=2)",
     ("llamaprov-error",)),
])
def test_huge_thread_counts_do_not_crash(expect_error, code, allowed):
    expect_error(f"""
        M = load_model(default_model_path())
        {code}
    """, allowed=allowed)


# -- F6: n_seq_max above the effective n_batch ---------------------------------------------------
@pytest.mark.parametrize("kwargs", ["n_ctx=64, n_batch=1, n_seq_max=2", "n_ctx=64, n_seq_max=256",
                                    "n_ctx=7, n_batch=2929, n_seq_max=255"])
def test_more_sequences_than_batch_does_not_abort(expect_error, kwargs):
    expect_error(f"""
        M = load_model(default_model_path())
        M.new_context({kwargs}).generate("Hi", max_tokens=2)
    """, allowed=SUCCESS_OK)


# -- F7, F8: type holes -------------------------------------------------------------------------
@pytest.mark.parametrize("call", [
    'M.new_context(n_ctx=64).decode([1], seq_id="a")',
    "M.token_bytes([1])",
    "M.token_to_piece([1])",
    "Batch(4).add(1.5, 0, 0, True)",
    'Batch(4).add("1", 0, 0, True)',
])
def test_wrong_types_are_invalid_argument_errors(expect_error, call):
    expect_error(f"""
        from llamaprov.engine import Batch
        M = load_model(default_model_path())
        {call}
    """)


def test_logits_index_beyond_int32_is_rejected(expect_error):
    expect_error("""
        M = load_model(default_model_path())
        c = M.new_context(n_ctx=64)
        c.decode(M.tokenize("Hi"))
        c.logits_ith(2**32)
    """)


# -- F9: JSON Schema compiler --------------------------------------------------------------------
@pytest.mark.parametrize("schema", ['{"type": 7, "const": False}', '{"type": 7, "enum": [1]}'])
def test_json_schema_with_odd_type_is_a_llamaprov_error(expect_error, schema):
    expect_error(f"""
        from llamaprov.grammars import json_schema_to_gbnf
        json_schema_to_gbnf({schema})
    """)


# -- F10: tool-call parsers never raise ----------------------------------------------------------
@pytest.mark.parametrize("call", [
    "parse_output('<tool_call>{\"name\": \"\\\\x\"', HermesFormat())",
    "p = make_parser(HermesFormat(), [], ''); p.feed('<tool_call>{\"name\": \"\\\\x\"'); p.finish()",
    "parse_output('get_weather\\n' + '[' * 100000, FunctionaryFormat(), prefix='>>>')",
    "parse_output('[TOOL_CALLS]' + '[' * 100000, MistralFormat())",
    "parse_output('{\"tool_call\": ' + '[' * 100000, GenericFormat())",
    "parse_output('<tool_call>' + '[' * 100000, HermesFormat())",
])
def test_tool_call_parsers_never_raise(expect_error, call):
    expect_error(f"""
        from llamaprov.chat.formats import (FunctionaryFormat, GenericFormat, HermesFormat,
                                                 MistralFormat, make_parser, parse_output)
        {call}
    """, allowed=("no-error",))


# -- F11: list content with a built-in template ---------------------------------------------------
def test_list_content_with_builtin_template(expect_error):
    expect_error("""
        M = load_model(default_model_path())
        M.apply_chat_template([{"role": "user", "content": [{"type": "text", "text": "hi"}]}],
                              template="chatml")
    """, allowed=SUCCESS_OK)


# -- F13: tools that are not a list ---------------------------------------------------------------
@pytest.mark.parametrize("tools", ["False", "7"])
def test_non_list_tools_are_invalid_argument(expect_error, tools):
    expect_error(f"""
        M = load_model(default_model_path())
        M.apply_chat_template([{{"role": "user", "content": "x"}}], tools={tools})
    """)


# -- F14: a backtracking trigger pattern must not hang generation ----------------------------------
def test_backtracking_trigger_pattern_does_not_hang(expect_error):
    """Python's re backtracks exponentially on ``(.*\\s*)*!``; re-matched over the whole output
    at every token it hung a 40-token generation for minutes."""
    expect_error("""
        M = load_model(default_model_path())
        c = M.new_context(n_ctx=256)
        c.generate("Once upon a time", max_tokens=40, temperature=0, grammar='root ::= "x"',
                   grammar_lazy=True, grammar_trigger_patterns=[r"(.*\\s*)*!"])
    """, timeout=60, allowed=SUCCESS_OK)


# -- F12: chat params ---------------------------------------------------------------------------
def test_non_iterable_stop_is_invalid_argument(expect_error):
    expect_error("""
        llamaprov.params(stop=1)
    """)
