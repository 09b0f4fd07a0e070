"""Chat-layer robustness: a runaway model's tool calls are capped per round, an interrupted
tool round leaves a well-formed conversation, parsing any model output never raises, closing a
LoRA adapter that queued requests decode with and loading a forged chat file never crash."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from _stub_provider import StubProvider

from llamaprov.chat import (
    Chat,
    ContentText,
    ContentToolRequest,
    TokenUsage,
    ToolDef,
    Turn,
    TurnDone,
)
from llamaprov.chat.chat import DEFAULT_MAX_CALLS_PER_ROUND
from llamaprov.errors import InvalidArgumentError


class Scripted(StubProvider):
    """A provider that replies with prepared turns, as a plain iterator (no ``close``)."""

    def __init__(self, replies: Sequence[Turn]) -> None:
        self.replies = list(replies)
        self.prompts: list[list[Turn]] = []

    def stream_perform(self, turns: Sequence[Turn], *, tools: Sequence[ToolDef] = (), type: Any = None,
                       params: Any = None, tool_choice: str = "auto", parallel_tool_calls: bool | None = None,
                       max_tool_calls: int | None = None) -> Iterator[Any]:
        self.prompts.append(list(turns))
        return iter([TurnDone(self.replies.pop(0))])

    def value_turn(self, result: Any, *, tools: Sequence[ToolDef] = ()) -> Turn:
        return Turn("assistant", [str(result)])


def calls(n: int) -> Turn:
    requests = [ContentToolRequest(f"id{i}", "send", {"n": i}) for i in range(n)]
    return Turn("assistant", requests, finish_reason="tool_calls")


def test_tool_calls_per_round_are_capped():
    sent: list[int] = []

    def send(n: int) -> str:
        """Send message number n (a side effect)."""
        sent.append(n)
        return "sent"

    provider = Scripted([calls(20), Turn("assistant", ["done"], finish_reason="eog")])
    chat = Chat(provider, tools=[send], max_calls_per_round=5)
    seen = []
    chat.on_tool_request(seen.append)
    assert chat.chat("Send twenty messages.") == "done"
    assert sent == [0, 1, 2, 3, 4] and len(seen) == 5
    results = chat.get_turns()[2].tool_results
    assert len(results) == 20 and [r.request_id for r in results] == [f"id{i}" for i in range(20)]
    assert all(not r.is_error for r in results[:5])
    assert all(r.is_error and "max_calls_per_round=5" in r.error for r in results[5:])
    # the model is told, in the prompt of its next reply
    assert provider.prompts[1][-1].tool_results[5].error == results[5].error

    assert Chat(Scripted([])).max_calls_per_round == DEFAULT_MAX_CALLS_PER_ROUND == 16
    for bad in (0, -1, 2.5, True, "3"):
        with pytest.raises(InvalidArgumentError, match="max_calls_per_round"):
            Chat(Scripted([]), max_calls_per_round=bad)


def test_chat_llamaprov_takes_max_calls_per_round(model):
    from llamaprov.chat import chat_llamaprov

    assert chat_llamaprov(model, max_calls_per_round=3).max_calls_per_round == 3


def test_interrupted_tool_round_is_answered_and_marked():
    ran: list[int] = []

    def send(n: int) -> str:
        """Send message number n."""
        if n == 1:
            raise KeyboardInterrupt
        ran.append(n)
        return "sent"

    provider = Scripted([calls(3), Turn("assistant", ["fine"], finish_reason="eog")])
    chat = Chat(provider, tools=[send])
    with pytest.raises(KeyboardInterrupt):
        chat.chat("Send three messages.")
    user, request, results, partial = chat.get_turns()
    assert user.text == "Send three messages." and len(request.tool_requests) == 3
    assert [r.is_error for r in results.tool_results] == [False, True, True]
    assert "interrupted" in results.tool_results[1].error and ran == [0]
    assert partial.role == "assistant" and partial.incomplete and partial.contents == []
    # the conversation goes on from there
    assert chat.chat("Never mind.") == "fine" and len(chat.get_turns()) == 6


def test_engine_cancelled_reply_is_kept_without_its_tool_calls():
    # what ctx.abort() produces: a reply that ends with finish_reason "cancelled"
    cut = Turn("assistant", [ContentText("Let me "), ContentToolRequest("x", "send", {"n": 1})],
               tokens=TokenUsage(10, 3, 0), finish_reason="cancelled")
    chat = Chat(Scripted([cut]), tools=[ToolDef("send", "", {"type": "object"}, lambda **kw: 1)])
    assert chat.chat("Go.") == "Let me "
    last = chat.last_turn()
    assert last.incomplete and last.contents == [ContentText("Let me ")]
    assert last.tokens == TokenUsage(10, 3, 0)


# ---------------------------------------------------------------------- parsing model output
NASTY_OUTPUTS = [
    '<tool_call>{"name": "\\x"',  # an invalid escape in a name (json.loads raised)
    '<tool_call>{"name": "\\x", "arguments": {"city": "\\q"}}</tool_call>',
    '<tool_call>{"name": "get_weather", "arguments": {"city": "\\ud800"}}</tool_call>',
    '{"tool_call": {"name": "\\udc80", "arguments": {"k\\ud800": ["\\udfff"]}}}',
    '<tool_call>{"name": "get_weather", "arguments": {"city": "Par',  # truncated
    '<tool_call>{"name": "get_weather", "arguments": {"city": "Paris"}}</tool_call><tool_call>{',
    "[TOOL_CALLS]" + "[" * 100000,  # nested past the stack
    "<tool_call>" + '{"a":' * 3000,
    '{"tool_call": {"name": "add", "arguments": {"a": ' + "9" * 5000 + "}}}",  # past int digits
    '{"tool_call": {"name": "add", "arguments": {"a": 1e999999, "b": -1e999999, "c": NaN}}}',
    '<|python_tag|>{"name": "\\q", "parameters": {"x": "\\ud83d"}}',
    '{"name": "f", "parameters": ' + "[" * 5000 + "]" * 5000 + "}",
    '[TOOL_CALLS] [{"name": "f", "arguments": "{\\"a\\": \\"\\\\ud800\\"}"}]',
    '<think>\\ud800</think>{"tool_call": {"name": "add", "arguments": {}}}\x00',
]


@pytest.mark.parametrize("text", NASTY_OUTPUTS, ids=range(len(NASTY_OUTPUTS)))
def test_parsing_any_output_never_raises(text):
    from llamaprov.chat.formats import THINKING_TAGS, TOOL_FORMATS, make_parser, parse_output

    for fmt in [None, *(cls() for cls in TOOL_FORMATS.values())]:
        prefix = ">>>" if fmt is not None and fmt.name == "functionary" else ""
        contents, error = parse_output(text, fmt, tags=list(THINKING_TAGS), prefix=prefix)
        streamed = make_parser(fmt, list(THINKING_TAGS), prefix)
        pieces = [text[i:i + 7] for i in range(0, min(len(text), 3000), 7)] + [text[3000:]]
        for piece in pieces:  # the stream path, a few characters at a time
            streamed.feed(piece)
        _, streamed_contents = streamed.finish()
        for result in (contents, streamed_contents):
            # everything parsed can be rendered into the next prompt (UTF-8, no lone surrogates)
            json.dumps([repr(c) for c in result], ensure_ascii=False).encode("utf-8")
            for c in result:
                if isinstance(c, ContentToolRequest):
                    json.dumps([c.name, c.arguments], ensure_ascii=False).encode("utf-8")
        assert error is None or isinstance(error, str)


def test_bad_escape_in_a_tool_name_streams_and_parses():
    from llamaprov.chat.formats import HermesFormat, make_parser, parse_output

    text = '<tool_call>{"name": "get\\_weather", "arguments": {"city": "Paris"}}</tool_call>'
    parser = make_parser(HermesFormat(), [], "")
    events = [e for ch in text for e in parser.feed(ch)]
    final, contents = parser.finish()
    (request,) = [c for c in contents if isinstance(c, ContentToolRequest)]
    assert request.name == "get\\_weather" and request.arguments == {"city": "Paris"}
    assert any(type(e).__name__ == "ToolRequestStart" for e in events + final)
    contents, error = parse_output('<tool_call>{"name": "a", "arguments": {"x": "\\ud800"}}</tool_call>',
                                   HermesFormat())
    assert error is None and contents[0].arguments == {"x": "\ufffd" * 3}


# ---------------------------------------------------------------- LoRA adapters and chat files
_TESTS_DIR = str(Path(__file__).resolve().parent.parent)  # tests/, for _tiny_gguf

CLOSE_ADAPTER_WHILE_DECODING = """
import sys, tempfile, threading, pathlib
sys.path.insert(0, {tests!r})
from _tiny_gguf import write_tiny_llama, write_tiny_lora
from llamaprov.chat import LlamaProvider, Turn
from llamaprov.errors import ClosedError
d = pathlib.Path(tempfile.mkdtemp())
model = load_model(write_tiny_llama(d / "tiny.gguf")[0])
CHATML = ("{{% for m in messages %}}<|im_start|>{{{{ m['role'] }}}}\\n{{{{ m['content'] }}}}<|im_end|>\\n"
          "{{% endfor %}}<|im_start|>assistant\\n")
