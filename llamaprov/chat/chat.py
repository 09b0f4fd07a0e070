"""``Chat``: a conversation with a provider, its tools, and its token accounting (ellmer-style)."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import pathlib
import threading
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Callable,
    Generator,
    Iterator,
    Mapping,
    Sequence,
)
from contextlib import aclosing, closing
from typing import Any

from llamaprov.chat import _persist
from llamaprov.chat._async import iterate_in_thread
from llamaprov.chat._run import Run, cancelled, closing_events
from llamaprov.chat.content import ContentText, ContentToolRequest, ContentToolResult
from llamaprov.chat.events import StreamEvent, TextDelta, ToolResultEvent, TurnDone
from llamaprov.chat.params import ChatParams
from llamaprov.chat.provider import Provider
from llamaprov.chat.tools import (
    ToolDef,
    as_tools,
    check_parallel_tool_calls,
    check_tool_choice,
    tool,
)
from llamaprov.chat.turns import TokenUsage, Turn
from llamaprov.errors import ClosedError, InvalidArgumentError, describe

DEFAULT_MAX_CALLS_PER_ROUND = 16


class Chat:
    """A multi-turn conversation with a :class:`Provider`.

    Create one with :func:`llamaprov.chat_llamaprov`. ``chat``/``stream`` (and their async
    variants) send user input, run requested tools (up to ``max_tool_rounds`` rounds, at most
    ``max_calls_per_round`` calls each) and return the reply. After a round whose calls all
    repeat calls of the same chat call (same tool, same arguments) the model must answer (no
    tools offered), as small models otherwise loop on a call. ``max_tokens`` bounds each
    reply of the model, the calls of every tool round included, not the chat call as a whole.
    Calls on one Chat are serialized; use one Chat per thread for parallel work.

    Interrupting a call (leaving a ``stream`` early, ``KeyboardInterrupt``, cancelling the
    asyncio task of an async call, or ``ctx.abort()`` on the provider's context) stops the
    generation and keeps the conversation usable: the user turn stays, followed by the partial
    assistant turn with ``finish_reason="cancelled"`` (``turn.incomplete``); tool calls that
    had not run get an error result. ``chat`` returns the partial text after ``ctx.abort()``;
    the other routes raise (or end the stream) as usual.

    ``lora={adapter: scale}`` (LoRA adapters loaded for the provider's model) sets the adapters
    of every request (``params={"lora": ...}`` does the same); each call can override it with
    its own ``lora=`` (``{}``: no adapters for that call).

    ``parallel_tool_calls``: True, one reply may hold several tool calls (at most
    ``max_calls_per_round``); False, exactly one; None, the tool format's default (several for
    models with native tool calls, one for the generic format of models without). Each call
    can override it, as ``tool_choice``. The calls of a reply run one after another in the
    order the model wrote them, and their results go back to it in that order.
    """

    def __init__(
        self,
        provider: Provider,
        *,
        system_prompt: str | None = None,
        params: ChatParams | dict[str, Any] | None = None,
        tools: Sequence[Any] = (),
        tool_choice: str = "auto",
        max_tool_rounds: int = 8,
        turns: Sequence[Turn] = (),
        max_calls_per_round: int = DEFAULT_MAX_CALLS_PER_ROUND,
        lora: Mapping[Any, float] | None = None,
        parallel_tool_calls: bool | None = None,
    ) -> None:
        if not isinstance(provider, Provider):
            raise InvalidArgumentError(f"Chat needs a Provider, got {describe(provider)}")
        self.provider = provider
        self._params = ChatParams.coerce(params)
        if lora is not None:
            self._params = self._params.merged({"lora": lora})
        self._tools: list[ToolDef] = as_tools(tools)
        self.tool_choice = check_tool_choice(tool_choice, self._tools)
        self.max_tool_rounds = max_tool_rounds
        self.max_calls_per_round = max_calls_per_round
        self.parallel_tool_calls = parallel_tool_calls
        self._turns: list[Turn] = []
        self._active: Run | None = None
        self._system_prompt: str | None = None
        self._on_tool_request: list[Callable[[ContentToolRequest], Any]] = []
        self._on_tool_result: list[Callable[[ContentToolResult], Any]] = []
        self._lock = threading.RLock()
        self._closed = False
        # close() closes the provider too when this chat made it (chat_llamaprov)
        self._owns_provider = False
        self.set_turns(turns)
        if system_prompt is not None:
            self.system_prompt = system_prompt

    def __repr__(self) -> str:
        return (
            f"<Chat {self.provider!r} turns={len(self._turns)} "
            f"tools={[t.name for t in self._tools]}>"
        )

    # ------------------------------------------------------------------------- configuration
    @property
    def system_prompt(self) -> str | None:
        """The system prompt (None for the template's default)."""
        return self._system_prompt

    @system_prompt.setter
    def system_prompt(self, value: str | None) -> None:
        if value is not None and not isinstance(value, str):
            raise InvalidArgumentError(f"system_prompt must be a str or None, got {describe(value)}")
        self._system_prompt = value

    @property
    def max_tool_rounds(self) -> int:
        """Most rounds of tool calls per ``chat`` call before the model must answer."""
        return self._max_tool_rounds

    @max_tool_rounds.setter
    def max_tool_rounds(self, value: int) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise InvalidArgumentError(f"max_tool_rounds must be an int >= 0, got {describe(value)}")
        self._max_tool_rounds = value

    @property
    def max_calls_per_round(self) -> int:
        """Most tool calls run per round (default 16). The provider is asked for no more (a
        LlamaProvider's grammar allows no more); further calls a reply holds anyway are not
        run, and each gets an error result telling the model so."""
        return self._max_calls_per_round

    @max_calls_per_round.setter
    def max_calls_per_round(self, value: int) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise InvalidArgumentError(f"max_calls_per_round must be an int >= 1, got {describe(value)}")
        self._max_calls_per_round = value

    @property
    def parallel_tool_calls(self) -> bool | None:
        """Whether one reply may hold several tool calls: True (at most
        ``max_calls_per_round``), False (exactly one), or None (the tool format's default)."""
        return self._parallel_tool_calls

    @parallel_tool_calls.setter
    def parallel_tool_calls(self, value: bool | None) -> None:
        self._parallel_tool_calls = check_parallel_tool_calls(value)

    def params(self, **kwargs: Any) -> ChatParams:
        """Update generation settings (every sampling knob of the engine's ``SamplingParams``,
        stop and max_tokens; see :class:`ChatParams`); returns the settings now in force."""
        if kwargs:
            self._params = self._params.merged(kwargs)
        return self._params

    def register_tool(
        self,
        func: Callable[..., Any] | ToolDef,
        *,
        name: str | None = None,
        description: str | None = None,
    ) -> ToolDef:
        """Offer a tool (a function or a :class:`ToolDef`) to the model; returns its ToolDef.
        A tool of the same name is replaced."""
        if not isinstance(func, ToolDef):
            td = tool(func, name=name, description=description)
        elif name is None and description is None:
            td = func
        else:
            td = dataclasses.replace(
                func,
                name=name or func.name,
                description=func.description if description is None else description,
            )
        self._tools = [t for t in self._tools if t.name != td.name] + [td]
        return td

    def register_tools(self, tools: Sequence[Callable[..., Any] | ToolDef]) -> list[ToolDef]:
        """Register several tools."""
        return [self.register_tool(t) for t in tools]

    def get_tools(self) -> list[ToolDef]:
        """The registered tools."""
        return list(self._tools)

    def set_tools(self, tools: Sequence[Callable[..., Any] | ToolDef]) -> None:
        """Replace all tools."""
        self._tools = as_tools(tools)
        if self.tool_choice not in ("auto", "required", "none") and self.tool_choice not in [
            t.name for t in self._tools
        ]:
            self.tool_choice = "auto"

    def on_tool_request(self, callback: Callable[[ContentToolRequest], Any]) -> None:
        """Call ``callback(request)`` before each tool runs."""
        if not callable(callback):
            raise InvalidArgumentError(f"callback must be callable, got {describe(callback)}")
        self._on_tool_request.append(callback)

    def on_tool_result(self, callback: Callable[[ContentToolResult], Any]) -> None:
        """Call ``callback(result)`` after each tool ran (or failed)."""
        if not callable(callback):
            raise InvalidArgumentError(f"callback must be callable, got {describe(callback)}")
        self._on_tool_result.append(callback)

    # ---------------------------------------------------------------------------------- turns
    def get_turns(self, *, include_system_prompt: bool = False) -> list[Turn]:
        """The conversation so far (user and assistant turns)."""
        turns = list(self._turns)
        if include_system_prompt and self._system_prompt is not None:
            turns.insert(0, Turn("system", [ContentText(self._system_prompt)]))
        return turns

    def set_turns(self, turns: Sequence[Turn]) -> None:
        """Replace the conversation; a leading system turn sets the system prompt."""
        turns = list(turns)
        if not all(isinstance(t, Turn) for t in turns):
            raise InvalidArgumentError(f"set_turns needs Turn objects, got {describe(turns)}")
        if turns and turns[0].role == "system":
            self._system_prompt = turns[0].text
            turns = turns[1:]
        if any(t.role == "system" for t in turns):
            raise InvalidArgumentError("only the first turn may be a system turn")
        with self._lock:
            if self._active is not None:
                self._active.settled = True  # a stream left suspended: its turns are dropped
            self._turns = turns

    def last_turn(self, role: str = "assistant") -> Turn | None:
        """The most recent turn of ``role`` (None if there is none)."""
        for turn in reversed(self._turns):
            if turn.role == role:
                return turn
        return None

    def tokens_used(self, *, per_turn: bool = False) -> TokenUsage | list[TokenUsage]:
        """Token usage summed over the conversation, or one entry per assistant turn.

        ``input`` counts prompt tokens (``cached`` of them came from the KV cache), ``output``
        generated tokens.
        """
        usages = [t.tokens for t in self._turns if t.role == "assistant" and t.tokens is not None]
        if per_turn:
            return usages
        total = TokenUsage()
        for usage in usages:
            total = total + usage
        return total

    def model_info(self) -> dict[str, Any]:
        """Facts about the model behind this chat."""
        return self.provider.model_info()

    # ---------------------------------------------------------------------------- save / load
    def save(self, path: str | os.PathLike[str], *, kv: bool = True) -> pathlib.Path:
        """Write the conversation to the file ``path`` (atomically); returns its path.

        The file holds the turns (every content type), the system prompt, the settings, the
        names of the tools and of the LoRA adapters (functions and adapters are not saved) and,
        with ``kv`` on a :class:`~llamaprov.chat.LlamaProvider`, the KV cache of the prompt, so
        that :meth:`load` resumes without decoding it again. A cache decoded with LoRA adapters
        is not saved. The format is described in ``llamaprov/chat/_persist.py``.
        """
        return _persist.save(self, path, kv=kv)

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str],
        provider: Provider,
        *,
        tools: Sequence[Any] = (),
        lora: Mapping[Any, float] | None = None,
        allow_other_model: bool = False,
        kv: bool = True,
    ) -> Chat:
        """A chat on ``provider`` from a file of :meth:`save`; its provider is not closed by the
        chat's ``close()``.

        ``tools`` must hold every tool the chat was saved with (more may be given); ``lora``
        gives the adapters the chat was saved with again (``{}``: go on without them). On a
        LlamaProvider of the same model the saved KV cache becomes the provider's (with ``kv``),
        and the next reply decodes only the new tokens; a file saved with another model raises
        :class:`~llamaprov.errors.StateError` unless ``allow_other_model`` (then the prompt is
        decoded again, as on any other provider). A damaged, truncated or foreign file raises
        StateError naming it, and leaves the provider as it was. When llama.cpp refuses a
        checked cache (a context of other settings), a RuntimeWarning says so and the chat
        goes on without it.
        """
        return _persist.load(cls, path, provider, tools=tools, lora=lora,
                             allow_other_model=allow_other_model, kv=kv)

    # ----------------------------------------------------------------------------- generation
    def _full_turns(self, extra: Sequence[Turn]) -> list[Turn]:
        head = (
            [Turn("system", [ContentText(self._system_prompt)])]
            if self._system_prompt is not None
            else []
        )
        return head + self._turns + list(extra)

    def _user_turn(self, inputs: Sequence[Any]) -> Turn:
        if not inputs:
            raise InvalidArgumentError("chat needs at least one input")
        contents: list[Any] = []
        for item in inputs:
            if isinstance(item, Turn):
                if item.role != "user":
                    raise InvalidArgumentError(f"inputs must be user turns, got role {item.role!r}")
                contents.extend(item.contents)
            else:
                contents.append(item)
        return Turn("user", contents)

    def _settle(self, run: Run, turns: list[Turn]) -> None:
        self._turns.extend(turns)
        run.settled = True

    def _settle_abandoned(self) -> None:
        """Keep the turns of a call this thread left suspended (a stream neither finished nor
        closed; the lock is reentrant) before another call starts after them."""
        run = self._active
        if run is not None and not run.settled:
            self._settle(run, run.interrupted())

    def _call_params(self, lora: Mapping[Any, float] | None) -> ChatParams:
        """The settings of one call: the chat's, with the call's own adapters if it has them."""
        return self._params if lora is None else self._params.merged({"lora": lora})

    def _run(
        self,
        inputs: Sequence[Any],
        tool_choice: str | None,
        loop: asyncio.AbstractEventLoop | None = None,
        lora: Mapping[Any, float] | None = None,
        parallel_tool_calls: bool | None = None,
    ) -> Generator[StreamEvent, None, None]:
        """The conversation step behind every entry point: generate, run tools, repeat.

        The turns are added to the conversation when the call ends; when it is interrupted
        (GeneratorExit, KeyboardInterrupt, CancelledError...) what it had so far is kept, the
        reply marked cancelled. An error (an Exception) leaves the conversation as it was.
        """
        self._check_open()
        with self._lock:
            self._settle_abandoned()
            choice = check_tool_choice(
                self.tool_choice if tool_choice is None else tool_choice, self._tools
            )
            parallel = (self._parallel_tool_calls if parallel_tool_calls is None
                        else check_parallel_tool_calls(parallel_tool_calls))
            settings = self._call_params(lora)
            run = Run(self._user_turn(inputs))
            self._active = run
            try:
                yield from self._rounds(run, choice, loop, settings, parallel)
            except BaseException as exc:
                if not isinstance(exc, Exception) and not run.settled:
                    self._settle(run, run.interrupted())
                raise
            finally:
                if self._active is run:
                    self._active = None

    def _rounds(
        self, run: Run, choice: str, loop: asyncio.AbstractEventLoop | None, settings: ChatParams,
        parallel: bool | None,
    ) -> Generator[StreamEvent, None, None]:
        rounds = 0
        while True:
            this_choice = choice if rounds < self._max_tool_rounds else "none"
            turn: Turn | None = None
            run.contents = []
            events = self.provider.stream_perform(
                self._full_turns(run.turns), tools=self._tools, params=settings,
                tool_choice=this_choice, parallel_tool_calls=parallel,
                max_tool_calls=self._max_calls_per_round,
            )
            with closing_events(events):
                for event in events:
                    if isinstance(event, TurnDone):
                        turn = event.turn
                        break
                    run.record(event)
                    yield event
            assert turn is not None
            run.contents = None
            requests = turn.tool_requests
            if turn.finish_reason == "cancelled":  # ctx.abort(): keep what was generated
                turn, requests = cancelled(turn), []
            if not requests or this_choice == "none":
                self._settle(run, [*run.turns, turn])
                yield TurnDone(turn)
                return
            repeated = run.repeats(requests)
            run.turns.append(turn)
            run.requests, run.results = requests, []
            yield TurnDone(turn)
            for index, request in enumerate(requests):
                result = self._call_tool(request, index, loop)
                run.results.append(result)
                yield ToolResultEvent(result)
            run.turns.append(Turn("user", list(run.results)))
            run.requests = None
            rounds += 1
            if repeated:
                choice = "none"  # it asked again for calls whose results it had: now the answer
            elif choice not in ("auto", "none"):
                choice = "auto"  # a forced call is made once; then the model may answer

    def _call_tool(self, request: ContentToolRequest, index: int,
                   loop: asyncio.AbstractEventLoop | None) -> ContentToolResult:
        """Run the ``index``-th tool call of a round (past ``max_calls_per_round``, refuse it)."""
        if index >= self._max_calls_per_round:
            cap = self._max_calls_per_round
            result = ContentToolResult(
                request.id, name=request.name,
                error=f"not run: at most {cap} tool calls run per reply (max_calls_per_round={cap}); "
                      "make fewer calls at once",
            )
        else:
            for on_request in self._on_tool_request:
                on_request(request)
            result = self.provider.tool_call(request, self._tools, loop=loop)
        for on_result in self._on_tool_result:
            on_result(result)
        return result

    def chat(self, *inputs: Any, tool_choice: str | None = None,
             lora: Mapping[Any, float] | None = None, parallel_tool_calls: bool | None = None) -> str:
        """Send ``inputs`` (strings or contents); return the final reply text. ``lora``,
        ``parallel_tool_calls``: this call's (None: the chat's; see the class docstring)."""
        final: Turn | None = None
        with closing(self._run(inputs, tool_choice, lora=lora,
                               parallel_tool_calls=parallel_tool_calls)) as events:
            for event in events:
                if isinstance(event, TurnDone):
                    final = event.turn
        assert final is not None
        return final.text

    def stream(
        self, *inputs: Any, content: bool = False, tool_choice: str | None = None,
        lora: Mapping[Any, float] | None = None, parallel_tool_calls: bool | None = None,
    ) -> Iterator[Any]:
        """Send ``inputs``; yield reply text as it is generated, or typed events with
        ``content=True`` (text/thinking deltas, tool-request start/arguments/done, tool results,
        turn done with usage)."""
        with closing(self._run(inputs, tool_choice, lora=lora,
                               parallel_tool_calls=parallel_tool_calls)) as events:
            for event in events:
                if content:
                    yield event
                elif isinstance(event, TextDelta):
                    yield event.text

    async def chat_async(self, *inputs: Any, tool_choice: str | None = None,
                         lora: Mapping[Any, float] | None = None,
                         parallel_tool_calls: bool | None = None) -> str:
        """Like :meth:`chat`, without blocking the event loop (coroutine tools are awaited)."""
        final: Turn | None = None
        async with aclosing(self._events_async(inputs, tool_choice, lora, parallel_tool_calls)) as events:
            async for event in events:
                if isinstance(event, TurnDone):
                    final = event.turn
        assert final is not None
        return final.text

    async def stream_async(
        self, *inputs: Any, content: bool = False, tool_choice: str | None = None,
        lora: Mapping[Any, float] | None = None, parallel_tool_calls: bool | None = None,
    ) -> AsyncIterator[Any]:
        """Like :meth:`stream`, as an async iterator that never blocks the event loop."""
        async with aclosing(self._events_async(inputs, tool_choice, lora, parallel_tool_calls)) as events:
            async for event in events:
                if content:
                    yield event
                elif isinstance(event, TextDelta):
                    yield event.text

    async def _events_async(
        self, inputs: Sequence[Any], tool_choice: str | None, lora: Mapping[Any, float] | None,
        parallel_tool_calls: bool | None,
    ) -> AsyncGenerator[StreamEvent, None]:
        loop = asyncio.get_running_loop()
        # leaving early (or the task being cancelled) closes _run in its thread after the
        # current decode step, which keeps the partial reply
        events = iterate_in_thread(
            lambda _stop: self._run(inputs, tool_choice, loop=loop, lora=lora,
                                    parallel_tool_calls=parallel_tool_calls),
            name="llamaprov-chat")
        async with aclosing(events):
            async for event in events:
                yield event

    @property
    def closed(self) -> bool:
        """True once :meth:`close` was called."""
        return self._closed

    def close(self) -> None:
        """End the chat: later calls raise :class:`~llamaprov.errors.ClosedError` (the turns stay
        readable). A provider the chat made itself (:func:`chat_llamaprov`) is closed too."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._settle_abandoned()
        if self._owns_provider:
            close = getattr(self.provider, "close", None)
            if close is not None:
                close()

    def __enter__(self) -> Chat:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _check_open(self) -> None:
        if self._closed:
            raise ClosedError("this chat is closed")

    def chat_structured(self, *inputs: Any, type: Any, lora: Mapping[Any, float] | None = None,
                        schema_in_prompt: bool | None = None) -> Any:
        """Extract data of ``type`` (pydantic model, JSON-schema dict or type spec) from the
        model; returns a pydantic instance or a dict. Raises StructuredOutputError
        (TruncatedOutputError when max_tokens cut it off). The schema is shown to the model in
        the prompt unless ``schema_in_prompt=False`` (or the chat's params say so)."""
        self._check_open()
        with self._lock:
            self._settle_abandoned()
            settings = self._call_params(lora)
            if schema_in_prompt is not None:
                settings = settings.merged({"schema_in_prompt": schema_in_prompt})
            user = self._user_turn(inputs)
            value, turn = self.provider.structured_output(
                self._full_turns([user]), type=type, params=settings
            )
            self._turns.extend([user, turn])
            return value

    async def chat_structured_async(self, *inputs: Any, type: Any,
                                    lora: Mapping[Any, float] | None = None,
                                    schema_in_prompt: bool | None = None) -> Any:
        """:meth:`chat_structured` without blocking the event loop."""
        return await asyncio.to_thread(self.chat_structured, *inputs, type=type, lora=lora,
                                       schema_in_prompt=schema_in_prompt)
