"""grammar_close: constrained output that max_tokens would cut gets its shortest completion.

The Python pushdown reader of GBNF (``engine/_gbnf_closer.py``) must agree with llama.cpp's
grammar: every completion it proposes is checked here by llama.cpp itself.
"""

from __future__ import annotations

import json
import os
import pathlib
import random

import pytest

from llamaprov import InvalidArgumentError, SamplingParams, grammars
from llamaprov.engine._gbnf_closer import GbnfCloser
from llamaprov.errors import GrammarError

DATA = pathlib.Path(os.environ.get(
    "LLAMAPROV_MASKBENCH_DIR",
    pathlib.Path(__file__).resolve().parents[3] / "shared" / "jsonschemabench" / "maskbench"))

SMALL = r'''root ::= "{" ws "\"a\"" ws ":" ws str ( "," ws "\"b\"" ws ":" ws num )? ws "}"
str ::= "\"" ( [^"\\] | "\\" ["\\nt] )* "\""
num ::= "-"? [0-9]{1,3} ( "." [0-9]+ )?
ws ::= [ \t\n]{0,2}
'''
SCHEMA = {
    "type": "object",
    "properties": {
        "title": {"type": "string", "description": "a title"},
        "tags": {"type": "array", "items": {"type": "string"}, "minItems": 1},
        "meta": {"type": "object", "properties": {"year": {"type": "integer"},
                                                  "ok": {"type": "boolean"}},
                 "required": ["year", "ok"], "additionalProperties": False},
    },
    "required": ["title", "tags", "meta"],
    "additionalProperties": False,
}


def closed(grammar: str, prefix: str) -> str:
    closer = GbnfCloser(grammar)
    closer.feed(prefix)
    closing = closer.closing()
    assert closing is not None, closer.failed
    return prefix + closing


def test_the_closing_is_the_shortest_completion() -> None:
    assert closed(SMALL, "") == '{"a":""}'
    assert closed(SMALL, '{ "a": "hel') == '{ "a": "hel"}'
    assert closed(SMALL, '{"a": "x\\') == '{"a": "x\\""}'  # an escape is finished first
    assert closed(SMALL, '{"a":"", "b": 12.') == '{"a":"", "b": 12.0}'
    assert closed(SMALL, '{"a":"", "b": -') == '{"a":"", "b": -0}'
    assert closed(SMALL, '{"a":""}') == '{"a":""}'  # complete: nothing to add


def test_text_the_grammar_refuses_gives_the_state_up() -> None:
    closer = GbnfCloser(SMALL)
    closer.feed('{"a":"", "b": 1234')  # at most three digits
    assert closer.closing() is None and "'4'" in (closer.failed or "")
    with pytest.raises(GrammarError, match="nope"):
        GbnfCloser('root ::= nope')


def test_closings_of_compiled_schemas_are_accepted_by_llama_cpp(model) -> None:
    # prefixes of valid instances of real schemas, each closed, then checked by llama.cpp's
    # own grammar and by jsonschema: the Python reader and llama.cpp must agree
    import jsonschema

    rng = random.Random(0)
    paths = sorted(DATA.glob("Glaiveai2K*.json"))[:40] + sorted(DATA.glob("BFCL_*.json"))[:20]
    checked = 0
    for path in paths:
        case = json.loads(path.read_text())
        instances = [t["data"] for t in case["tests"] if t["valid"]]
        try:
            gbnf = grammars.compile_schema(case["schema"], whitespace="compact").grammar
        except Exception:  # schemas the compiler refuses are not this test's concern
            continue
        if not instances:
            continue
        text = json.dumps(instances[0], separators=(",", ":"), ensure_ascii=False)
        with grammars.GrammarMatcher(gbnf, model_path=str(model.path)) as matcher:
            if not matcher.accepts(text):
                continue
            for cut in sorted(rng.sample(range(len(text)), min(6, len(text)))):
                whole = closed(gbnf, text[:cut])
                assert matcher.accepts(whole), (path.name, text[:cut], whole)
                jsonschema.validate(json.loads(whole), case["schema"]) if cut == 0 else None
                checked += 1
    assert checked >= 150


@pytest.fixture(scope="module")
def ctx(model):
    with model.new_context(n_ctx=1024) as c:
        yield c


