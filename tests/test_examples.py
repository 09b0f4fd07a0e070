"""Every script in examples/ runs as a user runs it: ``python examples/NAME.py [args]`` in a child
process, on the default model unless the example needs a file of its own (a tiny model, adapter
or a local fake Hub, made here). Each run is checked on what the script prints, from a fresh
working directory that must stay empty (examples write only into temporary folders).

Examples are found by globbing examples/*.py; one without an entry in CASES must still run
with no arguments and print something.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
for _p in (ROOT / "tests", ROOT / "tests" / "hub"):
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

from _tiny_gguf import write_tiny_llama, write_tiny_lora  # noqa: E402

# SmolLM2-135M's shape, so a random adapter made here fits the default model
SMOL_N_EMBD, SMOL_N_LAYER = 576, 30


@dataclass
class Files:
    """What the examples get on their command line: tiny models, an adapter, a fake Hub."""

    tiny_f32: Path
    smol_lora: Path
    hub_endpoint: str
    hub_repo: str


@dataclass
class Case:
    """How one example is run and checked: ``args``/``env`` from the files, ``check`` on stdout."""

    check: Callable[[str, Files], None]
    args: Callable[[Files], list[str]] = lambda f: []
    env: Callable[[Files], dict[str, str]] = lambda f: {}
    timeout: float = 300


def _value(out: str, label: str) -> str:
    """The rest of the first line starting with ``label``."""
    match = re.search(rf"^{re.escape(label)}\s*(.*)$", out, re.M)
    assert match, f"no line starting with {label!r} in:\n{out}"
    return match.group(1)


def _ints(text: str) -> dict[str, int]:
    return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", text)}


# ----------------------------------------------------------------------------- checks
def check_chat_basics(out: str, files: Files) -> None:
    replies = re.findall(r"^assistant: (.+)$", out, re.M)
    assert len(replies) == 2 and all(r.strip() for r in replies)
    assert "Paris" in replies[0]
    roles = re.findall(r"^\[(user|assistant)\] ", out, re.M)
    assert roles == ["user", "assistant", "user", "assistant"]
    first, second = _ints(_value(out, "reply 1:")), _ints(_value(out, "reply 2:"))
    total = _ints(_value(out, "total:"))
    assert total == {k: first[k] + second[k] for k in total}
    # the second prompt holds the first exchange, whose tokens come from the KV cache
    assert second["input"] > first["input"] and second["cached"] > 0 and first["output"] > 0


def check_streaming(out: str, files: Files) -> None:
    assert int(_value(out, "pieces:")) > 1
    assert _value(out, "joined equals the stored reply:") == "True"
    assert _value(out, "deltas joined equal the final turn:") == "True"
    events = _value(out, "events:")
    n_deltas, n_tokens = int(events.split()[0]), int(events.rsplit("=", 1)[1])
    assert 1 < n_deltas <= n_tokens


def check_reasoning(out: str, files: Files) -> None:
    assert out.startswith("reasoning family: None")  # the default model does not think
    assert "reasoning='on' refused: reasoning='on' needs a model that thinks" in out
    assert "reasoning family: qwen3" in out  # the lent template
    found = re.findall(r"thinking \((\d+) pieces, budget (\d+)\)", out)
    pieces, budget = [int(n) for n, _ in found], int(found[1][1])
    # no thinking without a thinking template, some (within the budget) with it, none when off
    assert pieces[0] == 0 and 0 < pieces[1] <= budget and pieces[2] == 0
    assert out.count("turn.thinking == streamed thinking: True") == 3
    assert out.count("turn.text == streamed answer: True") == 3
    answers = re.findall(r"answer: '(.*)'", out)
    assert len(answers) == 3 and all(answers)


def check_langchain_chain(out: str, files: Files) -> None:
    assert "Paris" in _value(out, "invoke:")
    assert re.search(r"^stream: \d+ pieces, joined equals invoke: True$", out, re.M)
    assert "Rome" in _value(out, "batch: Italy ->") and "Tokyo" in _value(out, "batch: Japan ->")


def check_rag_folder(out: str, files: Files) -> None:
    assert "indexed 3 documents from notes/" in out
    hits = re.findall(r"^hit (\S+): (.*)$", out, re.M)
    assert hits[0][0] == "library.md" and hits[0][1].startswith("Opening hours:")
    call = _value(out, "[call] search_documents(")
    assert call.startswith("{'query': '")
    result = out.split("[result]", 1)[1]
    # the passages come back with their source files, from the temporary folder
    assert "<tmp>/notes/" in result and "11:30" in result


def check_hub_download(out: str, files: Files) -> None:
    assert _value(out, "endpoint:") == files.hub_endpoint
    listed = re.findall(r"^  (\S+\.gguf): (\S+), ", out, re.M)
    assert sorted(listed) == [("m-Q4_0.gguf", "Q4_0"), ("m-Q4_K_M.gguf", "Q4_K_M"),
                              ("m-Q4_K_S.gguf", "Q4_K_S")]
    assert _value(out, "downloaded:") == "m-Q4_K_M.gguf"  # the preferred quantization
    assert _value(out, "second call, same cached file:") == "True"
    assert "model: llama" in out and "parameters" in out


CAPITALS = {"France": "Paris", "Italy": "Rome", "Japan": "Tokyo"}


def check_parallel_chat(out: str, files: Files) -> None:
    # batched decoding is not bit-identical to decoding alone, so a reply may drift; but each
    # answers its own prompt, in order, and names no other prompt's country or capital
    for how in ("parallel_chat", "submit"):
        replies = dict(re.findall(rf"^{how} (\w+): (.+)$", out, re.M))
        assert list(replies) == list(CAPITALS), out
        for country, reply in replies.items():
            assert country in reply or CAPITALS[country] in reply, (how, replies)
            others = [w for c, city in CAPITALS.items() if c != country for w in (c, city)]
            assert not any(w in reply for w in others), (how, replies)
    assert all(int(n) > 0 for n in re.findall(r"\[(?:eog|length), (\d+) tokens\]", out))
    assert len(re.findall(r"^submit \w+: .+ \[(?:eog|length), \d+ tokens\]$", out, re.M)) == 3
    assert _value(out, "chat turns after parallel_chat:") == "0"


def check_lora(out: str, files: Files) -> None:
    base, tuned, off = (_value(out, f"{label}:") for label in ("base", "lora 1.0", "lora 0.0"))
    assert off == base != tuned  # scale 0 is no adapter; the adapter changes the reply
    assert _value(out, "chat with lora:") == tuned


def check_quantize(out: str, files: Files) -> None:
    line = re.compile(r"^(source|quantized): (\S+): (.*), (\d+) bytes; continues '(.*)'$", re.M)
    found = {m[0]: m[1:] for m in line.findall(out)}
    (_, _, source_size, _), (name, desc, size, text) = found["source"], found["quantized"]
    assert name.endswith("-Q8_0.gguf") and "Q8_0" in desc
    assert int(size) < 0.6 * int(source_size)  # F32 -> ~8.5 bits a weight
    assert text  # the quantized file loads and generates
    assert float(_value(out, "size ratio:")) == pytest.approx(int(size) / int(source_size), abs=0.01)


def check_finetune(out: str, files: Files) -> None:
    epochs = re.findall(r"^epoch (\d+): train loss ([\d.]+), validation loss ([\d.]+)$", out, re.M)
    assert [e[0] for e in epochs] == ["1", "2"]
    before, after = float(_value(out, "loss before:")), float(_value(out, "loss after:"))
    assert after < before - 0.5 and after == float(epochs[-1][2])
    assert _value(out, "saved and reloaded; it continues:")


def check_tools(out: str, files: Files) -> None:
    assert "[call] secret_word({'number': 7})" in out
    assert "[result] pineapple" in out
    assert "tokens used: TokenUsage(" in out


def check_structured(out: str, files: Files) -> None:
    lines = out.splitlines()
    assert re.match(r"name='Rex' kind=<Kind\.dog: 'dog'> age=\d+", lines[0])
    assert re.match(r"\{'age': \d+\}$", lines[1])
    # the two decoded together: Pets that validated, not asserted word for word
    for line in lines[2:4]:
        assert re.match(r"name='.{1,16}' kind=<Kind\.(cat|dog|bird): '\w+'> age=(\d+|None)$", line), line


def check_langchain_structured(out: str, files: Files) -> None:
    # batched, so not asserted word for word: two Contacts that validated against the schema
    contacts = re.findall(r"^Contact\(name='(.+)', email='(.+)', age=(\d+)\)$", out, re.M)
    assert len(contacts) == 2 and all("@" in email for _, email, _ in contacts), out


def check_langchain_agent(out: str, files: Files) -> None:
    assert "ToolMessage: 18 °C in Paris" in out and "ToolMessage: 42" in out
    assert "'name': 'get_temperature'" in out and "'name': 'add'" in out


def check_prints_something(out: str, files: Files) -> None:
    assert out.strip()


CASES: dict[str, Case] = {
    "chat_basics": Case(check_chat_basics),
    "streaming": Case(check_streaming),
    "reasoning": Case(check_reasoning),
    "langchain_chain": Case(check_langchain_chain),
    "rag_folder": Case(check_rag_folder),
    "hub_download": Case(check_hub_download,
                         args=lambda f: [f.hub_repo, "--endpoint", f.hub_endpoint],
                         # nothing may reach the real Hub, whatever the script does with argv
                         env=lambda f: {"HF_ENDPOINT": f.hub_endpoint}),
    "parallel_chat": Case(check_parallel_chat),
    "lora": Case(check_lora, args=lambda f: [str(f.smol_lora)]),
    "quantize": Case(check_quantize, args=lambda f: [str(f.tiny_f32), "Q8_0"]),
    "finetune": Case(check_finetune, args=lambda f: [str(f.tiny_f32)]),
    "tools": Case(check_tools),
    "structured": Case(check_structured),
    "langchain_structured": Case(check_langchain_structured),
    "langchain_agent": Case(check_langchain_agent),
    # written apart (the OpenAI-compatible server); runs with the generic check once present
    "serve_openai": Case(check_prints_something),
}
NAMES = sorted({p.stem for p in EXAMPLES.glob("*.py")} | set(CASES))


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Files]:
    from _server import KQUANT_REPO, FakeHub, build_test_repos

    d = tmp_path_factory.mktemp("example-files")
    tiny = write_tiny_llama(d / "tiny-f32.gguf", n_embd=256, n_ff=512)[0]  # 256 wide for K-quants
    lora = write_tiny_lora(d / "smol-lora.gguf", n_embd=SMOL_N_EMBD, n_layer=SMOL_N_LAYER,
                           targets=("attn_q",), seed=3)
    (d / "hub").mkdir()
    build_test_repos(d / "hub")
    hub = FakeHub(d / "hub").start()
    try:
        yield Files(tiny_f32=tiny, smol_lora=lora, hub_endpoint=hub.endpoint, hub_repo=KQUANT_REPO)
    finally:
        hub.stop()


def run_example(name: str, args: list[str], env: dict[str, str], cwd: Path, timeout: float) -> str:
    """``python examples/<name>.py args`` in ``cwd``; its stdout (it must exit 0)."""
    full_env = {**os.environ, **env}
    full_env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    proc = subprocess.run([sys.executable, str(EXAMPLES / f"{name}.py"), *args], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, (
        f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr[-4000:]}")
    return proc.stdout


@pytest.mark.parametrize("name", NAMES)
def test_example_runs_and_prints_what_it_shows(name: str, files: Files, tmp_path: Path) -> None:
    case = CASES.get(name, Case(check_prints_something))
    work, temp, hf = tmp_path / "cwd", tmp_path / "tmp", tmp_path / "hf"
    for d in (work, temp, hf):
        d.mkdir()
    env = {
        "TMPDIR": str(temp),  # temporary folders of the example: all removed at its end
        "HF_HOME": str(hf), "HF_HUB_CACHE": str(hf / "hub"),
        "HF_HUB_OFFLINE": "1",  # only the Hub example, below, reaches a (local) Hub
        "HF_HUB_DISABLE_TELEMETRY": "1", "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    }
    case_env = case.env(files)
    if "HF_ENDPOINT" in case_env:
        env["HF_HUB_OFFLINE"] = "0"
    env.update(case_env)
    out = run_example(name, case.args(files), env, work, case.timeout)
    case.check(out, files)
    assert list(work.iterdir()) == [] and list(temp.iterdir()) == []


def test_the_readme_lists_every_example() -> None:
    readme = (EXAMPLES / "README.md").read_text(encoding="utf-8")
    listed = set(re.findall(r"`(\w+)\.py`", readme))
    assert {p.stem for p in EXAMPLES.glob("*.py")} <= listed
