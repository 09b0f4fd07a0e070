"""Use after close: every public object raises ClosedError once closed (never a crash, never a
dangling pointer handed to C, never a silent resurrection).

Each case runs in a child process: it builds the object, closes it (directly, or by closing what
owns it), then tries each operation; the child prints one line per operation and the test fails
on any operation that did not raise :class:`~llamaprov.errors.ClosedError`.
"""

from __future__ import annotations

import textwrap

import pytest

LIFECYCLE_PRELUDE = """
import llamaprov
from llamaprov.engine import Batch, SamplingParams, sampling
from llamaprov.errors import ClosedError

M = load_model(default_model_path())


def expect_closed(label, fn):
    try:
        result = fn()
        if hasattr(result, "__next__"):  # generators start running on the first next()
            next(result)
    except ClosedError:
        print("CLOSED", label, flush=True)
    except BaseException as exc:
        print("WRONG", label, type(exc).__name__, str(exc)[:200].replace("\\n", " "), flush=True)
    else:
        print("NOERROR", label, flush=True)


def expect_works(label, fn):
    try:
        fn()
    except BaseException as exc:
        print("WRONG", label, "(must work after close)", type(exc).__name__, str(exc)[:200],
              flush=True)
    else:
        print("WORKS", label, flush=True)
"""

