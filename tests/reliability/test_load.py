"""Load: repeated model and context lifecycles do not leak; many threads on one model neither
deadlock nor corrupt each other's answers.

Every test runs in a child process (a fresh interpreter, so RSS is this test's alone; a crash or
a deadlock fails the test instead of killing pytest; on a hang the child prints every thread's
stack). ``LLAMAPROV_LOAD_SCALE`` (default 1) scales the cycle and request counts.
"""

from __future__ import annotations

import os
import textwrap

import pytest

pytestmark = pytest.mark.load

SCALE = float(os.environ.get("LLAMAPROV_LOAD_SCALE", "1") or 1)

RSS_PRELUDE = """
import ctypes, faulthandler, gc, time
faulthandler.dump_traceback_later({hang}, exit=True)  # a hang prints every thread's stack
_libc = ctypes.CDLL("libc.so.6")


def rss_mb():
    \"\"\"Resident set size in MB, after a collection and returning freed heap to the OS (what
    is left is held, not fragmentation).\"\"\"
    gc.collect()
    _libc.malloc_trim(0)
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")
"""


def _rss_report(result) -> dict[str, float]:
    values = {}
    for line in result.lines:
        if line.startswith("RSS "):
            _, key, value = line.split()
            values[key] = float(value)
    return values


def test_model_load_close_cycles_do_not_leak(isolated):
    """200 loads and closes of the default model (each also tokenizes and makes a context, every
    twentieth generates): RSS after them within 20 MB of RSS after a warm-up."""
    n = max(10, int(200 * SCALE))
    result = isolated(RSS_PRELUDE.format(hang=400) + textwrap.dedent(f"""
        path = default_model_path()

        def cycle(i):
            m = load_model(path)
            m.tokenize("hello world")
            ctx = m.new_context(n_ctx=64, n_threads=1)
            if i % 20 == 0:
                ctx.generate("Hi", max_tokens=1, temperature=0)
            m.close()  # closes the context too

        for i in range(10):
            cycle(i)
        before = rss_mb()
        start = time.perf_counter()
        for i in range({n}):
            cycle(i)
        print("RSS before", before)
        print("RSS after", rss_mb())
        print("RSS seconds", time.perf_counter() - start)
    """), timeout=420)
    rss = _rss_report(result)
    growth = rss["after"] - rss["before"]
    print(f"{n} model cycles in {rss['seconds']:.1f} s; RSS {rss['before']:.1f} -> {rss['after']:.1f} MB")
    assert growth < 20, f"RSS grew {growth:.1f} MB over {n} model load/close cycles"


def test_context_create_close_cycles_do_not_leak(isolated):
    """1,000 contexts created and closed on one model (every fiftieth generates, every hundredth
    is an embeddings context): RSS after them within 20 MB of RSS after a warm-up."""
    n = max(50, int(1000 * SCALE))
    result = isolated(RSS_PRELUDE.format(hang=300) + textwrap.dedent(f"""
        m = load_model(default_model_path())

        def cycle(i):
            if i % 100 == 0:
                with m.new_context(n_ctx=128, embeddings=True, n_threads=1) as ctx:
                    ctx.embed(["a text", "another"])
                return
            ctx = m.new_context(n_ctx=256, n_seq_max=1 + i % 4, n_threads=1)
            if i % 50 == 0:
                ctx.generate("Hello", max_tokens=2, temperature=0)
            ctx.close()

        for i in range(50):
            cycle(i)
        before = rss_mb()
        start = time.perf_counter()
        for i in range({n}):
            cycle(i)
        print("RSS before", before)
        print("RSS after", rss_mb())
        print("RSS seconds", time.perf_counter() - start)
    """), timeout=300)
    rss = _rss_report(result)
    growth = rss["after"] - rss["before"]
    print(f"{n} context cycles in {rss['seconds']:.1f} s; RSS {rss['before']:.1f} -> {rss['after']:.1f} MB")
    assert growth < 20, f"RSS grew {growth:.1f} MB over {n} context create/close cycles"


