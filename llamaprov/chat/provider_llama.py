""":class:`LlamaProvider`: a :class:`~llamaprov.chat.provider.Provider` running a local GGUF model
through the engine. A provider owns one engine context, so the KV cache of its conversation is
reused from turn to turn (only the tokens after the common prefix are decoded); requests queued
with :meth:`LlamaProvider.submit` go to a batch queue with its own shared context.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future
from types import MappingProxyType
from typing import Any

from llamaprov import grammars
from llamaprov.chat._batcher import _Batcher
from llamaprov.chat._kv_files import KvFilesMixin
from llamaprov.chat._plan import (
    DEFAULT_MAX_TOKENS,
    _constrained_defaults,
    _Plan,
    _with_schema_note,
    after_thinking,
    answer_instead,
    fit_prompt,
    plan_usage,
    text_plan,
    thinking_plan,
    with_answer_instead,
)
from llamaprov.chat._reasoning import ReasoningFamily, detect_reasoning, tool_tags, with_tools
from llamaprov.chat._run import withhold_calls
from llamaprov.chat._watch import StreamWatch
from llamaprov.chat.content import Content, ContentText, ContentThinking, ContentToolRequest
from llamaprov.chat.events import StreamEvent, ThinkingDelta, TurnDone
from llamaprov.chat.formats import (
    ToolCallFormat,
    get_tool_format,
    make_parser,
    parse_output,
    thinking_tags,
)
from llamaprov.chat.params import ChatParams, check_reasoning
from llamaprov.chat.provider import Provider
from llamaprov.chat.tools import (
    ToolDef,
    check_max_tool_calls,
    check_parallel_tool_calls,
    check_tool_choice,
)
from llamaprov.chat.turns import TokenUsage, Turn
from llamaprov.chat.types import to_json_schema
from llamaprov.engine import LoraAdapter, Model, SamplingParams
from llamaprov.errors import (
    ClosedError,
    InvalidArgumentError,
    LlamaProvError,
    TemplateError,
    TruncatedOutputError,
    describe,
)

CONTEXT_POLICIES = ("error", "truncate_oldest")
DEFAULT_MAX_PARALLEL = 8
# the tool calls a reply may hold when a request does not say (see ToolCallFormat.call_limit)
_FORMAT_CALLS: Mapping[str, Any] = MappingProxyType({"parallel": None, "max_calls": None})


class LlamaProvider(KvFilesMixin, Provider):
    """A provider running a local GGUF model through llamaprov's engine.

    ``tool_format`` overrides the detected tool-call format (``"hermes"``, ``"llama3"``,
    ``"mistral"``, ``"functionary"``, ``"generic"`` or a :class:`ToolCallFormat`); ``template``
    overrides the model's chat template. ``max_parallel`` bounds how many requests queued with
    :meth:`submit` (from any thread) are decoded together as sequences of one context.

    Before decoding, the prompt must leave room in the context (``n_ctx`` tokens) for the
    reply: ``max_tokens`` tokens, or a quarter of the context if that is less. A conversation
    that outgrows it raises :class:`~llamaprov.errors.ContextOverflowError` with
    ``context_policy="error"`` (the default); with ``"truncate_oldest"`` the prompt keeps the
    system prompt and drops the oldest exchanges (a user message and all that answers it, tool
    calls with their results) until it fits; the conversation itself is not changed.

    ``params={"lora": {adapter: scale}}`` decodes a request with LoRA adapters loaded for this
    provider's model (``model.load_lora(path)``): per request, also for requests queued with
    :meth:`submit`, which are decoded together whatever their adapters. The cached prompt of
    the conversation is reused only by a request with the same adapters and scales.

    Reasoning models (templates of the families in :mod:`llamaprov.chat._reasoning`: Qwen3,
    DeepSeek-R1, SmolLM3, gpt-oss and others that mark thinking with ``<think>``): the
    request's ``reasoning`` ("auto", "on", "off") reaches the template's switch, and a reply
    that starts inside a thinking block is decoded in two phases: the thinking, streamed as
    :class:`~llamaprov.chat.ThinkingDelta` events and kept as a
    :class:`~llamaprov.chat.ContentThinking`, ends at the family's closing marker or after
    ``reasoning_budget`` tokens (the marker is then written for it); the answer follows with
    the request's grammar (tool calls, structured output) and stop strings, which so apply to
    the answer alone. ``max_tokens`` counts both.
    """

    def __init__(
        self,
        model: Any,
        *,
        n_ctx: int | None = None,
        template: str | None = None,
        tool_format: str | ToolCallFormat | None = None,
        n_threads: int | None = None,
        max_parallel: int = DEFAULT_MAX_PARALLEL,
        context_policy: str = "error",
    ) -> None:
        if not isinstance(model, Model):
            raise InvalidArgumentError(f"LlamaProvider needs a loaded Model, got {describe(model)}")
        if n_ctx is not None and (isinstance(n_ctx, bool) or not isinstance(n_ctx, int) or n_ctx < 16):
            raise InvalidArgumentError(f"n_ctx must be an int >= 16, got {describe(n_ctx)}")
        if template is not None and (not isinstance(template, str) or not template):
            raise InvalidArgumentError(f"template must be a non-empty str, got {describe(template)}")
        if isinstance(max_parallel, bool) or not isinstance(max_parallel, int) or max_parallel < 1:
            raise InvalidArgumentError(f"max_parallel must be an int >= 1, got {describe(max_parallel)}")
        if context_policy not in CONTEXT_POLICIES:
            raise InvalidArgumentError(
                f"context_policy must be one of {CONTEXT_POLICIES}, got {describe(context_policy)}"
            )
        self.model = model
        self.context_policy = context_policy
        self.max_parallel = max_parallel
        self._template_override = template
        self.template = template or model.chat_template()
        self.tool_format = get_tool_format(tool_format, self.template)
        #: how the template marks and switches thinking (None: a template that knows none)
        self.reasoning_family = detect_reasoning(self.template)
        self._tags = thinking_tags(self.template)
        if self.reasoning_family is not None and self.reasoning_family.tag not in self._tags:
            self._tags.insert(0, self.reasoning_family.tag)
        self._tool_tags = tool_tags(self._tags, self.reasoning_family, self.tool_format)
        self._n_ctx = n_ctx or min(model.info().n_ctx_train or 4096, 4096)
        self._n_threads = n_threads
        self._ctx: Any = None
        self._stale = False  # a generation was interrupted mid-step: clear the KV cache first
        self._batcher: _Batcher[_Plan] | None = None
        self._lock = threading.Lock()
        self._usage_total = TokenUsage()
        self._closed = False
        # the adapters the KV cache of the context was last decoded with (None: the context's)
        self._kv_lora: dict[LoraAdapter, float] | None = None

    def __repr__(self) -> str:
        return f"LlamaProvider(model={self.model.path.name!r}, tool_format={self.tool_format.name!r})"

    @property
    def context(self) -> Any:
        """The engine context of this provider (created on first use)."""
        with self._lock:
            if self._closed:
                raise ClosedError("this provider is closed")
            if self._ctx is None:
                kwargs: dict[str, Any] = {"n_ctx": self._n_ctx}
                if self._n_threads is not None:
                    kwargs["n_threads"] = self._n_threads
                self._ctx = self.model.new_context(**kwargs)
            return self._ctx

    def close(self) -> None:
        """Free the contexts (the model stays loaded); queued requests fail with ClosedError, and
        later requests raise it."""
        with self._lock:
            self._closed = True
            if self._ctx is not None:
                self._ctx.close()
                self._ctx = None
            batcher, self._batcher = self._batcher, None
        if batcher is not None:
            batcher.close()

    # -- prompts
    def format_turns(self, turns: Sequence[Turn], tools: Sequence[ToolDef] = (), *,
                     reasoning: str = "auto", parallel_tool_calls: bool | None = None,
                     max_tool_calls: int | None = None) -> str:
        """The prompt text for ``turns`` with ``tools`` presented in the model's native way, and
        a reasoning model's thinking switched for ``reasoning`` ("auto", "on", "off"; see
        :mod:`llamaprov.chat._reasoning`): the prompt ends inside a thinking block when the
        reply is to start with one, after an empty one when it is not to think. A format that
        describes the tools in the system prompt describes the calls a reply may hold
        (``parallel_tool_calls``, ``max_tool_calls``: see :meth:`stream_perform`)."""
        family = self._reasoning_for(reasoning)
        family = with_tools(family, self.tool_format) if tools else family
        messages, template_tools = self.tool_format.render_messages(
            turns, tools, parallel=parallel_tool_calls, max_calls=max_tool_calls)
        extra = self.tool_format.template_variables(tools)
        if family is not None:
            messages = family.messages(messages, reasoning)
            extra.update(family.variables(reasoning))
        try:
            prompt = str(
                self.model.apply_chat_template(
                    messages,
                    add_generation_prompt=True,
                    tools=template_tools,
                    template=self._template_override,
                    **extra,
                )
            )
        except LlamaProvError:
            raise
        except Exception as exc:
            raise TemplateError(f"chat template failed to render the conversation: {exc}") from exc
        return family.prepare(prompt, reasoning) if family is not None else prompt

    def _reasoning_for(self, mode: str) -> ReasoningFamily | None:
        """The reasoning family for a request's ``reasoning`` (checked)."""
        check_reasoning(mode)
        if mode == "on" and self.reasoning_family is None:
            raise InvalidArgumentError(
                f"reasoning='on' needs a model that thinks, but the chat template of "
                f"{self.model.path.name!r} knows no thinking block or switch (use 'auto' or 'off')")
        return self.reasoning_family

    def _grammar_for(
        self, tools: Sequence[ToolDef], schema: Mapping[str, Any] | None, tool_choice: str,
        calls: Mapping[str, Any],
    ) -> tuple[dict[str, Any], list[ToolDef]]:
        """(the grammar as :class:`SamplingParams` keywords: none, strict, or lazy with its
        triggers; the tools shown to the model). ``calls``: how many calls a reply may hold
        (``parallel``, ``max_calls``)."""
        if schema is not None:
            # a superset where the schema has keywords a grammar can only widen: the value is
            # validated against the schema afterwards (parse_structured)
            gbnf = grammars.compile_schema(schema, whitespace="compact", additional_properties=False,
                                           approximate=True).grammar
            return {"grammar": gbnf}, []
        if not tools or tool_choice == "none":
            return {}, []
        fmt = self.tool_format
        if tool_choice == "auto":
            return fmt.auto_sampling(tools, **calls), list(tools)
        if tool_choice == "required":
            return {"grammar": fmt.grammar(tools, **calls)}, list(tools)
        # a named tool: one call of it (a small model otherwise starts it again and again)
        named = [t for t in tools if t.name == tool_choice]
        return {"grammar": fmt.grammar(named, max_calls=1)}, list(tools)

    # -- generation
    def _plan(self, turns: Sequence[Turn], tools: Sequence[ToolDef], type: Any,
              params: ChatParams | dict[str, Any] | None, tool_choice: str, *,
              parallel_tool_calls: bool | None = None, max_tool_calls: int | None = None) -> _Plan:
        """Validate a request and turn it into what the engine needs."""
        if self._closed:
            raise ClosedError("this provider is closed")
        settings = ChatParams.coerce(params)
        tool_choice = check_tool_choice(tool_choice, tools)
        calls = {"parallel": check_parallel_tool_calls(parallel_tool_calls),
                 "max_calls": check_max_tool_calls(max_tool_calls)}
        if not turns:
            raise InvalidArgumentError("a request needs at least one turn")
        schema = to_json_schema(type) if type is not None else None
        grammar, shown = self._grammar_for(tools, schema, tool_choice, calls)
        if schema is not None and settings.schema_in_prompt is not False:
            turns = _with_schema_note(turns, schema)
        max_tokens = settings.max_tokens or DEFAULT_MAX_TOKENS
        lora = self._check_lora(settings.lora)
        mode = settings.reasoning or "auto"
        family = self._reasoning_for(mode)
        family = with_tools(family, self.tool_format) if shown else family
        prompt, tokens = self._fit(turns, shown, max_tokens, mode, calls)
        fmt = self.tool_format.for_tools(shown) if shown else None
        plan = _Plan(
            prompt=prompt,
            tokens=tokens,
            sampling=SamplingParams(**_constrained_defaults(settings, grammar),
                                    **settings.sampling_kwargs(), **grammar),
            max_tokens=max_tokens,
            stop=list(settings.stop or ()),
            # formats whose trigger is a control token ([TOOL_CALLS], <|python_tag|>) need it
            # rendered; otherwise control tokens stay invisible as in plain generation
            special=fmt is not None and self._control_tokens(fmt.triggers),
            fmt=fmt,
            structured=type is not None,
            lora=lora,
            limit=max_tokens,
            cells=len(tokens) + max_tokens + 1,
            forced=fmt is not None and tool_choice not in ("auto", "none"),
        )
        if tool_choice == "auto" and fmt is not None:
            plan = with_answer_instead(plan, turns, shown, settings)
        if family is None or not family.opens(prompt):
            return plan
        return thinking_plan(self.model, plan, family, settings.reasoning_budget,
                             SamplingParams(**settings.sampling_kwargs()),
                             plan.special or self._control_tokens((family.open, family.close)))

    def _check_lora(self, lora: Mapping[LoraAdapter, float] | None) -> dict[LoraAdapter, float] | None:
        """The adapters of a request, each checked to be open and loaded for this model."""
        if lora is None:
            return None
        for adapter in lora:
            if adapter.closed:
                raise ClosedError(f"the LoRA adapter {adapter.path.name!r} is closed")
            if adapter.model is not self.model:
                raise InvalidArgumentError(
                    f"the LoRA adapter {adapter.path.name!r} was loaded for model "
                    f"{adapter.model.path.name!r}, not for this provider's {self.model.path.name!r}")
        return dict(lora)

    def _render(self, turns: Sequence[Turn], tools: Sequence[ToolDef],
                reasoning: str = "auto", calls: Mapping[str, Any] = _FORMAT_CALLS
                ) -> tuple[str, list[int]]:
        prompt = self.format_turns(turns, tools, reasoning=reasoning,
                                   parallel_tool_calls=calls["parallel"],
                                   max_tool_calls=calls["max_calls"])
        return prompt, self.model.tokenize(prompt, add_special=True, parse_special=True)

    def _fit(self, turns: Sequence[Turn], tools: Sequence[ToolDef], max_tokens: int,
             reasoning: str = "auto", calls: Mapping[str, Any] = _FORMAT_CALLS
             ) -> tuple[str, list[int]]:
        """The prompt for ``turns`` and its tokens, leaving room for the reply (see the class
        docstring for ``context_policy``); ``calls``: how many tool calls a reply may hold
        (``parallel``, ``max_calls``; by default the format's)."""
        room = min(max_tokens, max(1, self._n_ctx // 4))
        return fit_prompt(lambda kept: self._render(kept, tools, reasoning, calls), turns, room,
                          self._n_ctx, truncate=self.context_policy == "truncate_oldest")

    def _parser(self, plan: _Plan) -> Any:
        if plan.structured or plan.raw:
            return make_parser(plan.fmt, [], plan.prompt)
        # an answer without tools still carries the family's header (Muse Glimmer's to=user)
        return make_parser(plan.fmt, self._tool_tags if plan.fmt else self._tags, plan.prompt,
                           text_markers=self.tool_format.text_markers)

    def _spend(self, tokens: TokenUsage) -> None:
        with self._lock:
            self._usage_total = self._usage_total + tokens

    def _turn(self, plan: _Plan, parser: Any, contents: list[Content], completion: Any,
              finish: str | None = None) -> Turn:
        """The finished assistant turn of ``completion`` (the latest phase of ``plan``; ``parser``
        None: the turn ended with its thinking); adds its usage to the provider's. A cancelled one
        (``ctx.abort()``) keeps ``finish_reason="cancelled"``."""
        tokens = plan_usage(plan, completion)
        self._spend(tokens)
        tokens = tokens if plan.spent is None else plan.spent + tokens
        finish = finish or completion.finish_reason
        thought = plan.thought
        unfinished = parser.call_unfinished if parser is not None else False
        # a forced call that never started: the thinking, or text before it, took the budget
        unstarted = plan.forced and not any(isinstance(c, ContentToolRequest) for c in contents)
        if finish == "length" and (plan.structured or unfinished or unstarted) and not completion.closed:
            what = "structured output" if plan.structured else "tool call"
            spent = len(completion.tokens) if parser is None else thought.n_generated if thought else 0
            note = f"; the thinking took {spent} of them" if spent else ""
            raise TruncatedOutputError(
                f"the {what} was cut off by max_tokens={plan.limit} before it was complete "
                f"(raise max_tokens{note})", raw=completion.text if parser is not None else "",
                max_tokens=plan.limit)
        if thought is not None and thought.text:
            contents = [ContentThinking(thought.text), *contents]
        if finish != "cancelled" and not plan.structured and (parser is None or parser.error is None) \
                and any(isinstance(c, ContentToolRequest) for c in contents):
            finish = "tool_calls"
        return Turn("assistant", contents, tokens=tokens, finish_reason=finish)

    def _decode(self, ctx: Any, plan: _Plan) -> Any:
        completion = ctx.completion(
            plan.tokens, max_tokens=plan.max_tokens, stop=plan.stop, sampling=plan.sampling,
            special=plan.special, lora=plan.lora,
        )
        self._kv_lora = plan.lora
        return completion

    def stream_perform(
        self,
        turns: Sequence[Turn],
        *,
        tools: Sequence[ToolDef] = (),
        type: Any = None,
        params: ChatParams | dict[str, Any] | None = None,
        tool_choice: str = "auto",
        parallel_tool_calls: bool | None = None,
        max_tool_calls: int | None = None,
    ) -> Iterator[StreamEvent]:
        """Generate the next assistant turn, yielding text/thinking/tool-call events as they are
        decoded and finally ``TurnDone`` with the parsed turn and its token usage.

        ``parallel_tool_calls``: True, a reply may hold several tool calls (at most
        ``max_tool_calls``; None: no bound); False, exactly one; None, the tool format's
        default (several for the native formats, except Llama 3.x which writes one; one for
        the generic format). A named ``tool_choice`` is always one call.

        Under ``tool_choice="auto"``, a format with an answer form (the generic one) does not
        return a reply whose calls all repeat calls of the last exchange whose results are in
        ``turns``: the model is asked for the answer instead, on the same prompt and thinking
        (the tokens of both count). While a reply could be such a repeat, its tool-call events
        come when it is complete.

        Closing the stream early stops the generation between two decode steps. An exception
        raised inside a step (``KeyboardInterrupt``) may leave a decoded token unrecorded in
        the KV cache, so the next generation starts from an emptied cache.
        """
        plan = self._plan(turns, tools, type, params, tool_choice,
                          parallel_tool_calls=parallel_tool_calls, max_tool_calls=max_tool_calls)
        ctx = self.context
        if self._stale:
            ctx.memory.clear()
            self._stale = False
        completion = self._decode(ctx, plan)
        parser = None if plan.answer is not None else self._parser(plan)  # None: thinking
        held: list[StreamEvent] = []  # the tool-call events of a reply that may be replaced
        turn: Turn | None = None
        counted = False  # the completion's tokens are spent (_turn spends them before it checks)
        paused = False  # at one of our yields: between decode steps
        try:
            finish = None
            while True:
                hold = held if plan.instead is not None else None
                with completion:
                    for chunk in completion:
                        if chunk.text:
                            paused = True
                            if parser is None:
                                yield ThinkingDelta(chunk.text)
                            else:
                                yield from withhold_calls(parser.feed(chunk.text), hold)
                            paused = False
                if parser is None:
                    following, finish = after_thinking(self.model, self._n_ctx, plan, completion)
                    if following is None:  # the turn ends with its thinking
                        text = completion.text
                        thinking: list[Content] = [ContentThinking(text)] if text else []
                        counted = True
                        turn = self._turn(plan, None, thinking, completion, finish)
                        break
                else:
                    final_events, contents = parser.finish()
                    paused = True
                    yield from withhold_calls(final_events, hold)
                    paused = False
                    counted = True
                    turn = self._turn(plan, parser, contents, completion, finish)
                    following = answer_instead(plan, turn)
                    if following is None:
                        break
                    held.clear()
                completion = self._decode(ctx, following)
                plan, parser, turn, counted = following, self._parser(following), None, False
        finally:
            if turn is None and not counted:
                self._spend(plan_usage(plan, completion))  # the tokens were spent all the same
                self._stale = self._stale or not paused
        yield from held
        yield TurnDone(turn)

    def submit(
        self,
        turns: Sequence[Turn],
        *,
        tools: Sequence[ToolDef] = (),
        type: Any = None,
        params: ChatParams | dict[str, Any] | None = None,
        tool_choice: str = "auto",
        parallel_tool_calls: bool | None = None,
        max_tool_calls: int | None = None,
        on_event: Callable[[StreamEvent], None] | None = None,
    ) -> Future[Turn]:
        """Queue a request (the arguments of :meth:`stream_perform`); returns a future of the
        assistant turn.

        Queued requests from any thread are decoded together as parallel sequences of one
        shared context (up to ``max_parallel`` at once; more wait for a free sequence). The
        request is validated here: bad input (a prompt that does not fit, too) raises at once
        instead of failing the future. ``on_event`` (called on the queue's worker thread; keep
        it quick) gets the events :meth:`stream_perform` would yield, as they are decoded, the
        last one ``TurnDone`` (none when the request fails or is cancelled).
        """
        plan = self._plan(turns, tools, type, params, tool_choice,
                          parallel_tool_calls=parallel_tool_calls, max_tool_calls=max_tool_calls)
        return self._queue(plan, on_event)

    def submit_text(self, prompt: str, *, params: ChatParams | dict[str, Any] | None = None,
                    on_event: Callable[[StreamEvent], None] | None = None) -> Future[Turn]:
        """Queue a plain text completion of ``prompt`` (no chat template, tools or thinking:
        the turn's text is the generated text as is) with :meth:`submit`'s queue and events."""
        if self._closed:
            raise ClosedError("this provider is closed")
        return self._queue(text_plan(self.model, self._n_ctx, prompt, ChatParams.coerce(params),
                                     self._check_lora), on_event)

    def _queue(self, plan: _Plan, on_event: Callable[[StreamEvent], None] | None) -> Future[Turn]:
        with self._lock:
            if self._batcher is None:
                self._batcher = _Batcher(self.model, n_ctx=self._n_ctx, max_parallel=self.max_parallel,
                                         n_threads=self._n_threads, finish=self._finish_completed)
            batcher = self._batcher
        if on_event is None:
            return batcher.submit(plan)
        watch = StreamWatch(self._parser, on_event)
        future = batcher.submit(plan, watch)
        future.add_done_callback(watch.done)
        return future

    def batch_stats(self) -> dict[str, int]:
        """The batch queue now: requests ``queued`` and ``running``, the KV ``cells`` reserved
        for them, and the shared context's ``n_ctx``."""
        with self._lock:
            batcher = self._batcher
        if batcher is None:
            return {"queued": 0, "running": 0, "cells": 0, "n_ctx": self._n_ctx}
        return {"queued": batcher.queued, "running": batcher.running, "cells": batcher.cells,
                "n_ctx": batcher.n_ctx}

    def cancel(self, futures: Iterable[Future[Turn]]) -> None:
        """Drop submitted requests: queued ones are cancelled, running ones stop at the next decode
        step (their futures fail with CancelledError)."""
        with self._lock:
            batcher = self._batcher
        if batcher is not None:
            batcher.cancel(futures)

    def _finish_completed(self, plan: _Plan, completion: Any) -> Turn | _Plan:
        """The turn of a completion that was decoded without streaming (see :meth:`submit`), or
        the answer to decode after a thinking phase or in place of a repeated call (see
        :meth:`stream_perform`)."""
        if completion.error is not None:  # e.g. a grammar left without tokens: no partial answer
            raise completion.error
        if plan.answer is not None:
            following, finish = after_thinking(self.model, self._n_ctx, plan, completion)
            if following is not None:
                return following
            thinking: list[Content] = [ContentThinking(completion.text)] if completion.text else []
            return self._turn(plan, None, thinking, completion, finish)
        parser = self._parser(plan)
        list(parser.feed(completion.text))
        _, contents = parser.finish()
        turn = self._turn(plan, parser, contents, completion)
        return answer_instead(plan, turn) or turn

    def _control_tokens(self, texts: Iterable[str]) -> bool:
        """Whether one of ``texts`` is a control token (invisible unless rendered as special)."""
        for text in texts:
            tokens = self.model.tokenize(text, add_special=False, parse_special=True)
            if len(tokens) == 1 and self.model.vocab.is_control(tokens[0]):
                return True
        return False

    def value_turn(self, result: Any, *, tools: Sequence[ToolDef] = ()) -> Turn:
        """An assistant turn from a finished engine ``Completion`` (or its text), parsed with this
        provider's tool format when ``tools`` were offered."""
        text = result if isinstance(result, str) else getattr(result, "text", None)
        if not isinstance(text, str):
            raise InvalidArgumentError(f"value_turn needs a Completion or str, got {describe(result)}")
        contents, _ = parse_output(text, self.tool_format.for_tools(tools) if tools else None,
                                   tags=self._tool_tags if tools else self._tags,
                                   text_markers=self.tool_format.text_markers)
        tokens = None
        usage = getattr(result, "usage", None)
        if usage is not None:
            tokens = TokenUsage(usage.prompt_tokens, usage.completion_tokens, usage.cached_tokens)
        return Turn("assistant", contents or [ContentText("")], tokens=tokens,
                    finish_reason=getattr(result, "finish_reason", None))

    def tokens_used(self) -> TokenUsage:
        """Tokens used by every request of this provider."""
        with self._lock:
            return self._usage_total

    def model_info(self) -> dict[str, Any]:
        """Model facts: path, description, parameters, context sizes, chat template, tool format,
        reasoning family (None: a model whose template knows no thinking)."""
        info = self.model.info()
        return {
            "path": str(self.model.path),
            "name": os.path.basename(str(self.model.path)),
            "desc": info.desc,
            "n_params": info.n_params,
            "size": info.size,
            "n_ctx_train": info.n_ctx_train,
            "n_ctx": self._n_ctx,
            "n_vocab": info.n_vocab,
            "has_chat_template": self.model.chat_template() is not None,
            "tool_format": self.tool_format.name,
            "reasoning": self.reasoning_family.name if self.reasoning_family else None,
        }


__all__ = ["CONTEXT_POLICIES", "DEFAULT_MAX_PARALLEL", "DEFAULT_MAX_TOKENS", "LlamaProvider"]