def generate(model, ctx, max_tokens: int, schema=SCHEMA, **knobs):
    prompt = model.apply_chat_template(
        [{"role": "user", "content": "Describe a long novel as JSON, with many tags."}])
    gbnf = grammars.compile_schema(schema, whitespace="compact").grammar
    sampling = SamplingParams(temperature=0, grammar=gbnf, **knobs)
    return ctx.completion(prompt, max_tokens=max_tokens, sampling=sampling).result()


@pytest.mark.parametrize("max_tokens", [24, 32, 48])
def test_a_budget_that_would_cut_the_value_closes_it(model, ctx, max_tokens) -> None:
    import jsonschema

    cut = generate(model, ctx, max_tokens)
    assert cut.finish_reason == "length" and not cut.closed
    with pytest.raises(ValueError):
        json.loads(cut.text)
    done = generate(model, ctx, max_tokens, grammar_close=True)
    assert done.finish_reason == "length" and done.closed
    assert len(done.tokens) <= max_tokens
    jsonschema.validate(json.loads(done.text), SCHEMA)


PEOPLE = {
    "type": "object",
    "properties": {"people": {"type": "array", "minItems": 1, "items": {
        "type": "object",
        "properties": {k: {"type": "string"} for k in
                       ("first_name", "last_name", "email_address", "phone_number")},
        "required": ["first_name", "last_name", "email_address", "phone_number"],
        "additionalProperties": False}}},
    "required": ["people"],
    "additionalProperties": False,
}


def test_a_token_that_would_outgrow_the_budget_is_replaced_by_the_closing(model, ctx) -> None:
    # opening another item makes the closing ~20 tokens longer in one step: that must be
    # foreseen, or the value is cut (the forced-calls bench found such cuts). "]" is banned,
    # so the model writes item after item until the budget ends the list.
    import jsonschema

    no_end = {t: float("-inf") for t in range(len(model.vocab)) if "]" in model.detokenize([t])}
    prompt = model.apply_chat_template(
        [{"role": "user", "content": "List twelve people with their contact details as JSON."}])
    sampling = SamplingParams(temperature=0, grammar=grammars.compile_schema(PEOPLE).grammar,
                              grammar_close=True, logit_bias=no_end)
    for max_tokens in range(30, 130, 4):
        done = ctx.completion(prompt, max_tokens=max_tokens, sampling=sampling).result()
        assert done.closed and len(done.tokens) <= max_tokens
        jsonschema.validate(json.loads(done.text), PEOPLE)


def test_output_complete_where_the_next_item_would_not_fit_ends_there(model, ctx) -> None:
    # calls one after another, each complete on its own (a native format's parallel calls):
    # with the end of generation banned, the model opens call after call; one it has no room
    # to finish must not be opened (the function-call loops of the template collection)
    import re

    grammar = 'root ::= call (">>>" call)*\ncall ::= "get_city\\n{\\"city\\": \\"" [A-Za-z ]{1,12} "\\"}"'
    no_end = dict.fromkeys(model.vocab.eog_tokens(), float("-inf"))
    prompt = model.apply_chat_template([{"role": "user", "content": "Name cities, one per call."}])
    sampling = SamplingParams(temperature=0, grammar=grammar, grammar_close=True, logit_bias=no_end)
    call = r'get_city\n\{"city": "[A-Za-z ]{1,12}"\}'
    for max_tokens in range(20, 60, 3):
        done = ctx.completion(prompt, max_tokens=max_tokens, sampling=sampling).result()
        assert done.closed and len(done.tokens) <= max_tokens, (max_tokens, done.text)
        assert re.fullmatch(rf"{call}(>>>{call})*", done.text), (max_tokens, done.text)


def test_a_budget_too_small_for_any_completion_still_cuts(model, ctx) -> None:
    done = generate(model, ctx, 4, grammar_close=True)
    assert done.finish_reason == "length" and not done.closed and len(done.tokens) == 4


def test_a_value_finished_in_time_is_not_touched(model, ctx) -> None:
    year = {"type": "object", "properties": {"year": {"type": "integer"}}, "required": ["year"],
            "additionalProperties": False}
    plain = generate(model, ctx, 40, year)
    closing = generate(model, ctx, 40, year, grammar_close=True)
    assert plain.finish_reason == "eog" and (closing.text, closing.closed) == (plain.text, False)