def test_sixteen_threads_mixed_requests_on_one_model(isolated):
    """16 threads x 20 mixed requests (chat, stream, embeddings, structured output, queued
    parallel submit) on one model: every answer equals the one computed alone beforehand, and
    all of it finishes within the time limit (no deadlock)."""
    per_thread = max(4, int(20 * SCALE))
    result = isolated(RSS_PRELUDE.format(hang=280) + textwrap.dedent(f"""
        import threading, numpy as np
        from llamaprov.chat import ContentText, Turn

        M = load_model(default_model_path())
        PARAMS = {{"max_tokens": 6, "temperature": 0}}
        SCHEMA = {{"type": "boolean"}}
        # greedy answers whose top-2 logit margins stay above 0.4 for 6 tokens: batch-composition
        # rounding cannot flip them, so a different answer means requests mixed up
        PROMPTS = ["Name an ocean.", "Write the word apple.", "What is 2+2?", "Say yes or no."]
        # one thread per context: with more, ggml's threads spin-wait on each other when the
        # cores are shared, and every decode slows down many times
        EMBED = llamaprov.embed_llamaprov(M, n_threads=1)
        SHARED = llamaprov.LlamaProvider(M, n_ctx=1024, max_parallel=8, n_threads=1)  # queued submits

        def new_chat():
            return llamaprov.chat_llamaprov(M, n_ctx=512, params=PARAMS, n_threads=1)

        def run(kind, chat, i):
            prompt = PROMPTS[i % len(PROMPTS)]
            chat.set_turns([])
            if kind == "chat":
                return chat.chat(prompt)
            if kind == "stream":
                return "".join(chat.stream(prompt))
            if kind == "embed":
                return EMBED([prompt])[0]
            if kind == "structured":
                return chat.chat_structured(prompt, type=SCHEMA)
            if kind == "submit":
                turn = SHARED.submit([Turn("user", [ContentText(prompt)])], params=PARAMS).result(timeout=200)
                return turn.text
            raise AssertionError(kind)

        KINDS = ["chat", "stream", "embed", "structured", "submit"]
        t0 = time.perf_counter()
        solo = new_chat()
        expected = {{(k, i): run(k, solo, i) for k in KINDS for i in range(len(PROMPTS))}}
        print("REFERENCE seconds", round(time.perf_counter() - t0, 1))
        errors_seen, mismatches, done = [], [], [0]
        lock = threading.Lock()

        def worker(t):
            chat = new_chat()
            for j in range({per_thread}):
                kind, i = KINDS[(t + j) % len(KINDS)], (t * 7 + j) % len(PROMPTS)
                try:
                    got = run(kind, chat, i)
                except Exception as exc:
                    with lock:
                        errors_seen.append(f"{{kind}}: {{type(exc).__name__}}: {{exc}}")
                    continue
                want = expected[(kind, i)]
                same = np.allclose(got, want, atol=1e-4) if kind == "embed" else got == want
                with lock:
                    done[0] += 1
                    if not same:
                        mismatches.append(f"{{kind}} {{PROMPTS[i]!r}}: {{got!r}} != {{want!r}}"[:300])

        start = time.perf_counter()
        threads = [threading.Thread(target=worker, args=(t,)) for t in range(16)]
        for th in threads:
            th.start()
        for th in threads:
            th.join(timeout=240 - (time.perf_counter() - start))
        alive = sum(th.is_alive() for th in threads)
        print("THREADS seconds", round(time.perf_counter() - start, 1))
        print("DONE", done[0], "ALIVE", alive)
        for line in errors_seen[:20]:
            print("ERROR", line)
        for line in mismatches[:20]:
            print("MISMATCH", line)
        SHARED.close()
        os._exit(0 if alive == 0 else 3)  # a stuck thread must not keep the child alive
    """), timeout=300, expect_ok=False)
    lines = result.lines
    print("\n".join(lines))
    done = next((ln for ln in lines if ln.startswith("DONE")), None)
    assert done is not None, f"the child exited with {result.returncode}:\n{result.stderr[-4000:]}"
    assert result.returncode == 0, f"threads still running at the deadline (deadlock?):\n{done}\n" \
                                   f"{result.stderr[-4000:]}"
    problems = [ln for ln in lines if ln.startswith(("ERROR", "MISMATCH"))]
    assert not problems, "\n".join(problems)
    assert done == f"DONE {16 * per_thread} ALIVE 0"
