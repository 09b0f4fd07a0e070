"""Property-based fuzzing of grammars: mutated GBNF, lazy-grammar triggers, JSON Schema compiles.

Each test runs one hypothesis search in a child process (see ``run_fuzz`` in conftest.py).
Grammars reach llama.cpp's recursive-descent parser and its grammar sampler, whose failure
modes are a C stack overflow (deep nesting) and an abort (a token the grammar forbids).
"""

from __future__ import annotations

from textwrap import dedent

import pytest

pytestmark = pytest.mark.fuzz

# Grammar material shared by the GBNF and lazy-grammar searches (child-side source code).
GRAMMARS = r'''
import pathlib
import llamaprov.grammars as G
from llamaprov.engine import SamplingParams, sampling

BUNDLED = [p.read_text() for p in sorted(pathlib.Path(G.__file__).parent.glob("*.gbnf"))]
SMALL = [
    'root ::= "a"', 'root ::= "yes" | "no"', 'root ::= [a-z]+', 'root ::= ""',
    'root ::= "{" [a-z]* "}"', 'root ::= item ("," item)*\nitem ::= [0-9]+',
    'root ::= "x"{2,5} [^"\\\\]*', 'root ::= ( "a" | "b" )* "c"?', 'root ::= <[1000]> "a"',
    'root ::= [\\x00-\\x7f]+', 'root ::= "\\u00e9" [\\U0001F600-\\U0001F64F]',
    'root ::= x\nx ::= "(" x ")" | ""', 'root ::= [^\\n]+ "\\n"',
]
CORPUS = BUNDLED + SMALL
# pieces of GBNF syntax to splice in
PIECES = ['(', ')', '[', ']', '"', '\\', '|', '*', '+', '?', '::=', ' ', '\n', '#', '{', '}', ',',
          '-', '^', '.', '<', '>', 'root', 'x', '0', '9', '2000', '2001', '4294967296',
          '\\x', '\\u', '\\U', '\\xZZ', '\\uD800', '\\U00110000', '[^]', '[]', '""', '<[',
          '{0,}', '{,}', '{1,0}', '{99999}', 'x ::= x', ' ::= ', '\\\\', '\x00', '\ud800', '\u2028']


@st.composite
def mutated(draw):
    text = draw(st.sampled_from(CORPUS))
    for _ in range(draw(st.integers(0, 4))):
        op = draw(st.sampled_from(["insert", "delete", "dup", "replace", "nest", "repeat", "rule"]))
        i = draw(st.integers(0, len(text)))
        j = draw(st.integers(i, min(len(text), i + 40)))
        if op == "insert":
            text = text[:i] + draw(st.sampled_from(PIECES) | st.text(max_size=3)) + text[i:]
        elif op == "delete":
            text = text[:i] + text[j:]
        elif op == "dup":
            text = text[:j] + text[i:j] * draw(st.integers(1, 50)) + text[j:]
        elif op == "replace":
            text = text[:i] + draw(st.sampled_from(PIECES)) + text[j:]
        elif op == "nest":
            n = draw(st.sampled_from([1, 10, 999, 1000, 1001, 5000, 30000]) | st.integers(1, 3000))
            text = text + "\nroot2 ::= " + "(" * n + '"a"' + ")" * n
        elif op == "repeat":
            a = draw(nasty_ints)
            b = draw(st.none() | nasty_ints)
            count = "{" + str(a) + ("" if b is None else "," + str(b)) + "}"
            text = text + '\nrep ::= "a"' + count
        else:
            text = text + "\n" + draw(st.sampled_from(["root ::= root", "root ::= root \"a\"",
                                                       "a ::= b\nb ::= a", "root ::= undefined",
                                                       "root ::= \"a\"", "::=", "root"]))
    return text
'''


def test_fuzz_gbnf(fuzz):
    """Mutated and deeply nested GBNF: ``sampling.grammar``, ``validate_gbnf``, generation."""
    fuzz(GRAMMARS + dedent("""
        CTX = MODEL.new_context(n_ctx=256, n_threads=1)
        roots = st.sampled_from(["root", "root", "root", "item", "", "nope", "\\x00", "\\ud800", 7])

        @fuzz_settings()
        @given(mutated(), roots, st.sampled_from([0.0, 0.8]))
        @example("root ::= " + "(" * 30000 + '"a"' + ")" * 30000, "root", 0.0)
        @example("root ::= " + "[" * 100000, "root", 0.0)
        @example('root ::= "a"{2001}', "root", 0.0)
        @example('root ::= (("a"{0,2000}){0,2000}){0,2000}', "root", 0.0)
        @example('root ::= [^\\\\x00-\\\\U0010FFFF]', "root", 0.0)
        @example('root ::= [^\\\\x00-\\\\U0010FFFF]', "root", 0.8)
        @example('root ::= root "a"', "root", 0.0)
        @example('root ::= ""', "root", 0.0)
        @example('root ::= "\\\\ud800"', "root", 0.0)
        def search(text, root, temperature):
            current(text=text, root=root, temperature=temperature)
            g = check("sampling.grammar", sampling.grammar, MODEL, text, root)
            if g is not None:
                g.close()
            check("validate_gbnf", G.validate_gbnf, text, root=root)
            CTX.memory.clear()
            check("Context.generate(grammar)", lambda: CTX.generate(
                "Answer:", max_tokens=4, sampling=SamplingParams(grammar=text, grammar_root=root,
                                                                temperature=temperature)))

        search()
        report()
    """), examples=150, timeout=150)


