"""Property-based fuzzing of the engine: sampling parameters, token ids, sizes, arbitrary text.

Each test runs one hypothesis search in a child process (see ``run_fuzz`` in conftest.py): a
signal or a hang fails the test naming the input, and so does any exception that is not a
``LlamaProvError``. ``LLAMAPROV_FUZZ_EXAMPLES=2000 pytest tests/reliability -m fuzz`` searches
longer.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.fuzz


def test_fuzz_sampling_params(fuzz):
    """Every SamplingParams field with huge, negative, NaN, inf and wrong-typed values: the
    constructor, ``build`` and a generation of a few tokens."""
    fuzz("""
        from llamaprov.engine import SamplingParams

        FLOATS = ["temperature", "top_p", "min_p", "typical_p", "repeat_penalty",
                  "frequency_penalty", "presence_penalty", "mirostat_tau", "mirostat_eta",
                  "dry_multiplier", "dry_base", "xtc_probability", "xtc_threshold", "top_n_sigma",
                  "dynatemp_range", "dynatemp_exponent"]
        INTS = ["top_k", "penalty_last_n", "mirostat", "dry_allowed_length",
                "dry_penalty_last_n", "seed"]
        odd = st.sampled_from([None, "1", "nan", [], {}, object()])
        values = nasty_numbers | st.sampled_from([0, 1, 2, 0.5, 0.9, 1.5]) | odd
        # samplers that are off by default need their switch on to be built at all
        switches = st.fixed_dictionaries({}, optional={
            "mirostat": st.sampled_from([1, 2]), "dry_multiplier": st.sampled_from([0.8, 5.0]),
            "xtc_probability": st.sampled_from([0.5, 1.0]), "dynatemp_range": st.sampled_from([0.5]),
            "top_n_sigma": st.sampled_from([1.0]), "repeat_penalty": st.sampled_from([1.1]),
            "temperature": st.sampled_from([0.0, 0.7])})
        fields = st.dictionaries(st.sampled_from(FLOATS + INTS), values, max_size=5)
        bias = st.none() | st.dictionaries(nasty_token_keys, nasty_numbers, max_size=3)
        CTX = MODEL.new_context(n_ctx=128, n_threads=1)

        @fuzz_settings()
        @given(switches, fields, bias)
        @example({}, {"top_k": 2**40}, None)
        @example({}, {"penalty_last_n": 2**31}, None)
        @example({"dry_multiplier": 0.8}, {"dry_penalty_last_n": 2**31 - 1}, None)
        @example({"dry_multiplier": 0.8}, {"dry_allowed_length": -2**31}, None)
        @example({"mirostat": 1}, {"mirostat_tau": math.nan, "mirostat_eta": math.inf}, None)
        @example({}, {"temperature": math.inf}, None)
        @example({}, {}, {0: math.nan, 1: math.inf})
        def search(switches, fields, bias):
            kw = {**switches, **fields}
            if bias is not None:
                kw["logit_bias"] = bias
            current(kw=kw)
            params = check("SamplingParams(**kw)", lambda: SamplingParams(**kw))
            if params is None:
                return
            chain = check("SamplingParams.build", params.build, MODEL)
            if chain is not None:
                chain.close()
            CTX.memory.clear()
            check("Context.generate(sampling=...)",
                  lambda: CTX.generate("Hello", max_tokens=3, sampling=params))

        search()
        report()
    """, examples=150, timeout=150)


def test_fuzz_token_ids(fuzz):
    """Negative, huge, bool, float and non-int token ids for every API that takes tokens."""
    fuzz("""
        from llamaprov.engine import Batch, SamplingParams, sampling

        CTX = MODEL.new_context(n_ctx=64, n_threads=1)
        GOOD = MODEL.tokenize("Hello there")
        VOCAB = MODEL.vocab

        def samplers():
            return [sampling.greedy(), sampling.dist(1), sampling.penalties(MODEL, 8, 1.1, 0.1, 0.1),
                    sampling.dry(MODEL, 0.8, 1.75, 2, 8), sampling.grammar(MODEL, 'root ::= "a"+'),
                    sampling.mirostat(MODEL, 1, 5.0, 0.1), sampling.infill(MODEL),
                    SamplingParams(temperature=0.7, repeat_penalty=1.1).build(MODEL)]

        @fuzz_settings()
        @given(nasty_tokens, st.lists(nasty_tokens, max_size=3), nasty_ints, nasty_ints)
        @example(-1, [], 0, 0)
        @example(2**31, [], 0, 0)
        @example(True, [], 0, 0)
        @example(1.5, [], 0, 0)
        @example(49152, [], 0, 0)
        @example(0, [], 2**31, 2**31)
        @example(0, [], -2, -5)
        def search(t, more, a, b):
            current(t=t, more=more, a=a, b=b)
            check("Model.detokenize", MODEL.detokenize, [t])
            check("Model.detokenize(mixed)", MODEL.detokenize, [*GOOD, t, *more])
            check("Model.token_to_piece", MODEL.token_to_piece, t)
            check("Model.token_to_piece(special)", MODEL.token_to_piece, t, special=True)
            check("Model.token_bytes", MODEL.token_bytes, t)
            for name in ("text", "score", "attr", "is_eog", "is_control"):
                check(f"Vocab.{name}", getattr(VOCAB, name), t)
            CTX.memory.clear()
            check("Context.decode", CTX.decode, [t])
            check("Context.decode(seq_id)", CTX.decode, GOOD[:1], seq_id=a)
            check("Context.logits_ith", CTX.logits_ith, a)
            check("Context.embeddings_ith", CTX.embeddings_ith, a)
            check("Context.embeddings_seq", CTX.embeddings_seq, a)
            CTX.memory.clear()
            check("Context.generate(token prompt)", CTX.generate, [t, *more], max_tokens=2)
            CTX.memory.clear()
            check("Context.generate(grammar_trigger_tokens)", lambda: CTX.generate(
                "Hi", max_tokens=2, grammar='root ::= "a"', grammar_lazy=True,
                grammar_trigger_tokens=[t]))
            for s in samplers():
                check(f"Sampler.accept({s.name})", s.accept, t)
                check(f"Sampler.reset({s.name})", s.reset)
                s.close()
            if not isinstance(t, (list, dict)):  # a dict key must be hashable
                bias = check("sampling.logit_bias", sampling.logit_bias, MODEL, {t: 1.0})
                if bias is not None:
                    bias.close()
                check("SamplingParams(logit_bias).build",
                      lambda: SamplingParams(logit_bias={t: -1.0}).build(MODEL).close())
            batch = Batch(4, 0, 2)
            check("Batch.add(token)", batch.add, t, 0, 0, True)
            CTX.memory.clear()
            if len(batch):
                check("Context.decode_batch(token)", CTX.decode_batch, batch)
            batch.clear()
            check("Batch.add(pos, seq)", batch.add, GOOD[0], a, b, True)
            if len(batch):
                CTX.memory.clear()
                check("Context.decode_batch(pos, seq)", CTX.decode_batch, batch)
            batch.clear()
            check("Batch.add(seq list)", batch.add, GOOD[0], 0, [0, b], True)
            check("Batch.set_logits", batch.set_logits, a)
            batch.close()
            mem = CTX.memory
            check("Memory.seq_rm", mem.seq_rm, a, b, -1)
            check("Memory.seq_cp", mem.seq_cp, 0, a, b, -1)
            check("Memory.seq_keep", mem.seq_keep, a)
            check("Memory.seq_add", mem.seq_add, 0, 0, -1, a)
            check("Memory.seq_div", mem.seq_div, 0, a, b, 2)
            check("Memory.seq_pos_range", mem.seq_pos_range, a)

        search()
        report()
    """, examples=80, timeout=150)


def test_fuzz_batch_sizes(fuzz):
    """``Batch(n, embd, n_seq_max)``: huge, zero, negative, 2**31, 2**32+8 (memory is capped in
    the child, so a huge allocation fails rather than swapping), then a token or vector added."""
    fuzz("""
        from llamaprov.engine import Batch

        sizes = nasty_ints | st.integers(min_value=0, max_value=5000)

        @fuzz_settings()
        @given(sizes, sizes, sizes)
        @example(1, 0, 1)
        @example(2**31, 0, 1)
        @example(2**32 + 8, 0, 1)
        @example(1, 2**31, 1)
        @example(1, 2**32 + 8, 1)
        @example(1, 0, 2**31)
        @example(10**8, 0, 1)
        @example(4096, 4096, 4096)
        def batches(n, embd, n_seq_max):
            current(n=n, embd=embd, n_seq_max=n_seq_max)
            batch = check("Batch(n, embd, n_seq_max)", Batch, n, embd, n_seq_max)
            if batch is None:
                return
            seqs = list(range(min(n_seq_max, 3)))
            if embd:
                check("Batch.add_embedding", batch.add_embedding, [0.5] * min(embd, 8192), 0, seqs,
                      True)
            else:
                check("Batch.add", batch.add, 1, 0, seqs, True)
            batch.close()

        batches()
        report()
    """, examples=60, timeout=120)


def test_fuzz_context_sizes(fuzz):
    """``new_context(n_ctx, n_batch, n_ubatch, n_seq_max, n_threads)``: huge, zero, negative,
    2**31, 2**32+8; a created context must have the size asked for (up to llama.cpp's minimum)
    and generate."""
    fuzz("""
        sizes = nasty_ints | st.integers(min_value=0, max_value=5000)
        optional = st.none() | sizes
        small = st.none() | st.integers(min_value=1, max_value=600)

        @fuzz_settings()
        @given(optional | small, optional | small, optional | small, sizes | st.just(1),
               st.none() | nasty_ints | st.integers(min_value=1, max_value=16))
        @example(2**31, None, None, 1, None)
        @example(2**32 + 8, None, None, 1, None)
        @example(64, 2**32 + 8, None, 1, None)
        @example(64, 64, 2**32 + 8, 1, None)
        @example(64, None, None, 2**31, None)
        @example(64, 8, 64, 1, None)
        @example(2**20, None, None, 1, None)
        @example(64, None, None, 256, None)
        @example(64, None, None, 1, 100000)
        @example(64, None, None, 1, 2**31)
        def contexts(n_ctx, n_batch, n_ubatch, n_seq_max, n_threads):
            current(n_ctx=n_ctx, n_batch=n_batch, n_ubatch=n_ubatch, n_seq_max=n_seq_max,
                    n_threads=n_threads)
            ctx = check("new_context", MODEL.new_context, n_ctx=n_ctx, n_batch=n_batch,
                        n_ubatch=n_ubatch, n_seq_max=n_seq_max, n_threads=n_threads)
            if ctx is None:
                return
            # what was asked for, up to the clamps (n_ctx >= 256, n_batch <= n_ctx asked or made)
            batch_ceiling = min(ctx.n_ctx, n_ctx if isinstance(n_ctx, int) and n_ctx > 0 else ctx.n_ctx)
            for name, asked, ceiling in (("n_ctx", n_ctx, 256), ("n_batch", n_batch, batch_ceiling),
                                         ("n_seq_max", n_seq_max, 256)):
                got = getattr(ctx, name)
                if asked is not None and got < min(asked, ceiling):
                    record("new_context", {"n_ctx": n_ctx, "n_batch": n_batch, "n_ubatch": n_ubatch,
                                           "n_seq_max": n_seq_max, "n_threads": n_threads},
                           AssertionError(f"asked for {name}={asked}, got {got}"))
            check("Context.generate", ctx.generate,
                  "Hello there, how are you doing today, my good friend?", max_tokens=2,
                  temperature=0)
            check("Context.set_threads", ctx.set_threads, n_seq_max)
            ctx.close()

        contexts()
        report()
    """, examples=60, timeout=150)


def test_fuzz_text(fuzz):
    """Arbitrary Unicode (lone surrogates, NUL, control and special-token text) through tokenize,
    detokenize, generation prompts, stop strings and metadata lookups."""
    fuzz("""
        from llamaprov.engine import embed_batch

        CTX = MODEL.new_context(n_ctx=256, n_threads=1)
        anything = st.characters(codec=None, exclude_categories=())
        specials = st.sampled_from(["<|im_start|>", "<|im_end|>", "<|endoftext|>", "\\x00", "\\ud800",
                                    "\\udfff", "\\U0010ffff", "\\ufffd", "\\r\\n", "<think>", "\\u2028"])
        texts = st.lists(st.text(anything, max_size=30) | specials, max_size=6).map("".join)

        @fuzz_settings()
        @given(texts, st.booleans(), st.booleans())
        @example("\\ud800", True, True)
        @example("a\\udc80b", False, False)
        @example("\\x00", True, True)
        @example("", True, False)
        def search(text, add_special, parse_special):
            current(text=text, add_special=add_special, parse_special=parse_special)
            tokens = check("Model.tokenize", MODEL.tokenize, text, add_special=add_special,
                           parse_special=parse_special)
            if tokens:
                check("Model.detokenize", MODEL.detokenize, tokens, remove_special=add_special,
                      unparse_special=parse_special)
            CTX.memory.clear()
            check("Context.generate(prompt)", CTX.generate, text, max_tokens=2, temperature=0)
            check("Context.generate(stop)", CTX.generate, "Hi", max_tokens=2, stop=[text],
                  temperature=0)
            check("Model.meta_get", MODEL.meta_get, text)
            check("Model.chat_template(name)", MODEL.chat_template, text)
            check("Model.apply_chat_template(content)", MODEL.apply_chat_template,
                  [{"role": "user", "content": text}])
            check("Model.apply_chat_template(builtin)", MODEL.apply_chat_template,
                  [{"role": text, "content": text}], template="chatml")
            check("Model.apply_chat_template(template=text)", MODEL.apply_chat_template,
                  [{"role": "user", "content": "hi"}], template=text)

        search()
        check("embed_batch", embed_batch, MODEL, ["ok", "\\ud800"])
        report()
    """, examples=80, timeout=150)
