"""Chat on the real default model (SmolLM2-135M, ChatML, generic tool format)."""

from __future__ import annotations

import asyncio
import enum
import threading
from typing import Annotated, Optional

import jsonschema
import pytest
from pydantic import BaseModel, Field, StringConstraints

import llamaprov.chat as lc
from llamaprov.chat import (
    Chat,
    ContentJson,
    ContentText,
    ContentToolRequest,
    ContentToolResult,
    LlamaProvider,
    TextDelta,
    TokenUsage,
    ToolRequestArgumentsDelta,
    ToolRequestStart,
    ToolResultEvent,
    Turn,
    TurnDone,
    chat_llamaprov,
    parallel_chat,
    parallel_chat_structured,
    tool,
    type_array,
    type_enum,
    type_integer,
    type_object,
    type_string,
)
from llamaprov.errors import InvalidArgumentError, StructuredOutputError, ToolError

GREEDY = {"temperature": 0, "max_tokens": 32}
SECRETS = {7: "pineapple", 3: "volcano"}


def secret_word(number: int) -> str:
    """The secret word for a number.

    Args:
        number: which secret word
    """
    return SECRETS.get(number, "unknown")


def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def new_chat(model, **kwargs) -> Chat:
    kwargs.setdefault("params", GREEDY)
    return chat_llamaprov(model, n_ctx=2048, **kwargs)


# ------------------------------------------------------------------------------- tool calling
@pytest.mark.parametrize("choice", ["required", "secret_word"])
def test_forced_tool_call_runs_and_result_reaches_answer(model, choice):
    # one tool round: under "auto" after the result the 135M model calls add({"a": 7, "b": 7})
    # instead of answering (the generic format offers a call or an answer); with no round left
    # the reply must be the answer
    chat = new_chat(model, tools=[add, secret_word], max_tool_rounds=1)
    seen: list[object] = []
    chat.on_tool_request(seen.append)
    chat.on_tool_result(seen.append)
    answer = chat.chat("What is the secret word for number 7?", tool_choice=choice)
    turns = chat.get_turns()
    assert [t.role for t in turns] == ["user", "assistant", "user", "assistant"]
    (request,) = turns[1].tool_requests
    assert turns[1].finish_reason == "tool_calls"
    if choice == "secret_word":
        assert request.name == "secret_word"
    td = next(t for t in chat.get_tools() if t.name == request.name)
    jsonschema.validate(request.arguments, td.parameters)
    (result,) = turns[2].tool_results
    assert result.request_id == request.id and result.error is None
    assert seen == [request, result]
    if request.name == "secret_word":
        assert request.arguments == {"number": 7}
        assert result.value == "pineapple"
        assert "pineapple" in answer.lower()
    assert answer == turns[3].text and not turns[3].tool_requests


def test_auto_without_need_is_the_plain_answer(model):
    # The default model's template has no tool support (the generic format): under "auto" its
    # reply is constrained to a call or an answer object, and the answer comes back unwrapped,
    # streamed as plain text.
    chat = new_chat(model, tools=[add, secret_word], params={"temperature": 0, "max_tokens": 48})
    assert chat.provider.tool_format.name == "generic"
    events = list(chat.stream("What is the capital of France?", tool_choice="auto", content=True))
    last = chat.last_turn()
    assert last is not None and not last.tool_requests and last.finish_reason == "eog"
    assert all(isinstance(c, ContentText) for c in last.contents)
    streamed = "".join(e.text for e in events if isinstance(e, TextDelta))
    assert streamed == last.text and "Paris" in last.text and not last.text.lstrip().startswith("{")


def test_tool_errors_go_back_to_the_model(model):
    calls = []

    def explode(number: int) -> str:
        """Always fails."""
        calls.append(number)
        raise RuntimeError("the tool broke")

    chat = new_chat(model, tools=[explode], max_tool_rounds=1)  # it would retry the call
    answer = chat.chat("Call explode with number 7.", tool_choice="required")
    result = chat.get_turns()[2].tool_results[0]
    assert result.is_error and "RuntimeError: the tool broke" in result.error
    assert calls == [7] and isinstance(answer, str)


