"""LangChain chat model on a local GGUF model: :class:`ChatLlamaProv` (a ``BaseChatModel``).

``model=`` is a GGUF path, a loaded :class:`llamaprov.Model`, a Hugging Face repo id
(``"owner/name"``) or None for the packaged default model; instances naming the same file (with
the same load options) share one loaded model. ``batch`` and ``abatch`` decode their inputs
together as parallel sequences of one context; other calls (``invoke``, ``stream``, from any
number of threads) each take a context from a small pool, so they never share llama.cpp state
and a conversation's KV cache is reused by the next call.
"""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import threading
import time
from collections.abc import AsyncIterator, Callable, Generator, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Literal

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.language_models.chat_models import LangSmithParams, generate_from_stream
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.output_parsers import JsonOutputParser, PydanticOutputParser
from langchain_core.output_parsers.openai_tools import (
    JsonOutputKeyToolsParser,
    PydanticToolsParser,
)
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable, RunnableConfig, RunnableMap, RunnablePassthrough
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_json_schema, convert_to_openai_tool
from langchain_core.utils.pydantic import is_basemodel_subclass
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    field_validator,
    model_validator,
)

from llamaprov.chat import ChatParams, TurnDone
from llamaprov.chat._async import iterate_in_thread
from llamaprov.chat.tools import check_parallel_tool_calls
from llamaprov.errors import InvalidArgumentError, describe
from llamaprov.models import check_model
from llamaprov.models import model_name as display_name

from ._messages import (
    event_to_chunk,
    last_chunk,
    messages_to_turns,
    normalize_tool_choice,
    to_tool_defs,
    turn_to_message,
)
from ._pool import ProviderPool
from ._shared import load_options, shared_model

if TYPE_CHECKING:
    from llamaprov.chat import LlamaProvider
    from llamaprov.engine import Model

__all__ = ["ChatLlamaProv"]

# set while ChatLlamaProv.batch/abatch run: their invoke calls (on executor threads or tasks,
# which copy the context) then queue for parallel decoding instead of taking pooled contexts
_IN_BATCH: contextvars.ContextVar[bool] = contextvars.ContextVar("llamaprov_in_batch", default=False)

# llamaprov's "eog" (the model ended its turn) is what LangChain providers call "stop"
_FINISH_REASONS = {"eog": "stop"}
# every generation knob of ChatParams (and so of the engine's SamplingParams), same names
_PARAM_FIELDS = tuple(f.name for f in dataclasses.fields(ChatParams) if f.name not in ("stop", "lora"))
_CALL_KWARGS = frozenset({"tools", "tool_choice", "parallel_tool_calls", "format", "model", "lora",
                          *_PARAM_FIELDS})