def test_a_lazy_grammar_is_closed_from_its_trigger_on(model, ctx) -> None:
    # prose until "Once", then letters and spaces until "</v>", which the model may not start
    # ("<" banned): only the closing can end it
    gbnf = 'root ::= "Once" [a-z ]* "</v>"'
    prompt = model.apply_chat_template(
        [{"role": "user", "content": "Tell me a story that starts with: Once upon a time"}])
    (lt,) = model.tokenize("<", add_special=False)
    sampling = SamplingParams(temperature=0, grammar=gbnf, grammar_lazy=True,
                              grammar_trigger_words=["Once"], grammar_close=True,
                              logit_bias={lt: float("-inf")})
    result = ctx.completion(prompt, max_tokens=30, sampling=sampling).result()
    assert result.closed and len(result.tokens) <= 30
    assert result.text.startswith("Once upon") and result.text.endswith("</v>")


def test_output_of_characters_that_take_several_tokens_is_closed_between_characters(model, ctx) -> None:
    # CJK text, most characters two or three byte tokens, which only the closing may end ("!"
    # banned): at many budgets the output is inside a character when the closing is due, and
    # the grammar has taken that character's first bytes (a closing forced there was refused
    # by llama.cpp, the closing given up and the output cut: DeepSeek-V3.2's DSML calls)
    import re

    gbnf = 'root ::= [一-龥]+ "!"'
    no_end = {t: float("-inf") for t in range(len(model.vocab)) if b"!" in model.token_bytes(t)}
    prompt = model.apply_chat_template([{"role": "user", "content": "Write a poem in Chinese."}])
    sampling = SamplingParams(temperature=0, grammar=gbnf, grammar_close=True, logit_bias=no_end)
    split = 0
    for max_tokens in range(12, 40):
        done = ctx.completion(prompt, max_tokens=max_tokens, sampling=sampling).result()
        assert done.closed and len(done.tokens) <= max_tokens, (max_tokens, done.text)
        assert re.fullmatch("[一-龥]+!", done.text), (max_tokens, done.text)
        pieces = [model.token_bytes(t) for t in done.tokens]
        split += sum(len(p) < 3 for p in pieces if p[:1] >= b"\xe0")
    assert split  # characters did come in pieces


def test_grammar_close_must_be_a_bool() -> None:
    with pytest.raises(InvalidArgumentError, match="grammar_close"):
        SamplingParams(grammar_close=1)


def test_a_cycle_inside_constrained_output_is_closed_early(model, ctx) -> None:
    # greedy, the model repeats "sampu, " inside the string until max_tokens cuts it
    gbnf = 'root ::= "\\"" [a-z ,0-9]* "\\""'
    prompt = model.apply_chat_template(
        [{"role": "user", "content": "Repeat after me ten times: sampu, sampu, sampu"}])
    looping = ctx.completion(prompt, max_tokens=60, sampling=SamplingParams(
        temperature=0, grammar=gbnf)).result()
    assert looping.finish_reason == "length" and looping.text.count("sampu") >= 12
    closed = ctx.completion(prompt, max_tokens=60, sampling=SamplingParams(
        temperature=0, grammar=gbnf, grammar_close_repeats=3)).result()
    assert closed.closed and closed.finish_reason == "stop" and closed.text.endswith('"')
    assert closed.text[:-1] == looping.text[:len(closed.text) - 1]  # the same output, ended early
    assert 12 <= len(closed.tokens) < 40


def test_a_repeat_shorter_than_a_cycle_is_left_alone(model, ctx) -> None:
    from llamaprov.engine._closing import MIN_CYCLE_SPAN, BudgetCloser

    closer = BudgetCloser(model, 'root ::= [0-9,]*', "root", at_budget=False, repeats=3)
    for t in [15, 16] * 3:  # "0,0,0," as tokens: three repeats over 6 tokens
        closer.follow("", t)
    assert not closer.cycling()
    for t in [15, 16] * (MIN_CYCLE_SPAN // 2 - 3):
        closer.follow("", t)
    assert closer.cycling()
    with pytest.raises(InvalidArgumentError, match="grammar_close_repeats"):
        SamplingParams(grammar_close_repeats=1)
