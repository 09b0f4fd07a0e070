"""The ``llamaprov`` command line."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from llamaprov.cli import main

CLI = [sys.executable, "-m", "llamaprov.cli"]


def test_ask_streams_an_answer():
    result = subprocess.run([*CLI, "ask", "What is 2+2?", "--max-tokens", "16", "--temperature", "0"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() and result.stderr == ""


def test_chat_reads_stdin_and_handles_commands():
    script = "Hello!\n/system Answer in one word.\nName a color.\n/reset\n/exit\nnever reached\n"
    result = subprocess.run([*CLI, "chat", "--max-tokens", "12", "--temperature", "0"], input=script,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "(system prompt set" in result.stdout and "(conversation cleared)" in result.stdout


def test_info_prints_metadata(capsys, default_model_path):
    assert main(["info", str(default_model_path)]) == 0
    out = capsys.readouterr().out
    assert "n_embd" in out and "576" in out and "template" in out
    assert main(["info", "--meta", str(default_model_path)]) == 0
    assert "general.architecture" in capsys.readouterr().out


def test_embed_prints_json_vectors(capsys):
    assert main(["embed", "hello", "world"]) == 0
    vectors = json.loads(capsys.readouterr().out)
    assert len(vectors) == 2 and len(vectors[0]) == 576


@pytest.mark.parametrize("argv", [["info", "/no/such/model.gguf"], ["ask", "hi", "--model", "/no/such.gguf"]])
def test_errors_are_one_line(argv, capsys):
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith("llamaprov: error:") and err.count("\n") == 1 and "Traceback" not in err


def test_bad_usage_exits_nonzero():
    with pytest.raises(SystemExit) as info:
        main(["no-such-command"])
    assert info.value.code == 2


def test_hf_options_go_to_the_model_resolver(capsys, monkeypatch, default_model_path):
    from llamaprov import hub
    from llamaprov.engine import load_model

    asked = []

    def fake_hub(repo_id, **options):  # no network: the default model stands in
        asked.append((repo_id, options))
        return load_model(default_model_path)

    monkeypatch.setattr(hub, "load_model_hf", fake_hub)
    assert main(["info", "--hf", "owner/repo-GGUF", "--quant", "Q8_0", "--revision", "v1"]) == 0
    # stderr is no terminal here: no download bar
    assert asked == [("owner/repo-GGUF", {"quant": "Q8_0", "revision": "v1", "progress": False})]
    assert "n_embd" in capsys.readouterr().out
    assert main(["embed", "hi", "--hf", "owner/repo-GGUF", "--hf-file", "m.gguf"]) == 0
    assert asked[-1] == ("owner/repo-GGUF", {"filename": "m.gguf", "progress": False})
    assert len(json.loads(capsys.readouterr().out)[0]) == 576


@pytest.mark.parametrize("argv", [["info", "--hf", "not-a-repo-id"],
                                  ["info", "model.gguf", "--hf", "owner/repo"]])
def test_bad_hf_use_is_one_line(argv, capsys, monkeypatch):
    from llamaprov import hub

    monkeypatch.setattr(hub, "load_model_hf", lambda *a, **k: pytest.fail("nothing is downloaded"))
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith("llamaprov: error:") and err.count("\n") == 1


def test_quantize_writes_a_smaller_model_and_names_it(tmp_path, capsys):
    sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))
    from _tiny_gguf import write_tiny_llama

    src = write_tiny_llama(tmp_path / "tiny-f32.gguf", n_embd=256, n_ff=512, n_head=4, n_head_kv=2)[0]
    dst = tmp_path / "tiny-q8.gguf"
    assert main(["quantize", str(src), str(dst), "q8_0"]) == 0
    out = capsys.readouterr().out
    assert str(dst) in out and "Q8_0" in out
    assert 0 < dst.stat().st_size < 0.6 * src.stat().st_size
    assert main(["quantize", str(src), str(tmp_path / "x.gguf"), "Q9_9"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("llamaprov: error: unknown quantization type") and err.count("\n") == 1
    assert not (tmp_path / "x.gguf").exists()
