"""The CPU kernels llama.cpp picks for this machine must not crash a plain generation."""

from __future__ import annotations


def test_generation_survives_the_cpu_backends_kernels(isolated):
    # With Intel AMX in the build, the repacked-weight (extra buffer) path segfaulted in
    # ggml_backend_amx_mul_mat on the first decode; load_model turns it off there.
    out = isolated("""
        m = load_model(default_model_path())
        ctx = m.new_context(n_ctx=512)
        text = ctx.generate("Hello there, how are you doing today?", max_tokens=8, temperature=0)
        print(len(text))
    """)
    assert out.lines and int(out.lines[-1]) > 0


def test_extra_buffers_can_still_be_chosen(model):
    from llamaprov import InvalidArgumentError, load_model

    try:
        load_model(model.path, use_extra_bufts="yes")  # type: ignore[arg-type]
    except InvalidArgumentError as exc:
        assert "use_extra_bufts" in str(exc)
    else:
        raise AssertionError("a non-bool use_extra_bufts was accepted")