CASES: dict[str, str] = {
    "model": """
        m = load_model(default_model_path())
        m.token_to_piece(5)  # cached
        m.close()
        expect_works("close twice", m.close)
        expect_works("repr", lambda: repr(m))
        expect_works("closed", lambda: m.closed or 1 / 0)
        expect_closed("tokenize", lambda: m.tokenize("hi"))
        expect_closed("detokenize", lambda: m.detokenize([1, 2]))
        expect_closed("token_to_piece (cached)", lambda: m.token_to_piece(5))
        expect_closed("token_to_piece", lambda: m.token_to_piece(6))
        expect_closed("token_bytes", lambda: m.token_bytes(7, special=True))
        expect_closed("new_context", lambda: m.new_context(n_ctx=64))
        expect_closed("info", m.info)
        expect_closed("desc", lambda: m.desc)
        expect_closed("meta", lambda: m.meta)
        expect_closed("meta_get", lambda: m.meta_get("general.name"))
        expect_closed("n_ctx_train", lambda: m.n_ctx_train)
        expect_closed("n_embd", lambda: m.n_embd)
        expect_closed("chat_template", m.chat_template)
        expect_closed("apply_chat_template",
                      lambda: m.apply_chat_template([{"role": "user", "content": "x"}]))
        expect_closed("save", lambda: m.save("/tmp/llamaprov-closed-model.gguf"))
        expect_closed("embed_batch", lambda: llamaprov.embed_batch(m, ["x"]))
        expect_closed("sampling.grammar", lambda: sampling.grammar(m, 'root ::= "a"'))
        expect_closed("sampling.logit_bias", lambda: sampling.logit_bias(m, {1: 1.0}))
        expect_closed("SamplingParams.build", lambda: SamplingParams(repeat_penalty=1.1).build(m))
        expect_closed("LlamaProvider(closed model)", lambda: llamaprov.LlamaProvider(m))
        expect_closed("chat_llamaprov(closed model)", lambda: llamaprov.chat_llamaprov(m).chat("hi"))
    """,
    "vocab": """
        m = load_model(default_model_path())
        v = m.vocab
        v.eog_tokens()
        m.close()
        for name in ("n_tokens", "type", "bos", "eos", "eot", "nl", "add_bos", "add_eos"):
            expect_closed(f"vocab.{name}", lambda name=name: getattr(v, name))
        expect_closed("len(vocab)", lambda: len(v))
        expect_closed("vocab.text", lambda: v.text(1))
        expect_closed("vocab.score", lambda: v.score(1))
        expect_closed("vocab.attr", lambda: v.attr(1))
        expect_closed("vocab.is_eog", lambda: v.is_eog(1))
        expect_closed("vocab.is_control", lambda: v.is_control(1))
        expect_closed("vocab.info", v.info)
        expect_closed("vocab.eog_tokens (cached)", v.eog_tokens)
    """,
    "context": """
        ctx = M.new_context(n_ctx=128)
        ctx.generate("Hi", max_tokens=2)
        ctx.close()
        expect_works("close twice", ctx.close)
        expect_works("repr", lambda: repr(ctx))
        expect_closed("decode", lambda: ctx.decode([1]))
        expect_closed("generate", lambda: ctx.generate("Hi", max_tokens=2))
        expect_closed("completion", lambda: ctx.completion("Hi", max_tokens=2).result())
        expect_closed("stream", lambda: ctx.stream("Hi", max_tokens=2))
        expect_closed("scheduler.submit", lambda: ctx.scheduler().submit("Hi", max_tokens=2))
        expect_closed("logits", ctx.logits)
        expect_closed("logits_ith", lambda: ctx.logits_ith(0))
        expect_closed("embeddings_ith", lambda: ctx.embeddings_ith(0))
        expect_closed("embeddings_seq", lambda: ctx.embeddings_seq(0))
        for name in ("n_ctx", "n_ctx_seq", "n_batch", "n_ubatch", "n_seq_max", "n_threads"):
            expect_closed(name, lambda name=name: getattr(ctx, name))
        expect_closed("set_threads", lambda: ctx.set_threads(1))
        expect_closed("set_embeddings", lambda: ctx.set_embeddings(True))
        expect_closed("set_causal_attn", lambda: ctx.set_causal_attn(True))
        expect_closed("set_abort_callback", lambda: ctx.set_abort_callback(lambda: False))
        expect_closed("synchronize", ctx.synchronize)
        expect_closed("perf", ctx.perf)
        expect_closed("perf_reset", ctx.perf_reset)
        expect_closed("encode", lambda: ctx.encode([1]))
        expect_closed("memory.clear", ctx.memory.clear)
        expect_closed("memory.seq_rm", lambda: ctx.memory.seq_rm(0))
        expect_closed("memory.seq_cp", lambda: ctx.memory.seq_cp(0, 0))
        expect_closed("memory.seq_keep", lambda: ctx.memory.seq_keep(0))
        expect_closed("memory.seq_add", lambda: ctx.memory.seq_add(0, 0, -1, 1))
        expect_closed("memory.seq_pos_range", lambda: ctx.memory.seq_pos_range(0))
        expect_closed("memory.can_shift", lambda: ctx.memory.can_shift)
        b = Batch(4)
        b.add(1, 0, 0, True)
        expect_closed("decode_batch", lambda: ctx.decode_batch(b))
    """,
    "context closed by its model": """
        m = load_model(default_model_path())
        ctx = m.new_context(n_ctx=128)
        emb = m.new_context(n_ctx=128, embeddings=True)
        m.close()
        expect_works("context.closed", lambda: ctx.closed or 1 / 0)
        expect_closed("decode", lambda: ctx.decode([1]))
        expect_closed("generate", lambda: ctx.generate("Hi", max_tokens=2))
        expect_closed("logits", ctx.logits)
        expect_closed("memory.clear", ctx.memory.clear)
        expect_closed("embed", lambda: emb.embed("hi"))
    """,
    "batch": """
        ctx = M.new_context(n_ctx=64)
        b = Batch(4)
        b.add(1, 0, 0, True)
        b.close()
        expect_works("close twice", b.close)
        expect_closed("len", lambda: len(b))
        expect_closed("n_tokens", lambda: b.n_tokens)
        expect_closed("add", lambda: b.add(1, 1, 0, True))
        expect_closed("clear", b.clear)
        expect_closed("set_logits", lambda: b.set_logits(0))
        expect_closed("decode_batch(closed batch)", lambda: ctx.decode_batch(b))
        e = Batch(2, 8)
        e.close()
        expect_closed("add_embedding", lambda: e.add_embedding([0.0] * 8, 0))
    """,
    "sampler": """
        ctx = M.new_context(n_ctx=64)
        ctx.decode(M.tokenize("Hi"))
        for make in (sampling.greedy, lambda: sampling.dist(1),
                     lambda: sampling.grammar(M, 'root ::= "a"'), lambda: sampling.penalties(M, 8, 1.1)):
            s = make()
            name = s.name
            s.close()
            expect_works(f"{name}: close twice", s.close)
            expect_works(f"{name}: repr", lambda: repr(s))
            expect_closed(f"{name}: name", lambda: s.name)
            expect_closed(f"{name}: seed", lambda: s.seed)
            expect_closed(f"{name}: accept", lambda: s.accept(1))
            expect_closed(f"{name}: reset", s.reset)
            expect_closed(f"{name}: clone", s.clone)
            expect_closed(f"{name}: sample", lambda: s.sample(ctx))
            expect_closed(f"{name}: add to a chain", lambda: sampling.SamplerChain([s]))
            expect_closed(f"{name}: generate with it",
                          lambda: ctx.generate("Hi", max_tokens=2, sampling=sampling.SamplerChain([s])))
    """,
    "sampler chain": """
        ctx = M.new_context(n_ctx=64)
        ctx.decode(M.tokenize("Hi"))
        inner = sampling.greedy()
        chain = SamplingParams(temperature=0.7, repeat_penalty=1.1).build(M).add(inner)
        chain.close()
        expect_works("close twice", chain.close)
        expect_closed("len", lambda: len(chain))
        expect_closed("add", lambda: chain.add(sampling.greedy()))
        expect_closed("remove", lambda: chain.remove(0))
        expect_closed("getitem", lambda: chain[0].name)
        expect_closed("accept", lambda: chain.accept(1))
        expect_closed("reset", chain.reset)
        expect_closed("clone", chain.clone)
        expect_closed("perf", chain.perf)
        expect_closed("sample", lambda: chain.sample(ctx))
        expect_closed("generate with it", lambda: ctx.generate("Hi", max_tokens=2, sampling=chain))
        expect_closed("a sampler freed with its chain: name", lambda: inner.name)
        expect_closed("a sampler freed with its chain: accept", lambda: inner.accept(1))
    """,
    "completion": """
        ctx = M.new_context(n_ctx=128)
        c = ctx.completion("Once upon a time", max_tokens=50, temperature=0)
        next(c, None)
        ctx.close()
        expect_closed("next() after its context closed", lambda: next(c))
        expect_closed("result() after its context closed", c.result)
        ctx2 = M.new_context(n_ctx=128)
        done = ctx2.completion("Once upon a time", max_tokens=50, temperature=0)
        next(done, None)
        done.close()
        expect_works("text after close", lambda: done.text)
        expect_works("finish_reason after close", lambda: done.finish_reason == "cancelled" or 1 / 0)
        expect_works("iteration after close ends", lambda: list(done))
    """,
    "provider": """
        from llamaprov.chat import Turn, ContentText
        p = llamaprov.LlamaProvider(M, n_ctx=256)
        turns = [Turn("user", [ContentText("Hi")])]
        p.chat_perform(turns, params={"max_tokens": 2})
        p.close()
        expect_works("close twice", p.close)
        expect_closed("chat_perform", lambda: p.chat_perform(turns, params={"max_tokens": 2}))
        expect_closed("stream_perform", lambda: p.stream_perform(turns, params={"max_tokens": 2}))
        expect_closed("submit", lambda: p.submit(turns, params={"max_tokens": 2}).result(timeout=60))
        expect_closed("context", lambda: p.context)
        expect_closed("structured_output", lambda: p.structured_output(turns, type={"type": "integer"},
                                                                         params={"max_tokens": 2}))
    """,
    "chat": """
        chat = llamaprov.chat_llamaprov(M, n_ctx=256, params={"max_tokens": 4})
        chat.chat("Hi")
        expect_works("close", lambda: chat.close())
        expect_works("close twice", lambda: chat.close())
        expect_works("get_turns", chat.get_turns)
        expect_closed("chat", lambda: chat.chat("Hi"))
        expect_closed("stream", lambda: chat.stream("Hi"))
        expect_closed("chat_structured", lambda: chat.chat_structured("Hi", type={"type": "boolean"}))
        import asyncio
        expect_closed("chat_async", lambda: asyncio.run(chat.chat_async("Hi")))
    """,
    "chat whose model is closed": """
        m = load_model(default_model_path())
        chat = llamaprov.chat_llamaprov(m, n_ctx=256, params={"max_tokens": 2})
        chat.chat("Hi")
        m.close()
        expect_closed("chat", lambda: chat.chat("Hi"))
        expect_closed("stream", lambda: chat.stream("Hi"))
        expect_closed("parallel_chat", lambda: llamaprov.parallel_chat(chat, ["a", "b"]))
    """,
    "rag store": """
        import tempfile, pathlib
        path = pathlib.Path(tempfile.mkdtemp()) / "store.db"
        store = llamaprov.RagStore.create(path, embed=llamaprov.embed_llamaprov(M))
        store.insert(["one document about cats", "another about dogs"])
        store.close()
        expect_works("close twice", store.close)
        expect_works("repr", lambda: repr(store))
        expect_closed("insert", lambda: store.insert(["x"]))
        expect_closed("retrieve", lambda: store.retrieve("cats"))
        expect_closed("len", lambda: len(store))
        expect_closed("n_documents", lambda: store.n_documents)
        expect_closed("delete", lambda: store.delete([1]))
    """,
    "embedder": """
        m = load_model(default_model_path())
        embed = llamaprov.embed_llamaprov(m)
        embed(["hi"])
        expect_works("close", lambda: embed.close())
        expect_closed("call after close", lambda: embed(["hi"]))
        expect_closed("embed_documents after close", lambda: embed.embed_documents(["hi"]))
        m2 = load_model(default_model_path())
        embed2 = llamaprov.embed_llamaprov(m2)
        embed2(["hi"])
        m2.close()
        expect_closed("call when its model is closed", lambda: embed2(["hi"]))
    """,
    "langchain embeddings": """
        from llamaprov.integrations.langchain import LlamaProvEmbeddings
        e = LlamaProvEmbeddings(model=str(default_model_path()))
        e.embed_query("hi")
        expect_works("close", lambda: e.close())
        expect_closed("embed_query", lambda: e.embed_query("hi"))
        expect_closed("embed_documents", lambda: e.embed_documents(["hi"]))
    """,
}


@pytest.mark.parametrize("case", list(CASES))
def test_use_after_close_raises_closed_error(isolated, case):
    result = isolated(LIFECYCLE_PRELUDE + "\n" + textwrap.dedent(CASES[case]), timeout=120, expect_ok=False)
    lines = [ln for ln in result.lines if ln.split(" ", 1)[0] in ("CLOSED", "WRONG", "NOERROR", "WORKS")]
    bad = [ln for ln in lines if not ln.startswith(("CLOSED", "WORKS"))]
    assert lines, f"the child checked nothing (exit {result.returncode}):\n{result.stderr[-3000:]}"
    assert result.returncode == 0, f"the child exited with {result.returncode}:\n{result.stderr[-3000:]}"
    assert not bad, f"{len(bad)} of {len(lines)} operations after close:\n" + "\n".join(bad)

