"""validate_gbnf, GrammarMatcher and the bundled grammars, checked with llama.cpp itself."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from llamaprov.errors import GrammarError, InvalidArgumentError
from llamaprov.grammars import GrammarMatcher, available, load, validate_gbnf


def test_valid_grammar_passes() -> None:
    validate_gbnf('root ::= "a" item*\nitem ::= [0-9]')


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("root ::= x", "Undefined rule identifier 'x'"),
        ('root ::= "a" (', "expecting ')'"),
        ('root ::= "\\q"', "unknown escape"),
        ('foo ::= "a"', "root"),
        ('root ::= root "a"', "left recursion"),
        ('root ::= ("a"{0,1000}){0,1000}', "exceeds"),
        ("", "empty"),
        ("root ::= " + "(" * 5000 + '"a"' + ")" * 5000, "nests"),
    ],
)
def test_invalid_grammar_raises_with_llama_cpp_message(text: str, message: str) -> None:
    with pytest.raises(GrammarError, match=re.escape(message)):
        validate_gbnf(text)


def test_non_string_rejected() -> None:
    with pytest.raises(InvalidArgumentError):
        validate_gbnf(b"root ::= x")  # type: ignore[arg-type]


def test_deep_nesting_does_not_crash_the_process() -> None:
    # 30,000 nested groups overflow llama.cpp's parser stack; we refuse before calling it
    code = (
        "from llamaprov.errors import GrammarError\n"
        "from llamaprov.grammars import validate_gbnf\n"
        "try:\n    validate_gbnf('root ::= ' + '(' * 30000 + '\"a\"' + ')' * 30000)\n"
        "except GrammarError as e:\n    print('refused', e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "refused" in out.stdout


def test_matcher_accepts_exact_texts() -> None:
    with GrammarMatcher('root ::= "yes" | "no" [!]?') as m:
        assert m.accepts("yes")
        assert m.accepts("no!")
        assert not m.accepts("ye")  # end of generation not allowed yet
        assert not m.accepts("yess")
        assert not m.accepts("maybe")  # a forbidden token is refused, never fed


def test_bundled_grammars() -> None:
    assert set(available()) >= {"json", "json_arr", "list", "yes_no", "number"}
    for name in available():
        validate_gbnf(load(name))
    with GrammarMatcher(load("json")) as m:
        assert m.accepts('{"a": [1, 2.5e3, null, "x\\n"], "b": {}}')
        assert not m.accepts("[1]")
    with GrammarMatcher(load("json_arr")) as m:
        assert m.accepts('[1, "a", {"b": true}]')
        assert not m.accepts('{"a": 1}')
    with GrammarMatcher(load("list")) as m:
        assert m.accepts("- milk\n- two eggs\n")
        assert not m.accepts("milk\n")
    with GrammarMatcher(load("yes_no")) as m:
        assert m.accepts("yes") and m.accepts("no") and not m.accepts("Yes")
    with GrammarMatcher(load("number")) as m:
        assert m.accepts("-12.5e3") and not m.accepts("012")


def test_load_unknown_name() -> None:
    with pytest.raises(InvalidArgumentError, match="unknown grammar"):
        load("nope")
