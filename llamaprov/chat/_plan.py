"""The plan of one request to a :class:`~llamaprov.chat.LlamaProvider`: its prompt, fitted to the
context (``context_policy``), and how to decode and parse the reply (in two phases when it starts
inside a thinking block), and what a request adds to the conversation's prompt (the structured
output's schema note) or to its sampling (DRY inside constrained output)."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from llamaprov.chat._reasoning import ReasoningFamily, Thought
from llamaprov.chat._run import call_key, only_repeats
from llamaprov.chat.content import ContentText
from llamaprov.chat.formats import ToolCallFormat
from llamaprov.chat.params import ChatParams
from llamaprov.chat.tools import ToolDef
from llamaprov.chat.turns import TokenUsage, Turn
from llamaprov.engine import Completion, LoraAdapter, Model, SamplingParams
from llamaprov.errors import ContextOverflowError, InvalidArgumentError, describe

# the reply's token budget when a request does not set max_tokens
DEFAULT_MAX_TOKENS = 512


@dataclass(frozen=True)
class _Plan:
    """One validated request: the prompt and how to decode and parse its answer.

    A reply that starts inside a thinking block is decoded in two phases: the thinking (``answer``
    set: no grammar, it stops at the family's closing marker or at the budget), then the answer
    (``thought`` set), which continues from the prompt, the thinking and the closing marker with
    the request's grammar and stop strings, and the tokens the thinking left of ``limit``.

    Under ``tool_choice="auto"``, a reply (the answer phase's, after a thinking phase) whose calls
    all repeat ``answered`` is replaced by one decoded on the same tokens with ``instead``, the
    grammar of an answer (see :func:`with_answer_instead`, :func:`answer_instead`).
    """

    prompt: str
    tokens: list[int]  # the prompt, tokenized once
    sampling: SamplingParams
    max_tokens: int
    stop: list[str]
    special: bool
    fmt: ToolCallFormat | None
    structured: bool
    lora: dict[LoraAdapter, float] | None  # None: the adapters applied to the context
    limit: int  # the request's max_tokens: the thinking and the answer together
    cells: int  # KV cells the request may fill: prompt, every token generated, closing marker
    family: ReasoningFamily | None = None  # a thinking phase: whose marker closes it
    answer: _Plan | None = None  # a thinking phase: the plan of the answer (tokens to come)
    thought: Thought | None = None  # an answer after a thinking phase
    # the calls of the conversation's last exchange whose results the model has (call_key)
    answered: frozenset[tuple[str, str]] = frozenset()
    instead: SamplingParams | None = None  # the answer that replaces a reply repeating them
    spent: TokenUsage | None = None  # a reply that replaces another: the tokens of that one
    forced: bool = False  # the reply must call a tool (tool_choice "required" or a tool's name)
    raw: bool = False  # a plain text completion: its text is not parsed (no thinking, no calls)


def text_plan(model: Model, n_ctx: int, prompt: str, settings: ChatParams,
              check_lora: Callable[[Any], dict[LoraAdapter, float] | None]) -> _Plan:
    """The plan of a plain text completion of ``prompt`` (no chat template): the prompt must
    leave room in the context for ``max_tokens`` tokens, or a quarter of it if that is less."""
    if not isinstance(prompt, str) or not prompt:
        raise InvalidArgumentError(f"a text completion needs a non-empty prompt str, got {describe(prompt)}")
    max_tokens = settings.max_tokens or DEFAULT_MAX_TOKENS
    tokens = model.tokenize(prompt, add_special=True, parse_special=False)
    room = min(max_tokens, max(1, n_ctx // 4))
    if len(tokens) + room > n_ctx:
        raise ContextOverflowError(
            f"the prompt needs {len(tokens)} tokens plus {room} for the completion, more than the "
            f"context of {n_ctx} tokens", n_tokens=len(tokens) + room, n_ctx=n_ctx)
    return _Plan(prompt=prompt, tokens=tokens, sampling=SamplingParams(**settings.sampling_kwargs()),
                 max_tokens=max_tokens, stop=list(settings.stop or ()), special=False, fmt=None,
                 structured=False, lora=check_lora(settings.lora), limit=max_tokens,
                 cells=len(tokens) + max_tokens + 1, raw=True)


def thinking_plan(model: Model, plan: _Plan, family: ReasoningFamily, budget: int | None,
                  sampling: SamplingParams, special: bool) -> _Plan:
    """The thinking phase of ``plan`` (a prompt that ends inside a thinking block), decoded with
    ``sampling`` (the request's, without a grammar), ``special`` tokens rendered or not, and at
    most ``budget`` tokens; with a budget of 0, the answer after an empty thinking."""
    closing = model.tokenize(family.closing, add_special=False, parse_special=True)
    answer = replace(plan, cells=plan.cells + len(closing) + 8)  # (+ a token cut at the marker)
    if budget == 0:
        tokens, _ = family.answer_tokens(model, plan.tokens, [], "", stopped=False,
                                         special=plan.special)
        return replace(answer, prompt=plan.prompt + family.closing, tokens=tokens,
                       thought=Thought("", 0, 0, None))
    return replace(answer, sampling=sampling, stop=[family.close], special=special,
                   max_tokens=plan.limit if budget is None else min(budget, plan.limit),
                   family=family, answer=answer)


def after_thinking(model: Model, n_ctx: int, plan: _Plan,
                   completion: Completion) -> tuple[_Plan | None, str | None]:
    """(the answer's plan after the thinking phase ``completion`` of ``plan``, or None when the
    turn ends with the thinking; the turn's finish reason then, if not the phase's)."""
    family, answer = plan.family, plan.answer
    assert family is not None and answer is not None
    finish = completion.finish_reason
    if finish not in ("stop", "length", "eog") or (finish == "length" and plan.max_tokens >= plan.limit):
        return None, None  # cancelled, failed, or max_tokens spent on thinking
    # "length": the budget is spent; "eog": the model ended inside its thinking, which is
    # closed for it so that the turn gets its answer
    generated, text = completion.tokens, completion.text
    tokens, kept = family.answer_tokens(model, plan.tokens, generated, text,
                                        stopped=finish == "stop", special=plan.special)
    if len(tokens) + 1 > n_ctx:
        return None, "length"  # the thinking filled the context
    closing = family.close + family.after if finish == "stop" else family.closing
    thought = Thought(text, len(generated), kept, completion.usage.cached_tokens)
    return replace(answer, prompt=plan.prompt + text + closing, tokens=tokens,
                   max_tokens=plan.limit - len(generated), thought=thought), None


def plan_usage(plan: _Plan, completion: Completion) -> TokenUsage:
    """The tokens a request whose latest phase is ``completion`` adds to the usage: an answer
    after a thinking phase counts as input the prompt and the closing marker written after the
    thinking, as output the thinking and the answer. A reply that replaces another (``spent``
    holds that one's) counts its own tokens, not the thinking again."""
    usage = completion.usage
    thought = plan.thought
    if thought is None:
        return TokenUsage(usage.prompt_tokens, usage.completion_tokens, usage.cached_tokens)
    n_input = usage.prompt_tokens - thought.n_kept
    if plan.spent is not None:
        return TokenUsage(n_input, usage.completion_tokens, min(usage.cached_tokens, n_input))
    cached = thought.cached if thought.cached is not None else min(usage.cached_tokens, n_input)
    return TokenUsage(n_input, thought.n_generated + usage.completion_tokens, cached)


def answered_calls(turns: Sequence[Turn]) -> frozenset[tuple[str, str]]:
    """The calls (see :func:`call_key`) of the last exchange of ``turns`` whose results are in
    it."""
    groups = _exchanges(turns)[1]
    exchange = groups[-1] if groups else []
    results = {r.request_id for t in exchange for r in t.tool_results}
    return frozenset(call_key(r) for t in exchange for r in t.tool_requests if r.id in results)


def with_answer_instead(plan: _Plan, turns: Sequence[Turn], tools: Sequence[ToolDef],
                        settings: ChatParams) -> _Plan:
    """``plan``, a call-or-answer reply to ``turns`` (``tool_choice="auto"`` with ``tools``
    shown), set to be replaced by the answer when its calls only repeat calls whose results the
    model has (see :func:`answer_instead`): for formats with an answer form
    (:meth:`ToolCallFormat.answer_sampling`), when the last exchange holds such results."""
    grammar = plan.fmt.answer_sampling(tools) if plan.fmt is not None else None
    answered = answered_calls(turns) if grammar is not None else frozenset()
    if grammar is None or not answered:
        return plan
    sampling = SamplingParams(**_constrained_defaults(settings, grammar),
                              **settings.sampling_kwargs(), **grammar)
    return replace(plan, answered=answered, instead=sampling)


def answer_instead(plan: _Plan, turn: Turn) -> _Plan | None:
    """The plan of the answer that replaces ``turn``, the reply of ``plan`` (its last phase),
    when its calls all repeat calls whose results the model has (small models ask for them
    again instead of answering); None when ``turn`` stands. The answer is decoded on the same
    tokens (the prompt, and the thinking where there was some) with the answer's grammar, and
    the tokens of ``turn`` count too."""
    if plan.instead is None or turn.finish_reason != "tool_calls" \
            or not only_repeats(turn.tool_requests, plan.answered):
        return None
    return replace(plan, sampling=plan.instead, answered=frozenset(), instead=None,
                   spent=turn.tokens)


# The DRY penalty inside grammar-constrained output, unless the request sets DRY itself: small
# models, greedy, loop inside JSON ("sampu, sampu, ...", the same array item again and again)
# until max_tokens cuts the output. Its sequence breakers are JSON-aware: llama.cpp's default
# breakers (newline, colon, quote, asterisk) end a repeat at every quote and colon, which in
# JSON is everywhere, so a repeated item or key-value run was never long enough to penalize;
# only a newline breaks a repeat here. Measured by bench/bench_forced_calls.py.
CONSTRAINED_DRY = {"dry_multiplier": 0.8, "dry_scope": "grammar", "dry_sequence_breakers": ("\n",)}


# The n-gram limit inside grammar-constrained output unless the request sets it: DRY lowers a
# loop's score and a small model goes on in a variant ("the discovery of the discovery of
# ..."); no 4-gram of model-chosen tokens may then occur more than 4 times. Measured by
# bench/bench_forced_calls.py.
CONSTRAINED_NGRAM_LIMIT = 4


def _constrained_defaults(settings: ChatParams, grammar: Mapping[str, Any]) -> dict[str, Any]:
    """Defaults for constrained output the request did not set: CONSTRAINED_DRY,
    CONSTRAINED_NGRAM_LIMIT and ``grammar_close`` (a call or value that max_tokens would cut
    gets its shortest valid completion instead)."""
    if "grammar" not in grammar:
        return {}
    out: dict[str, Any] = {}
    if settings.grammar_close is None:
        out["grammar_close"] = True
    if settings.dry_multiplier is None:
        out.update({k: v for k, v in CONSTRAINED_DRY.items() if getattr(settings, k) is None})
    if settings.grammar_ngram_limit is None:
        out["grammar_ngram_limit"] = CONSTRAINED_NGRAM_LIMIT
    return out


def _with_schema_note(turns: Sequence[Turn], schema: Mapping[str, Any]) -> list[Turn]:
    """``turns`` with the structured output's fields in the system prompt: the grammar holds the
    shape, but only the prompt shows the model what the fields mean. An object's fields are
    listed one per line (name, type, description), a form small models follow better than the
    schema's JSON; other schemas are shown as JSON."""
    props = schema.get("properties")
    if schema.get("type") == "object" and not props and not schema.get("$ref"):
        return list(turns)  # any object (JSON mode): no names or descriptions to show
    if schema.get("type") == "object" and isinstance(props, Mapping) and props:
        lines = []
        for name, sub in props.items():
            sub = sub if isinstance(sub, Mapping) else {}
            kind = sub.get("type", "any")
            kind = kind if isinstance(kind, str) else "/".join(map(str, kind))
            line = f"- {json.dumps(name, ensure_ascii=False)} ({kind})"
            if isinstance(sub.get("description"), str) and sub["description"]:
                line += f": {sub['description']}"
            lines.append(line)
        note = "Reply with a JSON object with these fields:\n" + "\n".join(lines)
    else:
        shown = json.dumps(schema, ensure_ascii=False)
        note = f"Reply with only a JSON value that matches this JSON schema:\n{shown}"
    if turns and turns[0].role == "system":
        text = turns[0].text
        return [Turn("system", [ContentText(f"{text}\n\n{note}" if text else note)]), *turns[1:]]
    return [Turn("system", [ContentText(note)]), *turns]


def _exchanges(turns: Sequence[Turn]) -> tuple[list[Turn], list[list[Turn]]]:
    """(the system turn if any, the rest in exchanges): an exchange opens with a user message
    and holds everything answering it, so tool calls stay with their results."""
    head = list(turns[:1]) if turns and turns[0].role == "system" else []
    groups: list[list[Turn]] = []
    for turn in turns[len(head):]:
        if not groups or (turn.role == "user" and not turn.tool_results):
            groups.append([turn])
        else:
            groups[-1].append(turn)
    return head, groups


def fit_prompt(render: Callable[[Sequence[Turn]], tuple[str, list[int]]], turns: Sequence[Turn],
               room: int, n_ctx: int, *, truncate: bool) -> tuple[str, list[int]]:
    """The prompt for ``turns`` and its tokens (``render``), leaving ``room`` tokens of the
    context's ``n_ctx`` for the reply. A conversation that outgrows it raises
    ContextOverflowError, or with ``truncate`` keeps the system turn and drops the fewest
    oldest exchanges that make it fit (the latest exchange always stays)."""
    prompt, tokens = render(turns)
    if len(tokens) + room <= n_ctx:
        return prompt, tokens
    if not truncate:
        raise ContextOverflowError(
            f"the conversation needs {len(tokens)} prompt tokens plus {room} for the reply, "
            f"more than the context of {n_ctx} tokens (start a new chat, raise n_ctx, or use "
            "context_policy='truncate_oldest')",
            n_tokens=len(tokens) + room, n_ctx=n_ctx,
        )
    head, groups = _exchanges(turns)
    best: tuple[str, list[int]] | None = None
    lo, hi = 1, len(groups) - 1  # how many of the oldest exchanges to drop
    while lo <= hi:
        mid = (lo + hi) // 2
        candidate = render(head + [t for g in groups[mid:] for t in g])
        if len(candidate[1]) + room <= n_ctx:
            best, hi = candidate, mid - 1
        else:
            lo = mid + 1
    if best is None:
        last = len(render(head + groups[-1])[1]) if len(groups) > 1 else len(tokens)
        raise ContextOverflowError(
            f"the latest exchange alone needs {last} prompt tokens plus {room} for the reply, "
            f"more than the context of {n_ctx} tokens",
            n_tokens=last + room, n_ctx=n_ctx,
        )
    return best