provider = LlamaProvider(model, template=CHATML, n_ctx=2048, max_parallel=4)
ok = failed = 0
for round in range(6):
    adapter = model.load_lora(write_tiny_lora(d / f"lora{{round}}.gguf", seed=round))
    futures = [provider.submit([Turn("user", [f"hello {{i}}"])],
                               params={{"temperature": 0, "max_tokens": 40,
                                       "lora": {{adapter: 1.0}} if i % 2 else {{}}}})
               for i in range(6)]
    closer = threading.Thread(target=adapter.close)
    closer.start()  # while the worker decodes with it
    for i, f in enumerate(futures):
        try:
            f.result(timeout=60)
            ok += 1
        except ClosedError:
            failed += 1
            assert i % 2, "a request without the adapter failed"
    closer.join()
print("DONE", ok, failed)
provider.close()
model.close()
"""


def test_closing_an_adapter_while_requests_decode_with_it_never_crashes(isolated):
    result = isolated(CLOSE_ADAPTER_WHILE_DECODING.format(tests=_TESTS_DIR), timeout=300)
    done = [ln for ln in result.lines if ln.startswith("DONE")]
    assert done, result.stderr[-3000:]
    _, ok, failed = done[0].split()
    assert int(ok) + int(failed) == 36 and int(ok) >= 18  # those without the adapter all finish


DAMAGED_CACHE = """
import hashlib, json, struct, sys, tempfile, warnings, pathlib
from llamaprov.chat import Chat, LlamaProvider
from llamaprov.chat._persist import MAGIC
model = load_model(default_model_path())
d = pathlib.Path(tempfile.mkdtemp())
chat = Chat(LlamaProvider(model, n_ctx=512), params={{"temperature": 0, "max_tokens": 8}})
chat.chat("Name a fruit.")
raw = chat.save(d / "chat.lpchat").read_bytes()
(n,) = struct.unpack("<Q", raw[16:24])
header, kv = json.loads(raw[56:56 + n]), raw[56 + n:]

