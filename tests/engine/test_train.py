"""Fine-tuning (llamaprov.train.finetune) on a tiny random F32 llama model."""

from __future__ import annotations

import math
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

import llamaprov.train
from llamaprov import ClosedError, InvalidArgumentError, NotSupportedError, load_model
from llamaprov.engine import Model, quantize
from llamaprov.train import EpochResult, FinetuneResult, finetune

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _tiny_gguf import write_tiny_llama
from reliability.conftest import run_isolated

TEXT = "the quick brown fox jumps over the lazy dog. " * 40  # ~1440 tokens of the tiny vocabulary


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_llama(tmp_path_factory.mktemp("train") / "tiny-f32.gguf")[0]


@pytest.fixture
def model(tiny: Path):
    with load_model(tiny, use_mmap=False) as m:
        yield m


def mean_nll(model: Model, text: str, n: int = 300) -> float:
    """Mean negative log-likelihood (nats per token) of the first ``n`` tokens of ``text``."""
    tokens = model.tokenize(text)[:n]
    with model.new_context(n_ctx=512) as ctx:
        ctx.decode(tokens, logits_all=True)
        logits = np.stack([ctx.logits_ith(i) for i in range(len(tokens) - 1)]).astype(np.float64)
    top = logits.max(axis=1, keepdims=True)
    log_z = (top + np.log(np.exp(logits - top).sum(axis=1, keepdims=True)))[:, 0]
    return float(np.mean(log_z - logits[np.arange(len(tokens) - 1), tokens[1:]]))


def test_finetune_lowers_the_loss_and_the_saved_model_scores_the_text_better(tiny, model, tmp_path) -> None:
    before = mean_nll(model, TEXT)
    seen: list[EpochResult] = []
    result = llamaprov.train.finetune(model, TEXT, epochs=3, lr=1e-3, n_ctx=256, val_split=0.25,
                                      progress=False, callback=seen.append)
    assert isinstance(result, FinetuneResult)
    assert [e.epoch for e in result.epochs] == [1, 2, 3] and seen == result.epochs
    assert result.n_train_windows >= 1 and result.n_val_windows >= 1
    assert result.epochs[-1].val_loss is not None
    assert result.epochs[-1].val_loss < result.loss_before - 0.5
    assert result.loss_after == result.epochs[-1].val_loss
    assert result.epochs[-1].train_loss < result.epochs[0].train_loss
    assert all(math.isfinite(e.train_loss) and 0 <= e.train_accuracy <= 1 for e in result.epochs)
    assert "output.weight" in result.trained_tensors and "token_embd.weight" not in result.trained_tensors
    assert model.n_ctx_train == 512  # llama.cpp set it to the window while training; put back

    after = mean_nll(model, TEXT)  # the same model keeps working for inference
    assert after < before - 0.5
    model.save(tmp_path / "tuned.gguf")
    with load_model(tmp_path / "tuned.gguf") as tuned:
        assert tuned.n_ctx_train == 512
        assert mean_nll(tuned, TEXT) == pytest.approx(after, abs=1e-3)
    with load_model(tiny) as original:
        assert mean_nll(original, TEXT) == pytest.approx(before, abs=1e-3)


def test_token_input_no_validation_sgd_and_early_stop(model) -> None:
    tokens = model.tokenize(TEXT)
    result = finetune(model, [tokens[:700], tokens[700:]], epochs=3, lr=1e-2, optimizer="sgd",
                      val_split=0, batch_size=128, ubatch_size=64, shuffle=False, progress=False,
                      callback=lambda e: False)
    assert result.stopped_early and len(result.epochs) == 1
    assert result.n_val_windows == 0 and result.epochs[0].val_loss is None
    assert result.loss_after == result.epochs[0].train_loss


def test_param_filter_picks_tensors_and_its_errors_come_back(tiny) -> None:
    with load_model(tiny, use_mmap=False) as m:
        result = finetune(m, TEXT, epochs=1, lr=1e-3, progress=False,
                          param_filter=lambda name: name == "output.weight")
        assert result.trained_tensors == ("output.weight",)
        # a tensor an earlier run trained cannot be left out: llama.cpp keeps it marked
        with pytest.raises(NotSupportedError, match="earlier finetune"):
            finetune(m, TEXT, epochs=1, progress=False,
                     param_filter=lambda name: name == "blk.0.ffn_up.weight")
    with load_model(tiny, use_mmap=False) as m:
        with pytest.raises(InvalidArgumentError, match="selected no tensor"):
            finetune(m, TEXT, epochs=1, progress=False, param_filter=lambda name: False)

        def broken(name: str) -> bool:
            raise KeyError(name)

        with pytest.raises(KeyError):
            finetune(m, TEXT, epochs=1, progress=False, param_filter=broken)

        def stop(_record: EpochResult) -> None:
            raise RuntimeError("stop here")

        with pytest.raises(RuntimeError, match="stop here"):
            finetune(m, TEXT, epochs=2, progress=False, callback=stop)
        assert m.n_ctx_train == 512 and math.isfinite(mean_nll(m, TEXT))


