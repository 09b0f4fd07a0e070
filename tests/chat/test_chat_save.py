"""Chat.save / Chat.load: the conversation and the KV cache of its prompt in one file; a restored
chat continues exactly as the original, without decoding its prompt again; damaged, foreign and
other-model files raise StateError and leave the provider usable."""

from __future__ import annotations

import hashlib
import json
import math
import os
import struct
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from _stub_provider import StubProvider

from llamaprov import InvalidArgumentError, StateError, load_model
from llamaprov.chat import (
    Chat,
    ContentJson,
    ContentText,
    ContentThinking,
    ContentToolRequest,
    ContentToolResult,
    LlamaProvider,
    TokenUsage,
    ToolDef,
    Turn,
    TurnDone,
    tool,
)
from llamaprov.chat._persist import MAGIC

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _tiny_gguf import write_tiny_llama, write_tiny_lora

GREEDY = {"temperature": 0, "max_tokens": 16}
CHATML = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
          "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")


def header_of(path: Path) -> dict[str, Any]:
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[16:24])
    return json.loads(raw[56:56 + n])


def rewrite(path: Path, change) -> bytes:
    """The file at ``path`` with its header changed by ``change`` (checksum kept valid)."""
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[16:24])
    header = json.loads(raw[56:56 + n])
    change(header)
    data = json.dumps(header).encode()
    return MAGIC + struct.pack("<Q", len(data)) + hashlib.sha256(data).digest() + data + raw[56 + n:]


def secret_word(number: int) -> str:
    """The secret word of a number."""
    return "pineapple"


class Scripted(StubProvider):
    """A provider with no model: it answers with prepared turns."""

    def __init__(self, replies: Sequence[Turn] = ()) -> None:
        self.replies = list(replies)

    def stream_perform(self, turns: Sequence[Turn], *, tools: Sequence[ToolDef] = (), type: Any = None,
                       params: Any = None, tool_choice: str = "auto", parallel_tool_calls: bool | None = None,
                       max_tool_calls: int | None = None) -> Iterator[Any]:
        return iter([TurnDone(self.replies.pop(0))])


@pytest.fixture(scope="module")
def saved(model, tmp_path_factory):
    """A two-exchange chat on the default model, saved with its KV cache."""
    chat = Chat(LlamaProvider(model, n_ctx=1024), params=GREEDY, system_prompt="You are terse.")
    chat.chat("Name a fruit.")
    chat.chat("And a color?")
    path = chat.save(tmp_path_factory.mktemp("saved") / "chat.lpchat")
    yield chat, path
    chat.provider.close()


