"""Damaged state files never reach llama.cpp's file readers, which abort on data that ends early."""

from __future__ import annotations


def test_damaged_sequence_and_session_files_raise(isolated, tmp_path) -> None:
    result = isolated(f"""
        import pathlib, struct
        folder = pathlib.Path({str(tmp_path)!r})
        model = load_model(default_model_path())
        ctx = model.new_context(n_ctx=512, n_seq_max=2)
        held = model.tokenize("The quick brown fox jumps over the lazy dog.")
        ctx.decode(held)
        ctx.save_seq_state(folder / "seq.bin", 0, held)
        ctx.save_state(folder / "all.bin", held)
        seq = (folder / "seq.bin").read_bytes()
        whole = (folder / "all.bin").read_bytes()
        head = 12 + 4 * len(held)
        cases = {{}}
        for name, raw in (("seq", seq), ("all", whole)):
            for cut in (head + 1, head + 9, head + 100, len(raw) // 2, len(raw) - 1):
                cases[f"{{name}}-cut-{{cut}}"] = raw[:cut]
            bad_token = raw[:12] + struct.pack("<i", 10**9) + raw[16:]
            cases[f"{{name}}-token"] = bad_token
            cases[f"{{name}}-count"] = raw[:8] + struct.pack("<I", 100) + raw[12:]
        attempts = {{}}
        for name, blob in cases.items():
            path = folder / name
            path.write_bytes(blob)
            load = ctx.load_seq_state if name.startswith("seq") else ctx.load_state
            attempts[name] = (lambda load=load, path=path: load(path, 1)) if name.startswith("seq") \\
                else (lambda load=load, path=path: load(path))
        report(attempts)
        print("usable", bool(ctx.generate("Hello", max_tokens=3, temperature=0)))
        print("restores", ctx.load_seq_state(folder / "seq.bin", 1) == held)
    """)
    lines = result.stdout.splitlines()
    outcomes = [line for line in lines if line.startswith(("seq-", "all-"))]
    assert len(outcomes) == 14 and all(line.endswith("StateError") for line in outcomes), outcomes
    assert "usable True" in lines and "restores True" in lines
