"""Context configuration, KV memory, batches, perf, and use from several threads."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from llamaprov import Batch, ContextError, InvalidArgumentError


def prompt(model, text):
    return model.apply_chat_template([{"role": "user", "content": text}])


def test_configuration(model):
    with model.new_context(n_ctx=512, n_batch=256, n_seq_max=2, n_threads=1) as ctx:
        assert ctx.n_ctx >= 512 and ctx.n_batch == 256 and ctx.n_seq_max == 2
        assert ctx.n_threads == 1
        ctx.set_threads(2, 2)
        assert (ctx.n_threads, ctx.n_threads_batch) == (2, 2)
        ctx.set_causal_attn(True)
        ctx.synchronize()
    for bad in ({"n_ctx": 0}, {"n_seq_max": 10**6}, {"pooling": "max"}, {"flash_attn": "x"},
                {"type_k": "q3"}, {"n_threads": -1}):
        with pytest.raises(InvalidArgumentError):
            model.new_context(**bad)


def test_decode_logits_and_memory(model):
    with model.new_context(n_ctx=256, n_seq_max=2) as ctx:
        tokens = model.tokenize("The capital of France is", add_special=False)
        ctx.decode(tokens)
        logits = ctx.logits()
        assert logits.shape == (len(model.vocab),) and np.isfinite(logits).all()
        assert ctx.memory.seq_pos_range(0) == (0, len(tokens) - 1)
        ctx.memory.seq_cp(0, 1)
        assert ctx.memory.seq_pos_range(1) == (0, len(tokens) - 1)
        assert ctx.memory.seq_rm(1, 2, -1)
        assert ctx.memory.seq_pos_range(1) == (0, 1)
        ctx.memory.seq_keep(0)
        assert ctx.memory.seq_pos_range(1) == (-1, -1)
        assert ctx.memory.can_shift
        ctx.memory.seq_add(0, 0, -1, 3)
        assert ctx.memory.seq_pos_range(0)[0] == 3
        ctx.memory.seq_div(0, 0, -1, 2)
        ctx.memory.clear()
        assert ctx.memory.seq_pos_range(0) == (-1, -1)
        with pytest.raises(InvalidArgumentError):
            ctx.memory.seq_rm(5)
        with pytest.raises(InvalidArgumentError):
            ctx.decode([])


def test_batch_and_decode_batch(model):
    tokens = model.tokenize("Hello there", add_special=False)
    with model.new_context(n_ctx=256) as ctx, Batch(16) as batch:
        for i, t in enumerate(tokens):
            batch.add(t, i, 0, logits=i == len(tokens) - 1)
        assert len(batch) == len(tokens)
        ctx.decode_batch(batch)
        assert np.isfinite(ctx.logits_ith(-1)).all()
        batch.clear()
        assert len(batch) == 0
        with pytest.raises(InvalidArgumentError):
            Batch(0)
        with pytest.raises(InvalidArgumentError):
            batch.add_embedding([0.0], 0)


def test_encode_on_decoder_only_model(model):
    with model.new_context(n_ctx=128) as ctx, pytest.raises(ContextError, match="no encoder"):
        ctx.encode(model.tokenize("hi"))


def test_perf_counters(model):
    with model.new_context(n_ctx=256) as ctx:
        ctx.perf_reset()
        ctx.generate("Hello", max_tokens=3, temperature=0)
        perf = ctx.perf()
        assert perf["n_p_eval"] >= 1 and perf["n_eval"] >= 1


def test_abort_callback(model):
    with model.new_context(n_ctx=256) as ctx:
        ctx.set_abort_callback(lambda: True)
        with pytest.raises(ContextError, match="aborted"):
            ctx.decode(model.tokenize("Hello"))
        # a generation stopped by the callback ends as cancelled, with nothing generated
        stopped = ctx.completion("Hello", max_tokens=3).result()
        assert stopped.finish_reason == "cancelled" and stopped.tokens == []
        ctx.set_abort_callback(None)
        assert ctx.generate("Hello", max_tokens=2, temperature=0) is not None


PROMPTS = ["Name a fruit.", "Name a color.", "Name an animal.", "Name a city."]


def _in_threads(work, items) -> dict:
    """Run work(item) in one thread per item; return {item: result}, re-raising any error."""
    results: dict = {}
    errors: list[BaseException] = []

    def run(item) -> None:
        try:
            results[item] = work(item)
        except BaseException as exc:  # pragma: no cover - re-raised below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(item,)) for item in items]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    if errors:
        raise errors[0]
    return results


def test_threads_with_separate_contexts(model):
    with model.new_context(n_ctx=512) as ctx:
        expected = {p: ctx.generate(prompt(model, p), max_tokens=8, temperature=0) for p in PROMPTS}

    def own_context(p: str) -> str:
        with model.new_context(n_ctx=512, n_threads=1) as own:
            return own.generate(prompt(model, p), max_tokens=8, temperature=0)

    assert _in_threads(own_context, PROMPTS) == expected


def test_threads_sharing_one_context(model):
    with model.new_context(n_ctx=512) as ctx:
        expected = {p: ctx.generate(prompt(model, p), max_tokens=8, temperature=0) for p in PROMPTS}

        def shared(p: str) -> str:
            return "".join(ctx.stream(prompt(model, p), max_tokens=8, temperature=0))

        assert _in_threads(shared, PROMPTS) == expected


def test_close_from_another_thread_waits_for_the_running_decode(model):
    # freeing a context under a running llama_decode used to crash the process
    from llamaprov import ClosedError

    ctx = model.new_context(n_ctx=512)
    started = threading.Event()
    outcome: list[object] = []

    def generate() -> None:
        try:
            for _ in ctx.stream(prompt(model, "Tell a long story."), max_tokens=400, temperature=0):
                started.set()
            outcome.append("finished")
        except ClosedError as exc:
            outcome.append(exc)
        finally:
            started.set()

    worker = threading.Thread(target=generate)
    worker.start()
    assert started.wait(60)
    ctx.close()
    worker.join(60)
    assert not worker.is_alive() and ctx.closed
    assert len(outcome) == 1 and isinstance(outcome[0], ClosedError), outcome


def _abort_latency(ctx, start) -> float:
    """Seconds from ctx.abort() (called once the job is under way) to the job's end."""
    import threading
    import time

    done: list[float] = []
    worker = threading.Thread(target=lambda: (start(), done.append(time.perf_counter())))
    worker.start()
    while not ctx._session.busy:
        time.sleep(0.005)
    time.sleep(0.2)
    t0 = time.perf_counter()
    ctx.abort()
    worker.join(30)
    assert done, "the job did not stop"
    return done[0] - t0