@pytest.fixture(scope="module")
def tiny_files(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("tiny-save")
    return {"model": write_tiny_llama(d / "tiny.gguf")[0],
            "twin": write_tiny_llama(d / "twin.gguf", seed=1)[0],  # same metadata, other weights
            "lora": write_tiny_lora(d / "lora.gguf", seed=1)}


def test_a_restored_chat_continues_with_the_same_greedy_tokens_without_reading_its_prompt(model, saved):
    original, path = saved
    header = header_of(path)
    assert header["format"] == "llamaprov.chat" and header["version"] == 1
    assert header["kv"]["n_tokens"] > 40 and header["model"]["name"] == model.path.name
    restored = Chat.load(path, LlamaProvider(model, n_ctx=1024))
    assert restored.get_turns() == original.get_turns()
    assert restored.system_prompt == "You are terse." and restored.params() == original.params()
    assert restored.provider.context.memory.tokens(0) == original.provider.context.memory.tokens(0)
    cold = Chat.load(path, LlamaProvider(model, n_ctx=1024), kv=False)
    texts = [c.chat("And an animal?") for c in (original, restored, cold)]
    usage = [c.last_turn().tokens for c in (original, restored, cold)]
    assert texts[0] == texts[1] and texts[0]
    assert usage[1] == usage[0] and usage[1].cached >= header["kv"]["n_tokens"] - 1
    assert usage[1].input - usage[1].cached < 20  # only the new message and the template around it
    assert usage[2].cached == 0 and usage[2].input == usage[0].input  # the prompt read again
    for c in (restored, cold):
        c.provider.close()


def test_only_the_cache_of_this_conversation_is_saved(model, tmp_path):
    provider = LlamaProvider(model, n_ctx=1024)
    mine = Chat(provider, params=GREEDY, system_prompt="You answer about fruit.")
    mine.chat("Name a fruit.")
    other = Chat(provider, params=GREEDY, system_prompt="You answer about the sea and its fish.")
    other.chat("Name a fish.")  # the provider's cache now holds the other conversation
    mine.save(tmp_path / "mine.lpchat")
    kv = header_of(tmp_path / "mine.lpchat")["kv"]
    assert kv is None  # the cache is the other chat's: not saved, and left as it is
    other.save(tmp_path / "other.lpchat")
    assert header_of(tmp_path / "other.lpchat")["kv"]["n_tokens"] > 20
    provider.close()


def test_the_cache_of_a_chat_allowed_parallel_tool_calls_is_saved(model, tmp_path):
    # the generic format's tools note describes the calls a reply may hold: the prompt whose
    # cache is saved is rendered with the chat's setting, or it would not match the cache
    provider = LlamaProvider(model, n_ctx=1024)
    chat = Chat(provider, params={"temperature": 0, "max_tokens": 64}, tools=[secret_word],
                parallel_tool_calls=True, max_tool_rounds=1)
    chat.chat("Say hello.")
    kv = header_of(chat.save(tmp_path / "parallel.lpchat"))["kv"]
    assert kv is not None and kv["n_tokens"] >= chat.last_turn().tokens.input
    provider.close()


def test_parallel_tool_calls_round_trips_and_older_files_load_without_it(tmp_path):
    path = Chat(Scripted(), parallel_tool_calls=False).save(tmp_path / "p.lpchat")
    assert header_of(path)["parallel_tool_calls"] is False
    assert Chat.load(path, Scripted()).parallel_tool_calls is False
    older = tmp_path / "older.lpchat"
    older.write_bytes(rewrite(path, lambda h: h.pop("parallel_tool_calls")))
    assert Chat.load(older, Scripted()).parallel_tool_calls is None
    older.write_bytes(rewrite(path, lambda h: h.update(parallel_tool_calls="yes")))
    with pytest.raises(StateError, match="parallel_tool_calls"):
        Chat.load(older, Scripted())


def test_every_content_type_and_setting_round_trips(tmp_path):
    class Odd:
        def __str__(self) -> str:
            return "odd value"

    turns = [
        Turn("user", [ContentText("Look up 7."), ContentText("Quickly.")]),
        Turn("assistant", [ContentThinking("I should call it."),
                           ContentToolRequest("c1", "secret_word", {"number": 7, "deep": {"x": [1, None]}})],
             tokens=TokenUsage(30, 12, 4), finish_reason="tool_calls"),
        Turn("user", [ContentToolResult("c1", {"word": "pineapple", "n": 1.5}, name="secret_word"),
                      ContentToolResult("c2", Odd(), name="secret_word"),
                      ContentToolResult("c3", float("nan"), name="secret_word"),
                      ContentToolResult("c4", error="it broke", name="secret_word")]),
        Turn("assistant", [ContentJson({"answer": "pineapple", "list": [1, 2.5, "é"]})],
             tokens=TokenUsage(50, 9, 30), finish_reason="eog"),
        Turn("assistant", [ContentText("partial")], finish_reason="cancelled"),
    ]
    settings = {"temperature": 0.3, "top_k": 5, "seed": 11, "stop": ["END", "STOP"], "max_tokens": 33,
                "logit_bias": {5: -math.inf, 7: 1.5}, "dry_multiplier": 0.5}
    chat = Chat(Scripted(), system_prompt="Be brief.", params=settings, tools=[secret_word],
                tool_choice="secret_word", max_tool_rounds=3, max_calls_per_round=2, turns=turns)
    path = chat.save(tmp_path / "all.lpchat")
    assert header_of(path)["kv"] is None and header_of(path)["tools"] == ["secret_word"]
    back = Chat.load(path, Scripted([Turn("assistant", ["done"])]), tools=[secret_word])
    got = back.get_turns()
    assert [(t.role, t.tokens, t.finish_reason) for t in got] == \
        [(t.role, t.tokens, t.finish_reason) for t in turns]
    results = got[2].tool_results
    # what the model is shown of each result stays the same (values that are not JSON data as text)
    assert [r.as_text() for r in results] == [r.as_text() for r in turns[2].tool_results]
    assert results[0].value == {"word": "pineapple", "n": 1.5} and results[3].error == "it broke"
    assert got[0].contents == turns[0].contents and got[1].contents == turns[1].contents
    assert got[3].contents == turns[3].contents and got[4].incomplete
    assert back.system_prompt == "Be brief." and back.params() == chat.params()
    assert back.tool_choice == "secret_word" and back.max_tool_rounds == 3
    assert back.max_calls_per_round == 2 and [t.name for t in back.get_tools()] == ["secret_word"]
    assert back.chat("go on") == "done"
    with pytest.raises(InvalidArgumentError, match="not JSON data"):
        Chat(Scripted(), turns=[Turn("assistant", [ContentJson({1, 2})])]).save(tmp_path / "bad.lpchat")


def test_tools_and_adapters_must_be_given_again(tmp_path, tiny_files):
    chat = Chat(Scripted(), tools=[secret_word, tool(lambda: 1, name="one", description="One.")])
    path = chat.save(tmp_path / "tools.lpchat")
    with pytest.raises(InvalidArgumentError, match=r"tools \['secret_word', 'one'\].*pass them again"):
        Chat.load(path, Scripted())
    with pytest.raises(InvalidArgumentError, match=r"tools \['one'\]"):
        Chat.load(path, Scripted(), tools=[secret_word])
    extra = tool(lambda: 2, name="two", description="Two.")
    assert len(Chat.load(path, Scripted(), tools=[extra, *chat.get_tools()]).get_tools()) == 3
    with load_model(tiny_files["model"]) as model:
        adapter = model.load_lora(tiny_files["lora"])
        provider = LlamaProvider(model, template=CHATML, n_ctx=256)
        adapted = Chat(provider, params={"temperature": 0, "max_tokens": 6}, lora={adapter: 0.5})
        adapted.chat("hello there")
        path = adapted.save(tmp_path / "lora.lpchat")
        header = header_of(path)
        assert header["kv"] is None  # a cache decoded with adapters is not saved
        assert [(d["name"], d["scale"]) for d in header["lora"]] == [("lora.gguf", 0.5)]
        with pytest.raises(InvalidArgumentError, match=r"LoRA adapters \['lora.gguf'\].*lora=\{\}"):
            Chat.load(path, provider)
        again = model.load_lora(tiny_files["lora"])  # another handle on the same file
        back = Chat.load(path, provider, lora={again: 0.5})
        assert back.params().lora == {again: 0.5}
        assert back.chat("and?") == adapted.chat("and?")
        assert Chat.load(path, provider, lora={}).params().lora == {}
        provider.close()


def test_damaged_foreign_and_other_model_files_raise_and_leave_the_provider_usable(
        model, saved, tmp_path, tiny_files):
    _, path = saved
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[16:24])
    end = 56 + n
    bad = {
        "empty": b"",
        "in-magic": raw[:10],
        "in-length": raw[:20],
        "in-header": raw[:end - 100],
        "no-kv": raw[:end],
        "half-kv": raw[:end + (len(raw) - end) // 2],
        "kv-but-a-byte": raw[:-1],
        "longer": raw + b"\x00",
        "header-flipped": raw[:end - 40] + bytes([raw[end - 40] ^ 1]) + raw[end - 39:],
        "kv-flipped": raw[:end + 5000] + bytes([raw[end + 5000] ^ 1]) + raw[end + 5001:],
        "foreign": b"GGUF" + os.urandom(4000),
        "json": json.dumps({"format": "llamaprov.chat"}).encode(),
        "version-2": rewrite(path, lambda h: h.update(version=2)),
        "bad-turn": rewrite(path, lambda h: h["turns"].append({"role": "robot", "contents": []})),
        "bad-content": rewrite(path, lambda h: h["turns"][0]["contents"].append({"type": "image"})),
        "bad-params": rewrite(path, lambda h: h["params"].update(temperature=-3)),
        "huge-kv": rewrite(path, lambda h: h["kv"].update(n_bytes=2**62)),
    }
    provider = LlamaProvider(model, n_ctx=1024)
    probe = Chat(provider, params=GREEDY)
    first = probe.chat("Say hi.")
    held = provider.context.memory.tokens(0)
    for name, blob in bad.items():
        (tmp_path / name).write_bytes(blob)
        with pytest.raises(StateError, match=name) as info:
            Chat.load(tmp_path / name, provider)
        assert str(tmp_path / name) in str(info.value), name
        assert provider.context.memory.tokens(0) == held, name  # the cache was not touched
    with pytest.raises(StateError, match="cannot read"):
        Chat.load(tmp_path / "missing.lpchat", provider)
    # a model of other metadata, and one of the same metadata with other weights
    with load_model(tiny_files["model"]) as tiny:
        mine = LlamaProvider(tiny, template=CHATML, n_ctx=512)
        Chat(mine, params={"temperature": 0, "max_tokens": 4}).chat("hello")
        own = mine.context.memory.tokens(0)
        with pytest.raises(StateError, match=rf"saved with the model '{model.path.name}'"):
            Chat.load(path, mine)
        relaxed = Chat.load(path, mine, allow_other_model=True)
        assert relaxed.get_turns() == Chat.load(path, Scripted()).get_turns()
        assert mine.context.memory.tokens(0) == own  # its own cache, not the file's
        assert relaxed.chat("And an animal?")
        usage = relaxed.last_turn().tokens
        assert usage.cached < usage.input // 4  # the prompt was read (but the template's opening)
        mine.close()
    with load_model(tiny_files["model"]) as tiny, load_model(tiny_files["twin"]) as twin:
        made = LlamaProvider(tiny, template=CHATML, n_ctx=512)
        chat = Chat(made, params={"temperature": 0, "max_tokens": 4})
        chat.chat("hello")
        twin_path = chat.save(tmp_path / "made.lpchat")
        assert header_of(twin_path)["kv"] is not None
        assert tiny.meta == twin.meta
        with pytest.raises(StateError, match=r"twin\.gguf"):
            Chat.load(twin_path, LlamaProvider(twin, template=CHATML, n_ctx=512))
        made.close()
    assert probe.chat("Say hi.") and first
    provider.close()


def test_save_is_atomic(saved, tmp_path, monkeypatch):
    original, _ = saved
    target = tmp_path / "chat.lpchat"
    target.write_bytes(b"the previous version")

    def broken(_fd: int) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", broken)
    with pytest.raises(OSError, match="disk full"):
        original.save(target)
    assert target.read_bytes() == b"the previous version"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["chat.lpchat"]  # no temporary left
    monkeypatch.undo()
    original.save(target)
    assert target.read_bytes().startswith(MAGIC)
    with pytest.raises(InvalidArgumentError, match="path"):
        original.save(42)  # type: ignore[arg-type]


def test_a_cache_the_provider_cannot_take_is_skipped_with_a_warning(tiny_files, tmp_path, monkeypatch):
    with load_model(tiny_files["model"]) as tiny:
        chat = Chat(LlamaProvider(tiny, template=CHATML, n_ctx=1024),
                    params={"temperature": 0, "max_tokens": 8})
        chat.chat("hello there " * 25)
        path = chat.save(tmp_path / "long.lpchat")
        assert header_of(path)["kv"]["n_tokens"] > 256
        small = LlamaProvider(tiny, template=CHATML, n_ctx=256)  # fewer cells than the cache holds
        adapted = LlamaProvider(tiny, template=CHATML, n_ctx=1024)
        adapted.context.apply_lora(tiny.load_lora(tiny_files["lora"]), 1.0)
        for provider in (small, adapted):
            with pytest.warns(RuntimeWarning, match="too small or has LoRA adapters"):
                loaded = Chat.load(path, provider)
            assert loaded.get_turns() == chat.get_turns() and provider.context.memory.tokens(0) == []
        refusing = LlamaProvider(tiny, template=CHATML, n_ctx=1024)

        def refuse(_path, _n):
            raise StateError("llama.cpp refused the data")

        monkeypatch.setattr(refusing, "_kv_import", refuse)
        with pytest.warns(RuntimeWarning, match="refused"):
            assert Chat.load(path, refusing).get_turns() == chat.get_turns()
        for provider in (chat.provider, small, adapted, refusing):
            provider.close()