def test_arguments_are_validated_before_the_function_runs(model):
    calls = []

    def pick(n: int) -> int:
        calls.append(n)
        return n

    provider = LlamaProvider(model)
    td = tool(pick)
    result = provider.tool_call(ContentToolRequest("abc", "pick", {"n": "seven"}), [td])
    assert result.is_error and "'seven' is not of type 'integer'" in result.error
    result = provider.tool_call(ContentToolRequest("abc", "pick", {"n": 1, "x": 2}), [td])
    assert result.is_error and "Additional properties" in result.error
    result = provider.tool_call(ContentToolRequest("abc", "nope", {}), [td])
    assert result.is_error and "unknown tool 'nope'" in result.error
    assert calls == []


def test_max_tool_rounds_zero_forces_an_answer(model):
    chat = new_chat(model, tools=[secret_word], max_tool_rounds=0)
    chat.chat("What is the secret word for number 3?", tool_choice="required")
    assert [t.role for t in chat.get_turns()] == ["user", "assistant"]
    assert not chat.last_turn().tool_requests


def test_tool_choice_validation(model):
    chat = new_chat(model, tools=[add])
    with pytest.raises(InvalidArgumentError, match="'nosuch'"):
        chat.chat("hi", tool_choice="nosuch")
    with pytest.raises(InvalidArgumentError, match="no tools"):
        new_chat(model).chat("hi", tool_choice="required")
    with pytest.raises(InvalidArgumentError, match="at least one input"):
        chat.chat()
    with pytest.raises(InvalidArgumentError, match="temperature"):
        chat.params(temperature=-1)
    with pytest.raises(ToolError, match="duplicate"):
        chat.set_tools([add, add])
    assert chat.get_turns() == []


# ---------------------------------------------------------------------------------- streaming
def test_stream_equals_chat(model):
    prompt = "Name three colors."
    expected = new_chat(model, params={"temperature": 0, "max_tokens": 24}).chat(prompt)
    pieces = list(new_chat(model, params={"temperature": 0, "max_tokens": 24}).stream(prompt))
    assert len(pieces) > 3 and "".join(pieces) == expected


def test_stream_tool_events_in_order(model):
    chat = new_chat(model, tools=[secret_word], max_tool_rounds=1)
    events = list(chat.stream("What is the secret word for number 7?", content=True,
                              tool_choice="required"))
    kinds = [type(e).__name__ for e in events]
    start = kinds.index("ToolRequestStart")
    done = kinds.index("ToolRequestDone")
    first_done = kinds.index("TurnDone")
    assert start < done < first_done < kinds.index("ToolResultEvent") < len(kinds) - 1
    assert kinds[-1] == "TurnDone"
    assert all(k == "ToolRequestArgumentsDelta" for k in kinds[start + 1 : done])
    deltas = "".join(e.delta for e in events if isinstance(e, ToolRequestArgumentsDelta))
    request = events[done].request
    assert isinstance(events[start], ToolRequestStart) and events[start].id == request.id
    import json

    assert json.loads(deltas) == request.arguments
    result = next(e for e in events if isinstance(e, ToolResultEvent)).result
    assert result.request_id == request.id
    turn_dones = [e for e in events if isinstance(e, TurnDone)]
    assert len(turn_dones) == 2 and turn_dones[-1].turn.tokens.output > 0
    text = "".join(e.text for e in events[first_done:] if isinstance(e, TextDelta))
    assert text == chat.last_turn().text


# ------------------------------------------------------------------------- structured output
class Kind(str, enum.Enum):
    cat = "cat"
    dog = "dog"
    bird = "bird"


class Owner(BaseModel):
    name: str = Field(max_length=16)


class Pet(BaseModel):
    name: str = Field(max_length=16)
    kind: Kind
    age: Optional[int] = Field(None, ge=0, le=99)  # noqa: UP045 - Optional on purpose
    toys: list[Annotated[str, StringConstraints(max_length=12)]] = Field(
        default_factory=list, max_length=2
    )
    owner: Owner


PET_PROMPTS = [
    "Rex is a 3 year old dog owned by Tom.",
    "Tweety is a bird owned by Granny.",
    "Tom is a cat. Jerry owns him.",
    "Buddy the dog is 5 and belongs to Ann. He has a ball.",
    "Polly, a parrot bird, lives with Sam.",
    "Milo is a 2 year old cat owned by Zoe.",
    "Max the dog likes sticks and bones. Owner: Ben.",
    "Kiwi is a small bird. Her owner is Lea.",
    "Luna is a black cat, 7 years old, owned by Ivy.",
    "Rocky the dog belongs to Joe.",
]