def test_abort_from_another_thread_stops_a_long_decode_and_a_generation(model):
    # The flag abort() sets is read by llama.cpp between the graph's operations, so even a
    # long prompt stops mid-decode. The bound is the 100 ms; the median of three runs
    # keeps one descheduled thread on a busy 2-core machine from failing it.
    with model.new_context(n_ctx=2048) as ctx:
        tokens = model.tokenize("word " * 1500)
        errors: list[Exception] = []

        def long_decode() -> None:
            try:
                ctx.decode(tokens)
            except ContextError as exc:
                errors.append(exc)

        def generation() -> None:
            no_end = {t: float("-inf") for t in model.vocab.eog_tokens()}
            c = ctx.completion("Tell me a long story.", max_tokens=1500, temperature=0, reuse_cache=False,
                               logit_bias=no_end)
            assert c.result().finish_reason == "cancelled"

        decode_latency = sorted(_abort_latency(ctx, long_decode) for _ in range(3))[1]
        assert len(errors) == 3 and all("aborted" in str(e) for e in errors)
        ctx.memory.clear()
        generate_latency = sorted(_abort_latency(ctx, generation) for _ in range(3))[1]
        assert decode_latency < 0.1 and generate_latency < 0.1, (decode_latency, generate_latency)
        # usable afterwards, and an abort with nothing running changes nothing
        ctx.abort()
        assert ctx.completion("Hello", max_tokens=3, temperature=0).result().finish_reason != "cancelled"