# --------------------------------------------------------------------------------- chat model
class ChatLlamaProv(BaseChatModel):
    """A LangChain chat model running a local GGUF model with llamaprov.

    Tool calling uses the model's native tool format (grammar-constrained calls, with
    ``tool_choice`` "auto", "any"/"required", "none" or a tool name, and
    ``parallel_tool_calls``: whether one reply may hold several calls); structured output is
    grammar-constrained JSON (``method="json_schema"``, the default), a forced tool call
    (``"function_calling"``) or any JSON object (``"json_mode"``). Responses carry
    ``usage_metadata`` (cache reads are prompt tokens reused from the KV cache) and
    ``response_metadata`` with ``model_name`` and ``finish_reason``. ``lora={adapter: scale}``
    decodes with LoRA adapters loaded for the model (pass the loaded ``Model`` as ``model=``);
    a call's own ``lora=`` (``invoke(..., lora=...)``, ``bind(lora=...)``) replaces it.

    Reasoning models (Qwen3, DeepSeek-R1, SmolLM3, gpt-oss...): ``reasoning`` ("auto", "on",
    "off") and ``reasoning_budget`` (tokens) switch and bound the thinking, which comes back
    apart from the answer: a ``{"type": "reasoning"}`` block of ``message.content_blocks``
    (``additional_kwargs["reasoning_content"]``; streamed in chunks of its own), never in
    ``.content``; it goes back to the model in later calls as the chat template expects.

    Example:
        ```python
        from llamaprov import ChatLlamaProv

        llm = ChatLlamaProv(temperature=0, max_tokens=128)   # the packaged default model
        llm.invoke("Name three colors.").content
        ```
    """

    model: Any = None
    """A GGUF path, a loaded ``llamaprov.Model``, a Hub repo id ("owner/name") or None for the
    packaged default model."""
    n_ctx: int | None = None
    """Context window of each context (default: the model's training length, at most 4096)."""
    n_threads: int | None = None
    """CPU threads per generation (default: llamaprov's choice for this machine)."""
    n_gpu_layers: int = 0
    """Layers offloaded to the GPU when the model is loaded from a path or the Hub."""
    temperature: float | None = None
    """Sampling temperature; 0 is greedy (deterministic)."""
    max_tokens: int | None = None
    """Most tokens generated per call (default 512)."""
    top_p: float | None = None
    top_k: int | None = None
    min_p: float | None = None
    seed: int | None = None
    repeat_penalty: float | None = None
    frequency_penalty: float | None = None
    presence_penalty: float | None = None
    typical_p: float | None = None
    penalty_last_n: int | None = None
    mirostat: int | None = None
    mirostat_tau: float | None = None
    mirostat_eta: float | None = None
    dry_multiplier: float | None = None
    """DRY repetition penalty; constrained output (tool calls, structured output) gets 0.8
    inside the grammar's span unless this is set (0 turns it off)."""
    dry_base: float | None = None
    dry_allowed_length: int | None = None
    dry_penalty_last_n: int | None = None
    dry_scope: str | None = None
    """Where DRY acts: "all" the output, or "grammar" only what a grammar constrains."""
    dry_sequence_breakers: list[str] | None = None
    """Texts a DRY repeat is not matched across (llama.cpp's default: newline, ':', '"', '*')."""
    xtc_probability: float | None = None
    xtc_threshold: float | None = None
    top_n_sigma: float | None = None
    dynatemp_range: float | None = None
    dynatemp_exponent: float | None = None
    logit_bias: dict[int, float] | None = None
    """Sampling knobs above: the engine's ``SamplingParams``, same names, same checks."""
    grammar_close: bool | None = None
    """When max_tokens is about to cut a tool call or structured output, append its shortest
    valid completion instead (default True for constrained output; False: cut it, and raise)."""
    grammar_close_repeats: int | None = None
    """Close a tool call or structured output the same way once one block of tokens repeats
    this many times in a row (a greedy small model's loop; 0: never)."""
    grammar_ngram_limit: int | None = None
    """In a tool call or structured output, a token that would make an n-gram of the output
    occur more than this many times ends the string or array it loops in instead (default 4;
    0: off)."""
    grammar_ngram_size: int | None = None
    """The n of ``grammar_ngram_limit`` (default 4 tokens)."""
    schema_in_prompt: bool | None = None
    """Structured output shows the model its JSON schema in the prompt (default True)."""
    reasoning: str | None = None
    """A reasoning model's thinking: "auto" (the chat template's default), "on" or "off"
    (through the template's switch where it has one); "on" needs a model that thinks."""
    reasoning_budget: int | None = None
    """Most tokens the thinking may take (then it is closed and the answer follows); max_tokens
    counts the thinking and the answer together."""
    lora: dict[Any, float] | None = None
    """LoRA adapters and their scales (``{model.load_lora(path): 1.0}``; ``{}``: none), for
    every call and batch; adapters of another model raise ``InvalidArgumentError``."""
    stop: list[str] | None = Field(default=None, alias="stop_sequences")
    """Stop strings (never included in the output)."""
    tool_format: str | None = None
    """Override the detected tool-call format ("hermes", "llama3", "mistral", "functionary",
    "generic")."""
    parallel_tool_calls: bool | None = None
    """Whether one reply may hold several tool calls: True, False (exactly one) or None (the
    tool format's default: several for models with native tool calls, except Llama 3.x; one
    for the generic format of models without). ``bind_tools(..., parallel_tool_calls=...)``
    and the call keyword of the same name override it."""
    chat_template: str | None = None
    """Override the model's chat template (Jinja text)."""
    streaming: bool = False
    """When True, ``invoke`` streams internally (callbacks receive each token)."""
    max_parallel: int = 8
    """Inputs of ``batch``/``abatch`` decoded together as sequences of one context."""
    timeout: float | None = None
    """Most seconds one call may generate; a longer call raises ``TimeoutError``."""
    max_retries: int | None = None
    """Accepted for compatibility with LangChain's standard parameters. Unused: a local model
    has no transient failures to retry."""
    api_key: SecretStr | None = None
    """Accepted so code written for hosted providers runs unchanged. Unused: a local model
    needs no key."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    _pool: ProviderPool | None = PrivateAttr(default=None)
    _queue_provider: LlamaProvider | None = PrivateAttr(default=None)
    _pool_lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    @field_validator("parallel_tool_calls", mode="before")
    @classmethod
    def _check_parallel_tool_calls(cls, value: Any) -> bool | None:
        return check_parallel_tool_calls(value)  # no coercion of 1 or "true"

    @model_validator(mode="after")
    def _validate(self) -> ChatLlamaProv:
        check_model(self.model)
        if self.tool_format is not None:
            from llamaprov.chat import TOOL_FORMATS

            if self.tool_format not in TOOL_FORMATS:
                raise InvalidArgumentError(
                    f"tool_format must be one of {sorted(TOOL_FORMATS)}, got {self.tool_format!r}"
                )
        for name, value in (("n_ctx", self.n_ctx), ("n_threads", self.n_threads),
                            ("max_parallel", self.max_parallel)):
            if value is not None and value < 1:
                raise InvalidArgumentError(f"{name} must be >= 1, got {value!r}")
        if self.timeout is not None and self.timeout <= 0:
            raise InvalidArgumentError(f"timeout must be > 0 seconds, got {self.timeout!r}")
        self._params()  # validates the sampling settings and the adapters
        from llamaprov.engine import Model

        if isinstance(self.model, Model):
            for adapter in self.lora or ():
                if adapter.model is not self.model:
                    raise InvalidArgumentError(
                        f"the LoRA adapter {adapter.path.name!r} was loaded for model "
                        f"{adapter.model.path.name!r}, not for {self.model.path.name!r}")
        return self

    # ------------------------------------------------------------------------- identity
    @property
    def _llm_type(self) -> str:
        return "llamaprov"

    @property
    def model_name(self) -> str:
        """The model's file name (or Hub repo id)."""
        return display_name(self.model)

    @property
    def _identifying_params(self) -> dict[str, Any]:
        params = self._params().as_dict()
        if "lora" in params:  # adapters by file name
            params["lora"] = {a.path.name: scale for a, scale in params["lora"].items()}
        return {"model_name": self.model_name, "n_ctx": self.n_ctx, **params}

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        params = LangSmithParams(
            ls_provider="llamaprov",
            ls_model_name=str(kwargs["model"]) if kwargs.get("model") else self.model_name,
            ls_model_type="chat",
        )
        temperature = kwargs.get("temperature", self.temperature)
        if temperature is not None:
            params["ls_temperature"] = temperature
        max_tokens = kwargs.get("max_tokens", self.max_tokens)
        if max_tokens is not None:
            params["ls_max_tokens"] = max_tokens
        stops = stop or self.stop
        if stops:
            params["ls_stop"] = list(stops)
        return params

    # ------------------------------------------------------------------------- settings
    def _params(self, stop: list[str] | None = None, **overrides: Any) -> ChatParams:
        values = {name: getattr(self, name) for name in _PARAM_FIELDS}
        values.update({k: v for k, v in overrides.items() if k in _PARAM_FIELDS})
        stops = [*(self.stop or ()), *(stop or ())]
        if stops:
            values["stop"] = tuple(dict.fromkeys(stops))
        lora = overrides.get("lora")
        values["lora"] = self.lora if lora is None else lora
        return ChatParams(**{k: v for k, v in values.items() if v is not None})

    def _load(self, model: Any = None) -> Model:
        spec = self.model if model is None else model
        return shared_model(spec, **load_options(self.n_gpu_layers))

    def _provider_pool(self) -> ProviderPool:
        with self._pool_lock:
            if self._pool is None:
                self._pool = ProviderPool(lambda: self._new_provider(self._load()))
            return self._pool

    def _new_provider(self, model: Model) -> LlamaProvider:
        from llamaprov.chat import LlamaProvider

        return LlamaProvider(model, n_ctx=self.n_ctx, n_threads=self.n_threads,
                             template=self.chat_template, tool_format=self.tool_format,
                             max_parallel=self.max_parallel)

    def _batch_provider(self) -> LlamaProvider:
        """The provider whose queue serves ``batch``/``abatch`` (parallel sequences)."""
        with self._pool_lock:
            if self._queue_provider is None:
                self._queue_provider = self._new_provider(self._load())
            return self._queue_provider

    def _batched(self, kwargs: dict[str, Any]) -> bool:
        return _IN_BATCH.get() and not self.streaming and kwargs.get("model") is None

    # --------------------------------------------------------------------------- batches
    def batch(
        self,
        inputs: list[LanguageModelInput],
        config: RunnableConfig | list[RunnableConfig] | None = None,
        *,
        return_exceptions: bool = False,
        **kwargs: Any,
    ) -> list[AIMessage | Exception]:
        """Run every input (callbacks and configs as usual); their generations are decoded
        together as parallel sequences of one context."""
        token = _IN_BATCH.set(True)
        try:
            return super().batch(inputs, config, return_exceptions=return_exceptions, **kwargs)
        finally:
            _IN_BATCH.reset(token)

    async def abatch(
        self,
        inputs: list[LanguageModelInput],
        config: RunnableConfig | list[RunnableConfig] | None = None,
        *,
        return_exceptions: bool = False,
        **kwargs: Any,
    ) -> list[AIMessage | Exception]:
        """The async :meth:`batch`: awaits the parallel decoding without blocking the loop."""
        token = _IN_BATCH.set(True)
        try:
            return await super().abatch(inputs, config, return_exceptions=return_exceptions, **kwargs)
        finally:
            _IN_BATCH.reset(token)

    # --------------------------------------------------------------------------- tools
    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: str | bool | dict[str, Any] | None = None,
        parallel_tool_calls: bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Offer ``tools`` to the model.

        Args:
            tools: LangChain tools, functions, pydantic models, TypedDicts or tool dicts
                (anything ``convert_to_openai_tool`` accepts).
            tool_choice: "auto" (the model decides; default), "any" or "required" (it must call
                one), "none" (it must not), a tool name (it must call that one), True (the
                single bound tool must be called) or ``{"type": "function", "function":
                {"name": ...}}``.
            parallel_tool_calls: True (a reply may hold several calls), False (exactly one),
                or None (the model's ``parallel_tool_calls``, by default the tool format's).
            **kwargs: other call arguments bound with the tools.
        """
        defs = to_tool_defs(tools)  # validates now rather than at the first call
        choice = normalize_tool_choice(tool_choice, defs)
        if check_parallel_tool_calls(parallel_tool_calls) is not None:
            kwargs["parallel_tool_calls"] = parallel_tool_calls
        formatted = [convert_to_openai_tool(t) for t in tools]
        return super().bind(tools=formatted, tool_choice=choice, **kwargs)

    def with_structured_output(
        self,
        schema: dict[str, Any] | type,
        *,
        method: Literal["json_schema", "function_calling", "json_mode"] = "json_schema",
        include_raw: bool = False,
        strict: bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, dict[str, Any] | BaseModel]:
        """A runnable returning data of ``schema`` (a pydantic class, a TypedDict, a JSON schema
        or an OpenAI tool dict): a pydantic instance for a pydantic class, a dict otherwise.

        Args:
            method: "json_schema" (default): generation is constrained by a grammar compiled from
                the schema. "function_calling": a forced call of a tool made from the schema.
                "json_mode": any JSON object (describe the keys in the prompt).
            include_raw: return ``{"raw": AIMessage, "parsed": ..., "parsing_error": ...}``
                instead of raising on a parsing error.
            strict: accepted for compatibility; grammar-constrained output is always strict.
        """
        if kwargs:
            raise InvalidArgumentError(
                f"with_structured_output got unknown arguments {sorted(kwargs)}"
            )
        is_pydantic = isinstance(schema, type) and is_basemodel_subclass(schema)
        parser: Runnable
        if method == "function_calling":
            tool = convert_to_openai_tool(schema)
            name = tool["function"]["name"]
            llm = self.bind_tools(
                [schema], tool_choice=name,
                ls_structured_output_format={"kwargs": {"method": method}, "schema": tool},
            )
            parser = (
                PydanticToolsParser(tools=[schema], first_tool_only=True)  # type: ignore[list-item]
                if is_pydantic
                else JsonOutputKeyToolsParser(key_name=name, first_tool_only=True)
            )
        elif method in ("json_schema", "json_mode"):
            json_schema = _json_schema_of(schema)
            llm = self.bind(
                format=json_schema if method == "json_schema" else "json",
                ls_structured_output_format={"kwargs": {"method": method}, "schema": schema},
            )
            parser = (
                PydanticOutputParser(pydantic_object=schema)  # type: ignore[arg-type]
                if is_pydantic
                else JsonOutputParser()
            )
        else:
            raise InvalidArgumentError(
                "method must be 'json_schema', 'function_calling' or 'json_mode', "
                f"got {describe(method)}"
            )
        if not include_raw:
            return llm | parser
        parsed = RunnablePassthrough.assign(parsed=lambda x: parser.invoke(x["raw"]),
                                            parsing_error=lambda _: None)
        fallback = RunnablePassthrough.assign(parsed=lambda _: None)
        with_raw = parsed.with_fallbacks([fallback], exception_key="parsing_error")
        return RunnableMap(raw=llm) | with_raw

    # ------------------------------------------------------------------------ generation
    def _request(self, messages: list[BaseMessage], stop: list[str] | None,
                 kwargs: dict[str, Any]) -> dict[str, Any]:
        """Validated arguments for ``LlamaProvider.stream_perform`` from a LangChain call."""
        unknown = set(kwargs) - _CALL_KWARGS
        if unknown:
            raise InvalidArgumentError(
                f"ChatLlamaProv got unknown call arguments {sorted(unknown)}; known: "
                f"{sorted(_CALL_KWARGS)}"
            )
        tools = to_tool_defs(kwargs.get("tools") or ())
        choice = normalize_tool_choice(kwargs.get("tool_choice"), tools)
        parallel = kwargs.get("parallel_tool_calls")
        parallel = self.parallel_tool_calls if parallel is None else check_parallel_tool_calls(parallel)
        fmt = kwargs.get("format")
        type_: Any = None
        if fmt == "json":
            # any object: llamaprov closes objects without "additionalProperties" (that alone
            # would allow only {}), so JSON mode says it explicitly
            type_ = {"type": "object", "additionalProperties": True}
        elif isinstance(fmt, dict):
            type_ = fmt
        elif fmt is not None:
            raise InvalidArgumentError(
                f"format must be 'json' or a JSON schema dict, got {describe(fmt)}"
            )
        return {
            "turns": messages_to_turns(messages),
            "tools": tools,
            "tool_choice": choice,
            "parallel_tool_calls": parallel,
            "type": type_,
            "params": self._params(stop, **kwargs),
        }

    def _metadata(self, turn: Any, model: Any) -> dict[str, Any]:
        return {
            "model_name": display_name(model if model is not None else self.model),
            "finish_reason": _FINISH_REASONS.get(turn.finish_reason, turn.finish_reason),
        }

    def _events(self, messages: list[BaseMessage], stop: list[str] | None,
                kwargs: dict[str, Any], cancel: threading.Event | None = None) -> Iterator[Any]:
        """Stream events of one generation on a pooled context (the context is returned to the
        pool when the generation ends, also when the consumer stops early)."""
        request = self._request(messages, stop, kwargs)
        override = kwargs.get("model")
        if override is not None:
            pool = None
            provider = self._new_provider(self._load(override))
        else:
            pool = self._provider_pool()
            provider = pool.acquire()
        deadline = None if self.timeout is None else time.monotonic() + self.timeout
        events: Generator[Any, None, None] = provider.stream_perform(**request)  # type: ignore[assignment]
        try:
            for event in events:
                yield event
                if cancel is not None and cancel.is_set():
                    return
                if deadline is not None and time.monotonic() > deadline:
                    raise self._timeout_error()
        finally:
            events.close()
            if pool is not None:
                pool.release(provider)
            else:
                provider.close()

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        if self.streaming:
            return generate_from_stream(self._stream(messages, stop, run_manager, **kwargs))
        if self._batched(kwargs):
            future = self._batch_provider().submit(**self._request(messages, stop, kwargs))
            try:
                return self._result(future.result(timeout=self.timeout), kwargs)
            except TimeoutError:
                future.cancel()
                raise self._timeout_error() from None
        turn = None
        for event in self._events(messages, stop, kwargs):
            if isinstance(event, TurnDone):
                turn = event.turn
        assert turn is not None
        return self._result(turn, kwargs)

    def _timeout_error(self) -> TimeoutError:
        return TimeoutError(f"ChatLlamaProv: generation exceeded timeout={self.timeout}s")

    def _result(self, turn: Any, kwargs: dict[str, Any]) -> ChatResult:
        message = turn_to_message(turn, self._metadata(turn, kwargs.get("model")))
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        for event in self._events(messages, stop, kwargs):
            chunk = self._chunk_for(event, kwargs)
            if chunk is None:
                continue
            if run_manager is not None:
                run_manager.on_llm_new_token(chunk.text, chunk=chunk)
            yield chunk

    def _chunk_for(self, event: Any, kwargs: dict[str, Any]) -> ChatGenerationChunk | None:
        if isinstance(event, TurnDone):
            message: AIMessageChunk | None = last_chunk(
                event.turn, self._metadata(event.turn, kwargs.get("model"))
            )
        else:
            message = event_to_chunk(event)
        return None if message is None else ChatGenerationChunk(message=message)

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        if self.streaming:
            chunks = [c async for c in self._astream(messages, stop, run_manager, **kwargs)]
            return generate_from_stream(iter(chunks))
        if self._batched(kwargs):
            future = self._batch_provider().submit(**self._request(messages, stop, kwargs))
            try:
                turn = await asyncio.wait_for(asyncio.wrap_future(future), self.timeout)
            except TimeoutError:
                raise self._timeout_error() from None
            return self._result(turn, kwargs)
        turn = None
        async for event in self._aevents(messages, stop, kwargs):
            if isinstance(event, TurnDone):
                turn = event.turn
        assert turn is not None
        return self._result(turn, kwargs)

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        async for event in self._aevents(messages, stop, kwargs):
            chunk = self._chunk_for(event, kwargs)
            if chunk is None:
                continue
            if run_manager is not None:
                await run_manager.on_llm_new_token(chunk.text, chunk=chunk)
            yield chunk

    async def _aevents(self, messages: list[BaseMessage], stop: list[str] | None,
                       kwargs: dict[str, Any]) -> AsyncIterator[Any]:
        """The events of :meth:`_events`, produced on a worker thread as tokens are decoded and
        handed to the event loop as they come (the loop never blocks on llama.cpp)."""
        events = iterate_in_thread(lambda cancel: self._events(messages, stop, kwargs, cancel),
                                   name="llamaprov-langchain")
        async for event in events:
            yield event


def _json_schema_of(schema: Any) -> dict[str, Any]:
    """The JSON schema of a pydantic class (v1 or v2), TypedDict, JSON schema or tool dict."""
    if isinstance(schema, type) and is_basemodel_subclass(schema):
        if hasattr(schema, "model_json_schema"):
            return schema.model_json_schema()
        return schema.schema()  # type: ignore[attr-defined,no-any-return]  # pydantic.v1 model
    try:
        converted = convert_to_json_schema(schema)
    except Exception as exc:
        raise InvalidArgumentError(
            f"cannot make a JSON schema from {describe(schema)}: {exc}"
        ) from exc
    if "properties" in converted and "required" not in converted:
        converted["required"] = list(converted["properties"])
    return converted