def test_structured_output_nested_pydantic_round_trip(model):
    chat = new_chat(model, params={"temperature": 0, "max_tokens": 96})
    pet = chat.chat_structured(PET_PROMPTS[0], type=Pet)
    assert isinstance(pet, Pet) and pet.kind is Kind.dog and pet.owner.name
    last = chat.last_turn()
    assert isinstance(last.contents[0], ContentJson)
    assert Pet.model_validate(last.contents[0].data) == pet


def test_structured_output_twenty_prompts_all_validate(model):
    chat = new_chat(model, params={"temperature": 0, "max_tokens": 96})
    prompts = PET_PROMPTS + [p.replace(".", "!") for p in PET_PROMPTS]
    values = parallel_chat_structured(chat, prompts, type=Pet, max_parallel=20)
    assert len(values) == 20 and all(isinstance(v, Pet) for v in values)
    assert chat.get_turns() == []


def test_structured_output_with_type_specs_and_dict_schema(model):
    chat = new_chat(model, params={"temperature": 0, "max_tokens": 64})
    spec = type_object(
        city=type_string("a city"),
        rank=type_integer(required=False),
        tags=type_array(type_enum(["big", "small"]), max_items=2),
    )
    data = chat.chat_structured("Paris is a big city.", type=spec)
    assert isinstance(data, dict) and isinstance(data["city"], str)
    schema = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}
    assert isinstance(chat.chat_structured("Is water wet?", type=schema)["ok"], bool)


def test_structured_output_error_carries_raw_text(model):
    chat = new_chat(model, params={"temperature": 0, "max_tokens": 3})
    with pytest.raises(StructuredOutputError) as info:
        chat.chat_structured("Rex is a dog owned by Tom.", type=Pet)
    assert info.value.raw.startswith("{")
    with pytest.raises(InvalidArgumentError):
        chat.chat_structured("x", type=object())


# ------------------------------------------------------------------------------ usage / turns
def test_token_usage_matches_the_tokenizer(model):
    chat = new_chat(model, params={"temperature": 0, "max_tokens": 5}, system_prompt="Be brief.")
    provider = chat.provider
    chat.chat("Write a long story about a dragon.")
    first = chat.last_turn().tokens
    prompt1 = provider.format_turns(chat.get_turns(include_system_prompt=True)[:-1])
    assert first.input == len(model.tokenize(prompt1, add_special=True, parse_special=True))
    assert first.output == 5 and chat.last_turn().finish_reason == "length"
    assert first.cached == 0
    chat.chat("Go on.")
    second = chat.last_turn().tokens
    prompt2 = provider.format_turns(chat.get_turns(include_system_prompt=True)[:-1])
    assert second.input == len(model.tokenize(prompt2, add_special=True, parse_special=True))
    assert second.cached >= first.input  # the whole first exchange came from the KV cache
    assert chat.tokens_used(per_turn=True) == [first, second]
    assert chat.tokens_used() == first + second
    assert provider.tokens_used() == first + second
    info = chat.model_info()
    assert info["tool_format"] == "generic" and info["n_params"] > 100_000_000


def test_turns_system_prompt_and_set_turns(model):
    chat = new_chat(model, system_prompt="You are terse.")
    assert chat.system_prompt == "You are terse."
    chat.set_turns([Turn("system", ["Be kind."]), Turn("user", ["hi"]), Turn("assistant", ["hello"])])
    assert chat.system_prompt == "Be kind." and len(chat.get_turns()) == 2
    assert chat.get_turns(include_system_prompt=True)[0].role == "system"
    assert chat.last_turn("user").text == "hi"
    with pytest.raises(InvalidArgumentError):
        Turn("robot", ["x"])
    prompt = chat.provider.format_turns(chat.get_turns(include_system_prompt=True))
    assert prompt.startswith("<|im_start|>system\nBe kind.<|im_end|>")


# ---------------------------------------------------------------------------------- async etc.
async def test_async_variants_match_sync_and_do_not_block_the_loop(model):
    prompt = "Name a fruit."
    expected = new_chat(model).chat(prompt)
    ticks = 0
    stop = asyncio.Event()

    async def ticker():
        nonlocal ticks
        while not stop.is_set():
            ticks += 1
            await asyncio.sleep(0.005)

    task = asyncio.create_task(ticker())
    text = await new_chat(model).chat_async(prompt)
    pieces = [p async for p in new_chat(model).stream_async(prompt)]
    stop.set()
    await task
    assert text == expected and "".join(pieces) == expected
    assert ticks > 10