def test_fuzz_lazy_grammar_triggers(fuzz):
    """Lazy grammars with random trigger patterns (regex source), words and tokens, then a few
    generated tokens; the words are common pieces of output so triggers do fire."""
    fuzz(GRAMMARS + dedent("""
        CTX = MODEL.new_context(n_ctx=256, n_threads=1)
        HAS_WORDS = "grammar_trigger_words" in SamplingParams.__dataclass_fields__
        REGEX = ["(", ")", "[", "]", "{", "}", "*", "+", "?", "|", "^", "$", ".", "\\\\", "\\\\s",
                 "\\\\S", "\\\\d", "(?=", "(?<=", "(?P<x>", "(?P=x)", "\\\\1", "a", "{", "{2,}",
                 "[\\\\s\\\\S]*", "(a*)*", "\\x00", "\\ud800", " ", "The", "\\n", "{99999}"]
        patterns = st.lists(st.lists(st.sampled_from(REGEX), max_size=6).map("".join)
                            | st.sampled_from(["\\\\s*(\\\\{)[\\\\s\\\\S]*", "[\\\\s\\\\S]*", "(",
                                               "(a*)*b", "x{99999999999}", "(?<=a+)b"]),
                            max_size=3)
        words = st.lists(st.text(max_size=6) | st.sampled_from(
            [" ", "\\n", "the", "The", ".", ",", "a", "\\x00", "\\ud800", "<tool_call>", "{"]),
            max_size=3)
        tokens = st.lists(nasty_ints | st.integers(0, 49151), max_size=3)
        grammars = st.sampled_from(CORPUS) | mutated()

        @fuzz_settings()
        @given(grammars, patterns, words, tokens, st.sampled_from([0.0, 0.8]))
        @example('root ::= "{" [a-z]* "}"', ["("], [], [], 0.0)
        @example('root ::= "{" [a-z]* "}"', [], [" "], [], 0.0)
        @example('root ::= "{" [a-z]* "}"', [], ["\\ud800"], [], 0.0)
        @example('root ::= "a"', ["[\\\\s\\\\S]*"], [], [], 0.8)
        @example('root ::= "a"', [], [], [0, 1, 2, 49151], 0.8)
        def search(grammar, patterns, words, tokens, temperature):
            kw = dict(grammar=grammar, grammar_lazy=True, grammar_trigger_patterns=patterns,
                      grammar_trigger_tokens=tokens, temperature=temperature)
            if HAS_WORDS:
                kw["grammar_trigger_words"] = words
            current(**kw)
            params = check("SamplingParams(lazy)", lambda: SamplingParams(**kw))
            if params is None:
                return
            CTX.memory.clear()
            check("Context.generate(lazy grammar)", CTX.generate,
                  "Write a sentence, then a JSON object:", max_tokens=8, sampling=params)

        search()
        report()
    """), examples=100, timeout=150)


