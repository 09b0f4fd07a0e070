"""Stateful fuzzing of one context: parallel sequences, KV-cache edits and generations interleaved.

A hypothesis state machine (in a child process, see ``run_fuzz`` in conftest.py) drives a
context with several sequences through random sequences of operations: submitting generations to
schedulers, stepping them, iterating and closing completions, editing the KV cache (remove, copy,
keep, shift, clear), decoding tokens directly and starting a plain generation on the same context
(which cancels whatever the same thread left running there). Any signal, hang or non-llamaprov
exception fails the test with the steps that led to it.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.fuzz


def test_fuzz_scheduler_and_kv_cache(fuzz):
    fuzz("""
        from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule
        from llamaprov.engine import SamplingParams

        N_SEQ = 4
        CTX = MODEL.new_context(n_ctx=512, n_batch=32, n_seq_max=N_SEQ, n_threads=1)
        TEXTS = ["Hi", "Tell me a story about a cat.", "The capital of France is",
                 "1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22",
                 "A long prompt: " + "word " * 150, "\\n\\n", "<|im_start|>user\\nHi<|im_end|>"]
        LONG = MODEL.tokenize("x " * 600)  # longer than a sequence can hold
        seqs = st.none() | st.integers(-1, N_SEQ)
        positions = st.sampled_from([-1, 0, 1, 5, 10, 50, 511, 512, 10**6])
        steps = []  # the operations so far, printed with a finding

        class Machine(RuleBasedStateMachine):
            def __init__(self):
                super().__init__()
                self.scheds = []
                self.completions = []

            def log(self, what):
                steps.append(what)
                current(steps=list(steps[-25:]))

            @initialize()
            def fresh(self):
                steps.clear()
                self.log("memory.clear()")
                check("memory.clear", CTX.memory.clear)
                self.scheds = [CTX.scheduler()]

            @rule(text=st.sampled_from(TEXTS) | st.just(None), max_tokens=st.integers(1, 12),
                  seq=seqs, temperature=st.sampled_from([0.0, 0.8]), reuse=st.booleans(),
                  stop=st.sampled_from([None, ["."], [" the", "\\n"], ["a"]]),
                  grammar=st.sampled_from([None, None, 'root ::= [a-z ]+ "."', 'root ::= "yes" | "no"']),
                  which=st.integers(0, 3), special=st.booleans())
            def submit(self, text, max_tokens, seq, temperature, reuse, stop, grammar, which, special):
                prompt = LONG if text is None else text
                sched = self.scheds[which % len(self.scheds)]
                self.log(f"submit({text!r:.30}, max_tokens={max_tokens}, seq_id={seq}, "
                         f"temperature={temperature}, reuse_cache={reuse}, stop={stop}, grammar={grammar!r}, "
                         f"scheduler={which % len(self.scheds)}, special={special})")
                c = check("Scheduler.submit", sched.submit, prompt, max_tokens=max_tokens, seq_id=seq,
                          stop=stop, reuse_cache=reuse, special=special,
                          sampling=SamplingParams(temperature=temperature, grammar=grammar, seed=1))
                if c is not None:
                    self.completions.append((c, max_tokens))

            @rule()
            def new_scheduler(self):
                self.log("ctx.scheduler()")
                self.scheds.append(CTX.scheduler())

            @rule(which=st.integers(0, 3))
            def step(self, which):
                sched = self.scheds[which % len(self.scheds)]
                self.log(f"scheduler[{which % len(self.scheds)}].step()")
                check("Scheduler.step", sched.step)

            @rule(which=st.integers(0, 3))
            def run(self, which):
                sched = self.scheds[which % len(self.scheds)]
                self.log(f"scheduler[{which % len(self.scheds)}].run()")
                check("Scheduler.run", sched.run)

            @precondition(lambda self: self.completions)
            @rule(i=st.integers(0, 50), n=st.integers(1, 5))
            def iterate(self, i, n):
                c, _ = self.completions[i % len(self.completions)]
                self.log(f"next(completion[{i % len(self.completions)}]) x{n}")
                for _ in range(n):
                    check("next(Completion)", next, c, None)

            @precondition(lambda self: self.completions)
            @rule(i=st.integers(0, 50))
            def close(self, i):
                c, _ = self.completions[i % len(self.completions)]
                self.log(f"completion[{i % len(self.completions)}].close()")
                check("Completion.close", c.close)

            @rule(op=st.sampled_from(["seq_rm", "seq_cp", "seq_keep", "seq_add", "seq_div", "clear"]),
                  a=st.integers(-1, N_SEQ), b=st.integers(0, N_SEQ - 1), p0=positions, p1=positions,
                  d=st.sampled_from([-100, -1, 1, 2, 7, 1000]))
            def edit_kv(self, op, a, b, p0, p1, d):
                mem = CTX.memory
                calls = {"seq_rm": (mem.seq_rm, (a, p0, p1)), "seq_cp": (mem.seq_cp, (a, b, p0, p1)),
                         "seq_keep": (mem.seq_keep, (a,)), "seq_add": (mem.seq_add, (a, p0, p1, d)),
                         "seq_div": (mem.seq_div, (a, p0, p1, abs(d))), "clear": (mem.clear, ())}
                fn, args = calls[op]
                self.log(f"memory.{op}{args}")
                check(f"Memory.{op}", fn, *args)

            @rule(text=st.sampled_from(TEXTS), seq=st.integers(-1, N_SEQ))
            def decode(self, text, seq):
                self.log(f"ctx.decode({text!r:.30}, seq_id={seq})")
                check("Context.decode", CTX.decode, MODEL.tokenize(text), seq_id=seq)

            @rule(text=st.sampled_from(TEXTS), max_tokens=st.integers(1, 6))
            def generate(self, text, max_tokens):
                self.log(f"ctx.generate({text!r:.30}, max_tokens={max_tokens})")
                check("Context.generate", CTX.generate, text, max_tokens=max_tokens, temperature=0)

            @invariant()
            def finished_completions_are_sane(self):
                for c, max_tokens in self.completions:
                    if c.done and (len(c.tokens) > max_tokens
                                   or c.finish_reason not in ("eog", "stop", "length", "cancelled")):
                        record("Completion invariant", list(steps[-25:]), AssertionError(
                            f"done with {len(c.tokens)} tokens (max {max_tokens}), finish_reason "
                            f"{c.finish_reason!r}"))

            def teardown(self):
                for c, _ in self.completions:
                    check("Completion.close (teardown)", c.close)

        Machine.TestCase.settings = fuzz_settings(stateful_step_count=20)
        Machine.TestCase().runTest()
        report()
    """, examples=20, timeout=170)
