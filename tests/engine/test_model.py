"""Loading models, metadata, vocabulary, tokenization, lifetime."""

from __future__ import annotations

import gc
import shutil
import subprocess
import sys

import pytest

import llamaprov
from llamaprov import (
    ClosedError,
    InvalidArgumentError,
    ModelLoadError,
    ModelNotFoundError,
    load_model,
)


def test_default_model_path_points_at_gguf(default_model_path):
    assert default_model_path.suffix == ".gguf"
    assert default_model_path.read_bytes()[:4] == b"GGUF"


@pytest.mark.parametrize("kind", ["missing", "directory", "not_gguf", "truncated", "header_only", "empty"])
def test_bad_model_files_raise_model_load_error(tmp_path, default_model_path, kind):
    path = tmp_path / f"{kind}.gguf"
    if kind == "directory":
        path.mkdir()
    elif kind == "not_gguf":
        path.write_text("this is not a model")
    elif kind == "truncated":
        path.write_bytes(default_model_path.read_bytes()[:5_000_000])
    elif kind == "header_only":
        path.write_bytes(default_model_path.read_bytes()[:100])
    elif kind == "empty":
        path.write_bytes(b"")
    with pytest.raises(ModelLoadError) as info:
        load_model(path)
    assert str(path) in str(info.value)
    if kind == "missing":
        assert isinstance(info.value, ModelNotFoundError)


def test_load_model_rejects_bad_arguments(default_model_path):
    with pytest.raises(InvalidArgumentError):
        load_model(42)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match="n_gpu_layers"):
        load_model(default_model_path, n_gpu_layers="all")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match="split_mode"):
        load_model(default_model_path, split_mode="diagonal")
    with pytest.raises(InvalidArgumentError, match="device"):
        load_model(default_model_path, devices=["NoSuchGPU"])


def test_model_info_and_meta(model):
    info = model.info()
    assert (info.n_embd, info.n_layer, info.n_head, info.n_head_kv) == (576, 30, 9, 3)
    assert info.n_vocab == len(model.vocab) == 49152
    assert info.n_ctx_train == 8192 and info.has_decoder and not info.has_encoder
    assert info.n_params > 100_000_000 and info.size > 0
    meta = model.meta
    assert meta["general.architecture"] == "llama"
    assert model.meta_get("general.architecture") == "llama"
    assert model.meta_get("no.such.key", "x") == "x"
    with pytest.raises(InvalidArgumentError):
        model.meta_get(3)  # type: ignore[arg-type]


def test_vocab_info(model):
    info = model.vocab.info()
    assert (info["bos"], info["eos"], info["type"]) == (1, 2, "BPE")
    assert info["add_bos"] is False
    assert model.vocab.is_eog(2)
    assert not model.vocab.is_eog(100)
    assert model.vocab.text(1) == "<|im_start|>"
    assert model.vocab.is_control(1)
    with pytest.raises(InvalidArgumentError):
        model.vocab.text(10**6)


def test_tokenize_roundtrip(model):
    text = "Hello, world! Ünïcödé 🎉 漢字"
    tokens = model.tokenize(text, add_special=False)
    assert tokens and all(isinstance(t, int) for t in tokens)
    assert model.detokenize(tokens) == text
    pieces = [model.token_to_piece(t) for t in model.tokenize("plain words", add_special=False)]
    assert "".join(pieces) == "plain words"
    special = model.tokenize("<|im_start|>user", add_special=False, parse_special=True)
    assert special[0] == 1
    assert model.tokenize("<|im_start|>", add_special=False, parse_special=False) != [1]
    assert model.token_to_piece(1, special=True) == "<|im_start|>"
    assert model.token_to_piece(1) == ""
    with pytest.raises(InvalidArgumentError):
        model.tokenize(b"bytes")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError):
        model.detokenize([-1])


def test_long_text_tokenizes(model):
    text = "word " * 5000
    assert len(model.tokenize(text, add_special=False)) >= 5000


def test_close_and_closed_error(default_model_path):
    m = load_model(default_model_path)
    ctx = m.new_context(n_ctx=256)
    with m:
        assert m.tokenize("hi")
    assert m.closed and ctx.closed
    m.close()  # twice is fine
    with pytest.raises(ClosedError):
        m.tokenize("hi")
    with pytest.raises(ClosedError):
        m.info()
    with pytest.raises(ClosedError):
        ctx.generate("hi", max_tokens=2)
    with pytest.raises(ClosedError), m:
        pass


def test_finalizer_frees_without_close(default_model_path):
    m = load_model(default_model_path)
    ctx = m.new_context(n_ctx=256)
    finalizer = m._finalizer
    del m, ctx
    gc.collect()
    assert not finalizer.alive


def test_vocab_only_model(default_model_path):
    with load_model(default_model_path, vocab_only=True) as m:
        assert m.tokenize("hello", add_special=False)
        with pytest.raises(InvalidArgumentError, match="vocab_only"):
            m.new_context()
        with pytest.raises(InvalidArgumentError, match="vocab_only"):
            m.info()


def test_save_roundtrip(tmp_path, model):
    target = tmp_path / "copy.gguf"
    model.save(target)
    with load_model(target) as copy:
        assert copy.info().n_params == model.info().n_params
        assert copy.tokenize("abc") == model.tokenize("abc")


def test_import_and_load_print_nothing(default_model_path):
    code = (
        "import llamaprov\n"
        f"m = llamaprov.load_model({str(default_model_path)!r})\n"
        "ctx = m.new_context(n_ctx=256)\n"
        "ctx.generate('Hi', max_tokens=2, temperature=0)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "" and result.stderr == ""


def test_verbosity_routes_to_logging(default_model_path, caplog):
    assert llamaprov.get_verbosity() == "none"
    llamaprov.set_verbosity("info")
    try:
        with caplog.at_level("INFO", logger="llamaprov.llama_cpp"):
            load_model(default_model_path).close()
        assert any("llama" in r.getMessage() for r in caplog.records)
    finally:
        llamaprov.set_verbosity("none")
    with pytest.raises(InvalidArgumentError):
        llamaprov.set_verbosity("loud")


def test_backend_facts():
    devices = llamaprov.backend_devices()
    assert devices and devices[0].type == "cpu" and devices[0].memory_total > 0
    assert isinstance(llamaprov.supports_gpu(), bool)
    assert llamaprov.supports_mmap() is True
    assert isinstance(llamaprov.supports_mlock(), bool)
    assert isinstance(llamaprov.supports_rpc(), bool)
    assert llamaprov.max_devices() >= 1
    assert llamaprov.max_parallel_sequences() >= 64
    assert llamaprov.max_tensor_buft_overrides() >= 1
    assert "CPU" in llamaprov.system_info()
    t0 = llamaprov.time_us()
    assert llamaprov.time_us() >= t0 > 0
    llamaprov.numa_init("disabled")
    with pytest.raises(InvalidArgumentError):
        llamaprov.numa_init("sideways")


def test_load_on_named_cpu_device(default_model_path):
    with load_model(default_model_path, devices=["CPU"]) as m:
        assert m.new_context(n_ctx=128).generate("Hi", max_tokens=2, temperature=0) is not None


def test_split_and_copy_paths(tmp_path, default_model_path):
    copy = tmp_path / "model.gguf"
    shutil.copy(default_model_path, copy)
    with load_model([copy]) as m:
        assert m.path == copy