def test_fuzz_json_schema_to_gbnf(fuzz):
    """Generated JSON Schemas: every grammar ``json_schema_to_gbnf`` returns must compile in
    llama.cpp (``validate_gbnf``) and drive a short generation; otherwise it must raise
    UnsupportedSchemaError, GrammarError or InvalidArgumentError."""
    fuzz("""
        from llamaprov.engine import SamplingParams
        from llamaprov.errors import GrammarError
        from llamaprov.grammars import json_schema_to_gbnf, validate_gbnf

        CTX = MODEL.new_context(n_ctx=256, n_threads=1)
        names = st.text(max_size=6) | st.sampled_from(["a", "b", "name", "", "\\x00", "\\ud800", '"',
                                                        "\\\\", "$ref", "\\n"])
        scalars = (st.none() | st.booleans() | nasty_ints | nasty_floats | st.text(max_size=8))
        counts = st.sampled_from([0, 1, 2, 3, 5, 100, 2000, 2001, 10**6, 2**31, -1, 1.5, "2",
                                  None, True])
        numbers = nasty_numbers | st.sampled_from(["1", None])
        regexes = st.sampled_from(["^a+$", "[0-9]{3}", "(", "a{99999}", "^(a|b)*$", "\\\\d+",
                                   "[^\\\\x00]", "(?=a)", "\\\\p{L}", "a{2,1}", ".*", "\\ud800", ""])
        formats = st.sampled_from(["date", "date-time", "time", "email", "uuid", "uri", "ipv4",
                                   "hostname", "nope", "", 7])
        types = st.sampled_from(["string", "integer", "number", "boolean", "null", "object",
                                 "array", "nope", 7, None])
        type_field = types | st.lists(types, max_size=3)

        def keywords(children):
            values = {
                "type": type_field, "enum": st.lists(scalars, max_size=4) | scalars,
                "const": scalars, "minLength": counts, "maxLength": counts, "pattern": regexes,
                "format": formats, "minimum": numbers, "maximum": numbers,
                "exclusiveMinimum": numbers, "exclusiveMaximum": numbers, "multipleOf": numbers,
                "minItems": counts, "maxItems": counts, "uniqueItems": st.booleans(),
                "items": children | st.booleans(), "prefixItems": st.lists(children, max_size=3),
                "contains": children, "minContains": counts, "maxContains": counts,
                "properties": st.dictionaries(names, children, max_size=4),
                "required": st.lists(names, max_size=4) | names,
                "additionalProperties": st.booleans() | children,
                "patternProperties": st.dictionaries(regexes, children, max_size=2),
                "propertyNames": children, "minProperties": counts, "maxProperties": counts,
                "anyOf": st.lists(children, max_size=3), "oneOf": st.lists(children, max_size=3),
                "allOf": st.lists(children, max_size=3), "not": children,
                "if": children, "then": children, "else": children,
                "$ref": st.sampled_from(["#", "#/$defs/a", "#/$defs/missing", "#/properties/a",
                                         "http://x/y", "#/$defs/a/items", "", 7]),
                "$defs": st.dictionaries(st.sampled_from(["a", "b"]), children, max_size=2),
                "default": scalars, "description": st.text(max_size=10),
                "dependentRequired": st.dictionaries(names, st.lists(names, max_size=2), max_size=2),
            }
            # a few keywords per schema (the type most of the time), so findings stay readable
            chosen = st.lists(st.sampled_from(sorted(values)), max_size=4, unique=True)
            typed = st.sampled_from(["string", "integer", "number", "boolean", "object", "array"])
            return st.tuples(chosen, st.none() | typed).flatmap(
                lambda kt: st.fixed_dictionaries(
                    {**{k: values[k] for k in kt[0]},
                     **({} if kt[1] is None or "type" in kt[0] else {"type": st.just(kt[1])})}))

        schemas = st.recursive(st.booleans() | keywords(st.just({})), keywords, max_leaves=12)

        def compile_and_check(schema, whitespace, additional, order):
            grammar = json_schema_to_gbnf(schema, whitespace=whitespace,
                                          additional_properties=additional, property_order=order)
            try:
                validate_gbnf(grammar)
            except GrammarError as exc:  # our own output rejected by llama.cpp: a finding
                raise AssertionError(f"compiled grammar rejected by llama.cpp: {exc}") from exc
            return grammar

        @fuzz_settings()
        @given(schemas, st.sampled_from(["compact", "bounded", "flexible"]),
               st.sampled_from([None, False, True, {"type": "integer"}]),
               st.sampled_from(["definition", "definition", "any"]), st.integers(0, 3))
        @example({"type": "string", "minLength": 2**31}, "bounded", None, "definition", 0)
        @example({"type": "array", "minItems": 10**6}, "bounded", None, "definition", 0)
        @example({"$ref": "#"}, "bounded", None, "definition", 0)
        @example({"type": 7, "const": False}, "bounded", None, "definition", 0)
        @example({"$defs": {"a": {"$ref": "#/$defs/a"}}, "$ref": "#/$defs/a"}, "bounded", None,
                 "definition", 0)
        @example({"type": "object", "properties": {k: {} for k in "abcdefgh"}}, "compact", None,
                 "any", 0)
        @example({"type": "integer", "minimum": 1e308, "maximum": -1e308}, "compact", None,
                 "definition", 0)
        @example({"type": "number", "multipleOf": 1e-300}, "compact", None, "definition", 0)
        @example({"type": "string", "pattern": "a{99999}"}, "compact", None, "definition", 0)
        def search(schema, whitespace, additional, order, gen):
            current(schema=schema, whitespace=whitespace, additional=additional, order=order)
            grammar = check("json_schema_to_gbnf+validate_gbnf", compile_and_check, schema,
                            whitespace, additional, order)
            if grammar is not None and gen == 0:
                CTX.memory.clear()
                check("Context.generate(schema grammar)", lambda: CTX.generate(
                    "JSON:", max_tokens=6, sampling=SamplingParams(grammar=grammar, temperature=0)))

        search()
        report()
    """, examples=200, timeout=170)
