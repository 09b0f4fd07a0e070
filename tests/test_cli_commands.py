"""The ``llamaprov`` subcommands added for issue #17: --version, ask from stdin / under a JSON
schema / under a GBNF grammar, embed --input/--output, rag ingest/ask, serve."""

from __future__ import annotations

import inspect
import io
import json
import re
import subprocess
import sys
import types

import jsonschema
import numpy as np
import pytest

import llamaprov
from llamaprov.cli import main

GREEDY = ["--temperature", "0", "--max-tokens"]


def _one_error_line(err: str) -> str:
    assert err.startswith("llamaprov: error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    return err


def test_version(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.strip() == f"llamaprov {llamaprov.__version__}"
    result = subprocess.run([sys.executable, "-m", "llamaprov.cli", "--version"], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0 and result.stdout.strip() == f"llamaprov {llamaprov.__version__}"


# ------------------------------------------------------------------------------ ask
def test_ask_reads_the_prompt_from_stdin(capsys, monkeypatch):
    prompt = "Name one planet of the solar system."
    assert main(["ask", prompt, *GREEDY, "12"]) == 0
    from_argument = capsys.readouterr().out
    monkeypatch.setattr(sys, "stdin", io.StringIO(prompt))
    assert main(["ask", "-", *GREEDY, "12"]) == 0
    assert capsys.readouterr().out == from_argument and from_argument.strip()
    monkeypatch.setattr(sys, "stdin", io.StringIO("  \n"))
    assert main(["ask", "-"]) == 1
    assert "empty" in _one_error_line(capsys.readouterr().err)


def test_ask_json_schema_answers_valid_json(tmp_path, capsys):
    schema = {
        "type": "object",
        "properties": {"name": {"type": "string", "maxLength": 40},
                       "age": {"type": "integer", "minimum": 0, "maximum": 150}},
        "required": ["name", "age"], "additionalProperties": False,
    }
    path = tmp_path / "person.json"
    path.write_text(json.dumps(schema))
    prompt = "Invent a person: a name and an age."
    assert main(["ask", prompt, "--json-schema", str(path), *GREEDY, "64"]) == 0
    value = json.loads(capsys.readouterr().out)
    jsonschema.validate(value, schema)


def test_ask_grammar_constrains_the_answer(tmp_path, capsys):
    path = tmp_path / "code.gbnf"
    path.write_text('root ::= "code-" [a-c] [a-c] [a-c] "!"\n')
    assert main(["ask", "Write a greeting.", "--grammar", str(path), *GREEDY, "16"]) == 0
    assert re.fullmatch(r"code-[a-c]{3}!\n", capsys.readouterr().out)


@pytest.mark.parametrize(("options", "contents", "message"), [
    (["--json-schema", "{file}"], "not json", "is not JSON"),
    (["--json-schema", "{file}"], "[1, 2]", "no JSON Schema object"),
    (["--json-schema", "{missing}"], "", "cannot read"),
    (["--grammar", "{file}"], "root ::= (", "GBNF"),
    (["--grammar", "{file}", "--json-schema", "{file}"], "", "not both"),
])
def test_ask_option_errors_are_one_line(tmp_path, capsys, options, contents, message):
    path = tmp_path / "f"
    path.write_text(contents)
    argv = [o.format(file=path, missing=tmp_path / "missing") for o in options]
    assert main(["ask", "hi", *argv, *GREEDY, "4"]) == 1
    assert message in _one_error_line(capsys.readouterr().err)


# ------------------------------------------------------------------------------ embed
def test_embed_reads_lines_and_writes_npy(tmp_path, capsys):
    source = tmp_path / "texts.txt"
    source.write_text("hello\n\nworld\na third line\n")
    target = tmp_path / "vectors.npy"
    assert main(["embed", "--input", str(source), "--output", str(target)]) == 0
    assert str(target) in capsys.readouterr().out
    vectors = np.load(target)
    assert vectors.shape == (3, 576) and vectors.dtype == np.float32
    assert main(["embed", "hello", "world", "a third line"]) == 0  # the JSON output of the same texts
    assert np.allclose(vectors, np.array(json.loads(capsys.readouterr().out)), atol=1e-5)


@pytest.mark.parametrize(("argv", "message"), [
    (["embed"], "nothing to embed"),
    (["embed", "x", "--input", "{src}"], "not both"),
    (["embed", "--input", "{empty}"], "holds no text"),
    (["embed", "--input", "{src}", "--output", "{dir}/v.txt"], ".npy"),
    (["embed", "--input", "{src}", "--output", "{dir}/no/such/v.npy"], "cannot write"),
])
def test_embed_errors_are_one_line(tmp_path, capsys, argv, message):
    (tmp_path / "src.txt").write_text("a\n")
    (tmp_path / "empty.txt").write_text("\n \n")
    argv = [a.format(src=tmp_path / "src.txt", empty=tmp_path / "empty.txt", dir=tmp_path) for a in argv]
    assert main(argv) == 1
    assert message in _one_error_line(capsys.readouterr().err)


# ------------------------------------------------------------------------------ rag
def test_rag_ingest_then_ask(tmp_path, capsys):
    docs = tmp_path / "docs"
    (docs / "sub").mkdir(parents=True)
    (docs / "mascot.md").write_text("# Mascot\n\nThe project's mascot is a purple llama named Provo.\n")
    (docs / "sub" / "install.html").write_text(
        "<html><title>Install</title><body><p>Install it with pip install llamaprov.</p></body></html>")
    (docs / "notes.txt").write_text("Releases happen every second Tuesday.\n")
    (docs / "script.py").write_text("print('not a document')\n")
    (docs / ".hidden.md").write_text("hidden\n")
    store = tmp_path / "docs.rag"
    assert main(["rag", "ingest", str(docs), "--store", str(store)]) == 0
    assert "added 3 documents; 3 documents" in capsys.readouterr().out
    assert main(["rag", "ingest", str(docs / "notes.txt"), "--store", str(store)]) == 0
    assert "added 1 documents; 4 documents" in capsys.readouterr().out

    assert main(["rag", "ask", str(store), "What is the name of the mascot?", "-k", "2", *GREEDY, "24"]) == 0
    out = capsys.readouterr().out
    sources = [line for line in out.splitlines() if re.match(r"\[\d\] ", line)]
    assert len(sources) == 2 and "mascot.md" in sources[0]
    assert out.split("[1] ")[0].strip()  # an answer came before the sources

    assert main(["rag", "ask", str(tmp_path / "none.rag"), "q"]) == 1
    assert "no such store" in _one_error_line(capsys.readouterr().err)
    assert main(["rag", "ingest", str(tmp_path / "nowhere"), "--store", str(store)]) == 1
    _one_error_line(capsys.readouterr().err)


# ------------------------------------------------------------------------------ serve
SERVE_DEFAULTS = {"host": "127.0.0.1", "port": 8000, "max_parallel": 4, "api_key": None, "n_ctx": None,
                  "n_gpu_layers": 0}


def test_serve_help(capsys):
    with pytest.raises(SystemExit) as info:
        main(["serve", "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for option in ("--host", "--port", "--max-parallel", "--api-key", "--n-ctx", "--n-gpu-layers"):
        assert option in out


def test_serve_without_the_server_module_is_one_line(capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "llamaprov.serve", None)  # import fails as for a missing module
    assert main(["serve"]) == 2
    assert "llamaprov.serve" in _one_error_line(capsys.readouterr().err)


@pytest.fixture
def fake_serve(monkeypatch):
    calls = []
    module = types.ModuleType("llamaprov.serve")

    def serve(model=None, **options):
        calls.append((model, options))

    module.serve = serve  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "llamaprov.serve", module)
    monkeypatch.delenv("LLAMAPROV_API_KEY", raising=False)
    return calls


def test_serve_passes_its_options(fake_serve, monkeypatch):
    assert main(["serve"]) == 0
    assert fake_serve[-1] == (None, SERVE_DEFAULTS)
    argv = ["serve", "owner/repo-GGUF", "--host", "0.0.0.0", "--port", "9001", "--max-parallel", "2",
            "--api-key", "sk-1", "--n-ctx", "2048", "--n-gpu-layers", "99"]
    assert main(argv) == 0
    assert fake_serve[-1] == ("owner/repo-GGUF", {"host": "0.0.0.0", "port": 9001, "max_parallel": 2,
                                                  "api_key": "sk-1", "n_ctx": 2048, "n_gpu_layers": 99})
    monkeypatch.setenv("LLAMAPROV_API_KEY", "from-env")
    assert main(["serve"]) == 0
    assert fake_serve[-1][1]["api_key"] == "from-env"


def test_serve_errors_are_one_line(monkeypatch, capsys):
    module = types.ModuleType("llamaprov.serve")

    def serve(model=None, **options):
        raise llamaprov.InvalidArgumentError("port must be in 1..65535, got 0")

    module.serve = serve  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "llamaprov.serve", module)
    assert main(["serve", "--port", "0"]) == 1
    assert "port must be" in _one_error_line(capsys.readouterr().err)


def test_serve_signature_matches_the_cli():
    """llamaprov.serve's serve() takes what the CLI passes."""
    from llamaprov.serve import serve

    params = inspect.signature(serve).parameters
    assert next(iter(params)) == "model" and params["model"].default is None
    for name, default in SERVE_DEFAULTS.items():
        assert params[name].kind is inspect.Parameter.KEYWORD_ONLY and params[name].default == default