def test_quantized_f16_and_mmapped_models_raise_clear_errors(tiny, tmp_path) -> None:
    q8 = quantize(tiny, tmp_path / "tiny-q8_0.gguf", "Q8_0", progress=False)
    with load_model(q8, use_mmap=False) as m, pytest.raises(NotSupportedError, match=r"all F32.*Q8_0"):
        finetune(m, TEXT, progress=False)
    f16 = write_tiny_llama(tmp_path / "tiny-f16.gguf", f16=True)[0]
    with load_model(f16, use_mmap=False) as m, pytest.raises(NotSupportedError, match="is F16"):
        finetune(m, TEXT, progress=False)
    with load_model(tiny) as m, pytest.raises(InvalidArgumentError, match="use_mmap=False"):
        finetune(m, TEXT, progress=False)
    with load_model(tiny, vocab_only=True) as m, pytest.raises(InvalidArgumentError, match="vocab_only"):
        finetune(m, TEXT, progress=False)
    m = load_model(tiny, use_mmap=False)
    m.close()
    with pytest.raises(ClosedError):
        finetune(m, TEXT, progress=False)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"epochs": 0}, "epochs"),
    ({"epochs": 1.5}, "epochs"),
    ({"lr": 0}, "lr"),
    ({"lr": -1e-3}, "lr"),
    ({"lr": float("nan")}, "lr"),
    ({"lr": 1e-50}, "lr"),  # zero as a float32: ggml asserts lr > 0
    ({"lr": 1e39}, "lr"),  # infinite as a float32
    ({"n_ctx": 100}, "multiple of 256"),
    ({"n_ctx": 0}, "n_ctx"),
    ({"n_ctx": 1024}, "too few"),
    ({"batch_size": 100}, "batch_size"),
    ({"batch_size": 0}, "batch_size"),
    ({"ubatch_size": 3}, "ubatch_size"),
    ({"val_split": 1.0}, "val_split"),
    ({"val_split": -0.1}, "val_split"),
    ({"val_split": 0.999}, "too few"),
    ({"stride": 0}, "stride"),
    ({"weight_decay": 2.0}, "weight_decay"),
    ({"optimizer": "adam"}, "optimizer"),
    ({"optimizer": ["sgd"]}, "optimizer"),
    ({"param_filter": "all"}, "param_filter"),
    ({"callback": 3}, "callback"),
    ({"progress": "yes"}, "progress"),
    ({"progress": np.array([1, 2])}, "progress"),
    ({"n_threads": 0}, "n_threads"),
])
def test_bad_arguments_raise_invalid_argument(model, kwargs, match) -> None:
    with pytest.raises(InvalidArgumentError, match=match):
        finetune(model, TEXT, **kwargs)


@pytest.mark.parametrize(("data", "match"), [
    ("", "too few"),
    ("short text", "too few"),
    ([], "non-empty"),
    (b"bytes", "text"),
    ([1, 2, 10**6], "not in the vocabulary"),
    ([[1, 2], "text"], "token"),
    (None, "text"),
])
def test_bad_data_raises_invalid_argument(model, data, match) -> None:
    with pytest.raises(InvalidArgumentError, match=match):
        finetune(model, data, progress=False)


def test_inputs_that_would_abort_llama_cpp_raise_in_a_child_process(tiny, tmp_path) -> None:
    # unchecked, each of these ends the process: a mapped model segfaults on the first optimizer
    # step, BF16 weights fail a scheduler assert, an n_ctx llama.cpp pads fails opt_init's assert
    result = run_isolated(f"""
        import llamaprov.train as T
        from llamaprov.engine import quantize
        text = {TEXT!r}
        mapped = load_model({str(tiny)!r})
        bf16 = load_model(quantize({str(tiny)!r}, {str(tmp_path / "bf16.gguf")!r}, "BF16", progress=False),
                          use_mmap=False)
        plain = load_model({str(tiny)!r}, use_mmap=False)
        report({{
            "mmap": lambda: T.finetune(mapped, text, epochs=1, progress=False),
            "bf16": lambda: T.finetune(bf16, text, epochs=1, progress=False),
            "n_ctx": lambda: T.finetune(plain, text, n_ctx=300, progress=False),
            "lr": lambda: T.finetune(plain, text, lr=1e-46, progress=False),
            "ok": lambda: T.finetune(plain, text, epochs=1, progress=False),
        }})
    """)
    assert result.lines[-5:] == ["mmap InvalidArgumentError", "bf16 NotSupportedError",
                                 "n_ctx InvalidArgumentError", "lr InvalidArgumentError", "ok accepted"]


def test_a_close_from_another_thread_waits_for_the_training(tiny) -> None:
    m = load_model(tiny, use_mmap=False)
    first_epoch = threading.Event()
    out: dict[str, object] = {}

    def train() -> None:
        out["result"] = finetune(m, TEXT, epochs=2, lr=1e-3, progress=False,
                                 callback=lambda _e: first_epoch.set())

    worker = threading.Thread(target=train)
    worker.start()
    assert first_epoch.wait(60)
    m.close()  # waits for the second epoch instead of freeing the weights under it
    worker.join(60)
    result = out["result"]
    assert isinstance(result, FinetuneResult) and len(result.epochs) == 2 and m.closed


def test_concurrent_and_nested_trainings_of_one_model_take_turns(model) -> None:
    # each training's window is read back from the model's n_ctx_train: run together, a 512-token
    # training would overrun the buffers of a 256-token one
    results: list[FinetuneResult] = []

    def train(n_ctx: int) -> None:
        results.append(finetune(model, TEXT, epochs=1, lr=1e-3, n_ctx=n_ctx, progress=False))

    workers = [threading.Thread(target=train, args=(n,)) for n in (256, 512)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(120)
    assert sorted(r.n_ctx for r in results) == [256, 512]
    nested = finetune(model, TEXT, epochs=1, progress=False,
                      callback=lambda _e: train(512))  # the same thread: no deadlock
    assert nested.epochs and results[-1].n_ctx == 512 and model.n_ctx_train == 512  # the original
