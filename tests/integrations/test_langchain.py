"""ChatLlamaProv / LlamaProvEmbeddings beyond the standard suites: model sharing, thread safety,
message conversion, tool_choice forms, bad input."""

from __future__ import annotations

import asyncio
import pathlib
import threading
import time

import langchain_core  # noqa: F401 - a dev dependency: fail loudly if missing
import pytest
from langchain_core.messages import (
    AIMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from pydantic import BaseModel, ValidationError

from llamaprov.chat import ContentText, ContentToolRequest, ContentToolResult
from llamaprov.engine import Model
from llamaprov.errors import InvalidArgumentError, ModelNotFoundError, ToolError
from llamaprov.integrations.embedding import LlamaProvEmbedder
from llamaprov.integrations.langchain import (
    ChatLlamaProv,
    LlamaProvEmbeddings,
    shared_model,
)
from llamaprov.integrations.langchain._messages import (
    messages_to_turns,
    normalize_tool_choice,
    to_tool_defs,
)
from llamaprov.models import resolve_model


@pytest.fixture(scope="module")
def llm(default_model_path: pathlib.Path) -> ChatLlamaProv:
    return ChatLlamaProv(model=str(default_model_path), temperature=0, max_tokens=24)


def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def test_instances_share_one_loaded_model(default_model_path: pathlib.Path) -> None:
    first = ChatLlamaProv(model=str(default_model_path))._load()
    second = LlamaProvEmbeddings(model=default_model_path)._load()
    assert first is second
    assert shared_model(str(default_model_path)) is first
    assert resolve_model(default_model_path, shared=True) is first  # the one shared-model cache


def test_a_loaded_model_is_used_as_it_is(model: Model) -> None:
    assert ChatLlamaProv(model=model, n_gpu_layers=1)._load() is model
    assert LlamaProvEmbeddings(model=model, n_gpu_layers=1)._load() is model


def test_batch_decodes_inputs_as_parallel_sequences_of_one_context(default_model_path: pathlib.Path) -> None:
    llm = ChatLlamaProv(model=str(default_model_path), temperature=0, max_tokens=24, max_parallel=3)
    prompts = ["Say hello.", "Name a color.", "Name a fruit.", "Count to three."]
    results = llm.batch(prompts, config={"max_concurrency": 4})
    batcher = llm._batch_provider()._batcher
    assert batcher.contexts == 1  # one context for the whole batch
    assert batcher.peak == 3  # max_parallel sequences decoded together, the fourth joined later
    assert all(isinstance(r, AIMessage) and r.text for r in results)
    assert all(r.usage_metadata["output_tokens"] > 0 for r in results)
    assert all(r.response_metadata["finish_reason"] in ("stop", "length") for r in results)
    # one sequence at a time: the same path gives exactly the answers of calls made alone
    # (llama.cpp's sums depend on the batch's makeup, so greedy answers decoded together
    # may drift apart from these after a few tokens)
    solo = ChatLlamaProv(model=str(default_model_path), temperature=0, max_tokens=24, max_parallel=1)
    assert [r.text for r in solo.batch(prompts)] == [llm.invoke(p).text for p in prompts]


async def test_abatch_and_astream_do_not_block_the_loop(llm: ChatLlamaProv) -> None:
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    task = asyncio.create_task(ticker())
    try:
        results = await llm.abatch(["Hello", "Hey"])
        chunks = [c async for c in llm.astream("Hello")]
    finally:
        task.cancel()
    assert llm._batch_provider()._batcher.peak == 2  # decoded together
    assert all(isinstance(r, AIMessage) and r.text for r in results)
    assert chunks[-1].chunk_position == "last" and chunks[-1].usage_metadata["output_tokens"] > 0
    assert ticks > 10  # the event loop kept running while tokens were decoded


def test_threads_share_a_model_safely(llm: ChatLlamaProv) -> None:
    errors: list[BaseException] = []
    texts: list[str] = []

    def work() -> None:
        try:
            texts.append(llm.invoke("Say hi.").text)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(texts) == 3 and len(set(texts)) == 1


def test_usage_and_metadata(llm: ChatLlamaProv) -> None:
    message = llm.invoke("Hello")
    usage = message.usage_metadata
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]
    assert 0 <= usage["input_token_details"]["cache_read"] <= usage["input_tokens"]
    assert message.response_metadata["model_name"].endswith(".gguf")
    assert message.response_metadata["finish_reason"] in ("stop", "length")


def test_stop_sequences_end_the_text(llm: ChatLlamaProv) -> None:
    text = llm.invoke("Count from 1 to 10, separated by commas.", max_tokens=40).text
    assert "5" in text
    cut = llm.invoke("Count from 1 to 10, separated by commas.", stop=["5"], max_tokens=40)
    assert "5" not in cut.text and cut.response_metadata["finish_reason"] == "stop"


def test_forced_tool_call_streams_tool_call_chunks(llm: ChatLlamaProv) -> None:
    bound = llm.bind_tools([add], tool_choice="add")
    chunks = list(bound.stream("What is 2 + 3?", max_tokens=64))
    assert any(c.tool_call_chunks for c in chunks)
    full = chunks[0]
    for c in chunks[1:]:
        full = full + c
    assert full.tool_calls[0]["name"] == "add"
    assert full.tool_calls[0]["args"] == {"a": 2, "b": 3}
    assert full.response_metadata["finish_reason"] == "tool_calls"


def test_structured_output_include_raw(llm: ChatLlamaProv) -> None:
    class City(BaseModel):
        name: str
        country: str

    out = llm.with_structured_output(City, include_raw=True).invoke(
        "Paris is the capital of France.", max_tokens=48
    )
    assert isinstance(out["raw"], AIMessage)
    assert isinstance(out["parsed"], City) and out["parsing_error"] is None


