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