def forged(blob, n_tokens=None):
    # a file whose checksums are right for damaged cache bytes: what a forger would write
    h = dict(header, kv=dict(header["kv"], n_bytes=len(blob), sha256=hashlib.sha256(blob).hexdigest()))
    if n_tokens is not None:
        h["kv"]["n_tokens"] = n_tokens
    data = json.dumps(h).encode()
    return MAGIC + struct.pack("<Q", len(data)) + hashlib.sha256(data).digest() + data + blob

cases = {{f"flip-{{k}}": kv[:k] + bytes([kv[k] ^ 0xFF]) + kv[k + 1:]
         for k in (0, 4, 8, 12, 20, 40, 200, 4000)}}
cases.update({{"cut-half": kv[:len(kv) // 2], "cut-header": kv[:16], "zeros": bytes(len(kv)),
               "ones": b"\\xff" * len(kv), "tokens-lie": kv, "tiny": kv[:64]}})
provider = LlamaProvider(model, n_ctx=512)
for name, blob in cases.items():
    (d / name).write_bytes(forged(blob, 3 if name == "tokens-lie" else None))
    try:
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            loaded = Chat.load(d / name, provider)
        print("LOADED" if not seen else "WARNED", name)
    except errors.LlamaProvError as exc:
        print("REFUSED", name, type(exc).__name__)
    # whatever happened, the provider answers
    assert Chat(provider, params={{"temperature": 0, "max_tokens": 4}}).chat("Say hi."), name
print("DONE")
"""


def test_a_forged_chat_file_with_a_damaged_cache_never_crashes(isolated):
    result = isolated(DAMAGED_CACHE.format(), timeout=300)
    assert "DONE" in result.lines, result.stderr[-3000:]
    outcomes = {ln.split()[1]: ln.split()[0] for ln in result.lines if ln != "DONE"}
    assert len(outcomes) == 14, result.stdout
    # cut or mislabelled cache data is never taken (a flipped byte inside the tensors may be)
    for name in ("cut-half", "cut-header", "tokens-lie", "tiny", "zeros", "ones", "flip-0", "flip-8"):
        assert outcomes[name] in ("WARNED", "REFUSED"), (name, result.stdout)