async def test_async_tool_function_is_awaited(model):
    async def secret_async(number: int) -> str:
        """The secret word for a number."""
        await asyncio.sleep(0)
        return SECRETS.get(number, "unknown")

    chat = new_chat(model, tools=[secret_async])
    events = [e async for e in chat.stream_async("Secret word for number 7?", content=True,
                                                 tool_choice="required")]
    result = next(e.result for e in events if isinstance(e, ToolResultEvent))
    assert result.value == "pineapple"


def test_eight_threads_eight_chats_one_model(model):
    prompts = [f"Say the number {i}." for i in range(8)]
    settings = {"temperature": 0, "max_tokens": 12}
    # one thread per context: eight contexts already oversubscribe the cores
    expected = [new_chat(model, params=settings, n_threads=1).chat(p) for p in prompts]
    got: list[str | None] = [None] * 8

    def work(i: int) -> None:
        got[i] = new_chat(model, params=settings, n_threads=1).chat(prompts[i])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert got == expected


def test_parallel_chat_equals_sequential(model):
    chat = new_chat(model, params={"temperature": 0, "max_tokens": 16}, system_prompt="Be brief.")
    prompts = ["What is the capital of France?", "Name a big animal.", "Say hello."]
    sequential = []
    for p in prompts:
        one = new_chat(model, params={"temperature": 0, "max_tokens": 16}, system_prompt="Be brief.")
        sequential.append(one.chat(p))
    # one at a time through the queue: exactly the answers of separate chats
    assert parallel_chat(chat, prompts, max_parallel=1) == sequential
    batcher = chat.provider._batcher
    contexts = batcher.contexts
    together = parallel_chat(chat, prompts)
    assert batcher.peak == 3 and batcher.contexts == contexts + 1  # all three in one context
    assert len(together) == 3 and all(together)
    assert together[0] == sequential[0]  # a short answer: no room to drift (see LangChain's batch test)
    assert parallel_chat(chat, []) == []
    with pytest.raises(InvalidArgumentError):
        parallel_chat(chat, "not a list")


def test_chat_llamaprov_takes_max_parallel(model):
    assert new_chat(model).provider.max_parallel == 8
    assert new_chat(model, max_parallel=2).provider.max_parallel == 2
    with pytest.raises(InvalidArgumentError, match="max_parallel"):
        new_chat(model, max_parallel=0)


def test_chat_llamaprov_resolves_its_model_like_every_model_argument(model, default_model_path, tmp_path):
    from llamaprov.errors import ModelNotFoundError

    assert chat_llamaprov(str(default_model_path), n_ctx=256).provider.model.path == default_model_path
    missing = tmp_path / "missing.gguf"
    with pytest.raises(ModelNotFoundError, match=r"missing\.gguf"):
        chat_llamaprov(str(missing))
    with pytest.raises(InvalidArgumentError, match="already loaded Model"):
        chat_llamaprov(model, n_gpu_layers=0)
    with pytest.raises(InvalidArgumentError, match="quant"):
        chat_llamaprov(str(default_model_path), quant="Q4_K_M")  # a Hub option for a file
    with pytest.raises(InvalidArgumentError, match="model must be"):
        chat_llamaprov(42)


def test_public_names():
    for name in ("Chat", "LlamaProvider", "Provider", "chat_llamaprov", "tool", "Turn",
                 "ContentToolResult", "TokenUsage", "parallel_chat"):
        assert hasattr(lc, name)
    assert TokenUsage(1, 2, 3) + TokenUsage(1, 1, 1) == TokenUsage(2, 3, 4)
    assert isinstance(ContentToolResult("x", value=1).as_text(), str)


def test_stream_abandoned_early_leaves_the_chat_usable(model):
    chat = new_chat(model, params={"temperature": 0, "max_tokens": 8})
    piece = next(iter(chat.stream("Tell me a story.")))  # the stream is dropped at once
    user, partial = chat.get_turns()  # the partial reply is kept, marked cancelled
    assert user.text == "Tell me a story." and partial.text == piece
    assert partial.incomplete and partial.finish_reason == "cancelled"
    assert chat.chat("Hi") and len(chat.get_turns()) == 4