def test_messages_to_turns_conversion() -> None:
    turns = messages_to_turns([
        SystemMessage("be brief"),
        HumanMessage("What is 1 + 2"),
        SystemMessage("use tools"),
        AIMessage("", tool_calls=[{"name": "add", "args": {"a": 1, "b": 2}, "id": "c1"}]),
        ToolMessage("3", tool_call_id="c1"),
        ToolMessage("oops", tool_call_id="c2", status="error"),
        HumanMessage([{"type": "text", "text": "thanks"}]),
    ])
    assert [t.role for t in turns] == ["system", "user", "assistant", "user", "user"]
    assert turns[0].text == "be brief\n\nuse tools"
    assert turns[2].contents == [ContentToolRequest("c1", "add", {"a": 1, "b": 2})]
    assert turns[3].contents == [
        ContentToolResult("c1", value="3", name="add"),
        ContentToolResult("c2", error="oops", name=None),
    ]
    assert turns[4].contents == [ContentText("thanks")]


def test_tool_choice_forms() -> None:
    tools = to_tool_defs([add])
    assert normalize_tool_choice(None, tools) == "auto"
    assert normalize_tool_choice("any", tools) == "required"
    assert normalize_tool_choice(True, tools) == "required"
    assert normalize_tool_choice("add", tools) == "add"
    assert normalize_tool_choice({"type": "function", "function": {"name": "add"}}, tools) == "add"
    with pytest.raises(InvalidArgumentError, match="nope"):
        normalize_tool_choice("nope", tools)
    with pytest.raises(InvalidArgumentError, match="at least one"):
        normalize_tool_choice("any", [])


def test_bad_input_raises_clear_errors(llm: ChatLlamaProv, tmp_path: pathlib.Path) -> None:
    with pytest.raises(ValidationError, match="unknown_option"):
        ChatLlamaProv(unknown_option=1)
    with pytest.raises(ValidationError, match="tool_format"):
        ChatLlamaProv(tool_format="nope")
    with pytest.raises(ModelNotFoundError, match=r"missing\.gguf"):
        ChatLlamaProv(model=str(tmp_path / "missing.gguf")).invoke("hi")
    with pytest.raises(InvalidArgumentError, match="frobnicate"):
        llm.invoke("hi", frobnicate=True)
    with pytest.raises(InvalidArgumentError, match="image"):
        llm.invoke([HumanMessage([{"type": "image", "url": "http://x/y.png"}])])
    with pytest.raises(ToolError, match="two different tools"):
        llm.bind_tools([add, {"name": "add", "description": "x", "parameters": {"type": "object"}}])
    with pytest.raises(InvalidArgumentError, match="only system"):
        llm.invoke([SystemMessage("hi")])
    with pytest.raises(InvalidArgumentError, match="list of str"):
        LlamaProvEmbeddings().embed_documents("a text")


def test_embeddings_one_pooled_vector_per_document(default_model_path: pathlib.Path) -> None:
    emb = LlamaProvEmbeddings(model=str(default_model_path), batch_size=4)
    docs = ["The cat sat on the mat.", "Stocks fell sharply today.", "A kitten sleeps on a rug."]
    vectors = emb.embed_documents(docs)
    assert len(vectors) == 3 and len({len(v) for v in vectors}) == 1
    query = emb.embed_query("Where is the cat?")
    scores = [sum(a * b for a, b in zip(query, v, strict=True)) for v in vectors]
    assert abs(sum(x * x for x in query) - 1.0) < 1e-3  # normalized
    assert scores[1] < max(scores[0], scores[2])
    assert emb.embed_documents([]) == []


def test_embeddings_are_the_embedders_vectors(model: Model) -> None:
    emb = LlamaProvEmbeddings(model=model, batch_size=4, pooling="mean", n_ctx=32)
    with LlamaProvEmbedder(model, batch_size=4, pooling="mean", n_ctx=32) as embedder:
        texts = ["a cat", "a dog on a mat"]
        assert emb.embed_documents(texts) == embedder.embed_documents(texts)


def test_timeout_stops_a_long_generation(default_model_path: pathlib.Path) -> None:
    slow = ChatLlamaProv(model=str(default_model_path), max_tokens=400, timeout=0.2)
    start = time.monotonic()
    with pytest.raises(TimeoutError, match="timeout"):
        slow.invoke("Write a long story about a dragon.")
    assert time.monotonic() - start < 30


def test_every_engine_sampling_knob_is_a_field_with_the_engines_checks(model: Model) -> None:
    import dataclasses

    from llamaprov.engine import SamplingParams

    # the grammar itself is the chat's to set; grammar_close* and grammar_ngram_* are knobs
    spec = {"grammar", "grammar_root", "grammar_lazy", "grammar_trigger_patterns",
            "grammar_trigger_words", "grammar_trigger_tokens"}
    knobs = [f.name for f in dataclasses.fields(SamplingParams) if f.name not in spec]
    assert not [k for k in knobs if k not in ChatLlamaProv.model_fields]
    llm = ChatLlamaProv(model=model, temperature=0, dry_multiplier=0.5, dry_scope="grammar", mirostat=2,
                        logit_bias={5: -1.0})
    params = llm._params()
    assert (params.dry_multiplier, params.dry_scope, params.mirostat) == (0.5, "grammar", 2)
    with pytest.raises(ValidationError, match="dry_scope"):
        ChatLlamaProv(model=model, dry_scope="json")
    with pytest.raises(ValidationError, match="mirostat"):
        ChatLlamaProv(model=model, mirostat=3)
