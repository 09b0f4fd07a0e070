"""The GGUF header rewriter behind the ``llama-embed`` copy, fed malformed files, and its cache.

Malformed headers are read in a child process whose address space is capped a little above
what it uses, so a reader that trusts a huge count or length fails the test (MemoryError, a
signal or a hang) instead of allocating gigabytes in pytest's process.
"""

from __future__ import annotations

import json
import os
import random
import struct
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from llamaprov.engine import files
from llamaprov.engine.files import cached_copy_with_architecture, copy_with_architecture
from llamaprov.errors import ModelLoadError

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests/ for _tiny_gguf
from _tiny_gguf import write_tiny_llama

U8, U32, STR, ARR = 0, 4, 8, 9


def s(text: bytes | str) -> bytes:
    data = text.encode() if isinstance(text, str) else text
    return struct.pack("<Q", len(data)) + data


def kv(key: str, kind: int, value: bytes) -> bytes:
    return s(key) + struct.pack("<I", kind) + value


ARCH = kv("general.architecture", STR, s("llama"))


def gguf(*kvs: bytes, n_tensors: int = 0, n_kv: int | None = None, version: int = 3,
         tail: bytes = b"") -> bytes:
    count = len(kvs) if n_kv is None else n_kv
    return b"GGUF" + struct.pack("<IQQ", version, n_tensors, count) + b"".join(kvs) + tail


def tensor_info(name: str, dims: list[int], n_dims: int | None = None) -> bytes:
    nd = len(dims) if n_dims is None else n_dims
    return s(name) + struct.pack("<I", nd) + b"".join(struct.pack("<Q", d) for d in dims) + \
        struct.pack("<IQ", 0, 0)


MALFORMED: dict[str, bytes] = {
    "huge-key-length": b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + struct.pack("<Q", 1 << 62) + b"x" * 64,
    "4gib-key-length": b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + struct.pack("<Q", 1 << 32) + b"x" * 64,
    "huge-string-value": gguf(kv("general.name", STR, struct.pack("<Q", 3 << 30) + b"abc")),
    "huge-kv-count": gguf(ARCH, n_kv=1 << 63),
    "huge-tensor-count": gguf(ARCH, n_tensors=1 << 60),
    "huge-u8-array": gguf(ARCH, kv("a", ARR, struct.pack("<IQ", U8, 1 << 40) + b"\0" * 16)),
    "huge-u64-array": gguf(ARCH, kv("a", ARR, struct.pack("<IQ", 10, (1 << 61) + 5) + b"\0" * 16)),
    "huge-string-array": gguf(ARCH, kv("a", ARR, struct.pack("<IQ", STR, 1 << 61) + b"\0" * 16)),
    "nested-array": gguf(ARCH, kv("a", ARR, struct.pack("<IQ", ARR, 2) + struct.pack("<IQ", U8, 1) + b"\0")),
    "unknown-type": gguf(ARCH, kv("a", 99, b"\0" * 8)),
    "unknown-array-type": gguf(ARCH, kv("a", ARR, struct.pack("<IQ", 77, 1) + b"\0" * 8)),
    "alignment-0": gguf(ARCH, kv("general.alignment", U32, struct.pack("<I", 0))),
    "alignment-3": gguf(ARCH, kv("general.alignment", U32, struct.pack("<I", 3))),
    "alignment-as-string": gguf(ARCH, kv("general.alignment", STR, s("32"))),
    "alignment-past-end": gguf(ARCH, kv("general.alignment", U32, struct.pack("<I", 1 << 30))),
    "huge-n-dims": gguf(ARCH, n_tensors=1, tail=tensor_info("t", [4], n_dims=1 << 31) + b"\0" * 64),
    "five-dims": gguf(ARCH, n_tensors=1, tail=tensor_info("t", [1, 1, 1, 1, 1]) + b"\0" * 64),
    "huge-tensor-name": gguf(ARCH, n_tensors=1, tail=struct.pack("<Q", 1 << 40) + b"t" * 64),
    "version-1": gguf(ARCH, version=1),
    "version-99": gguf(ARCH, version=99),
    "truncated-in-value": gguf(ARCH, kv("general.name", STR, s("abcdef")))[:-3],
    "no-architecture": gguf(kv("general.name", STR, s("x"))),
    "magic-only": b"GGUF",
}

_CHILD = """
import json, pathlib, resource, traceback
from llamaprov.engine.files import copy_with_architecture

def cap_memory(extra):
    with open("/proc/self/status") as fh:
        vm = next(int(line.split()[1]) * 1024 for line in fh if line.startswith("VmSize"))
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, (vm + extra, hard))

folder = pathlib.Path({folder!r})
out = folder / "out.gguf"
cap_memory(512 << 20)
results = {{}}
for path in sorted(folder.glob("*.bin")):
    try:
        copy_with_architecture(path, out, "llama-embed")
        results[path.stem] = "ok"
    except errors.ModelLoadError as exc:
        results[path.stem] = "ModelLoadError: " + str(exc)
    except BaseException as exc:
        results[path.stem] = type(exc).__name__ + ": " + str(exc)[:300]
    out.unlink(missing_ok=True)
print(json.dumps(results))
"""


def _run_child(isolated, folder: Path) -> dict[str, str]:
    result = isolated(_CHILD.format(folder=str(folder)), timeout=120)
    return json.loads(result.lines[-1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="caps memory with /proc and RLIMIT_AS")
def test_malformed_headers_raise_model_load_error(isolated, tmp_path: Path) -> None:
    for name, data in MALFORMED.items():
        (tmp_path / f"{name}.bin").write_bytes(data)
    results = _run_child(isolated, tmp_path)
    assert set(results) == set(MALFORMED)
    wrong = {k: v for k, v in results.items() if not v.startswith("ModelLoadError")}
    assert not wrong, wrong
    for name, message in results.items():
        assert f"{name}.bin" in message, (name, message)  # the message names the file
    assert "alignment 0" in results["alignment-0"]
    assert "alignment 3" in results["alignment-3"]
    assert "version 99" in results["version-99"]
    assert not (tmp_path / "out.gguf").exists()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="caps memory with /proc and RLIMIT_AS")
def test_mutated_headers_never_crash(isolated, tmp_path: Path) -> None:
    src = tmp_path / "tiny.gguf"
    write_tiny_llama(src, n_layer=1)
    data = src.read_bytes()
    header_end = data.index(b"token_embd.weight") + 64  # metadata and tensor infos
    rng = random.Random(1234)
    for i in range(150):
        mutated = bytearray(data[:header_end])
        for _ in range(rng.choice((1, 2, 4, 8))):
            pos = rng.randrange(4, header_end)
            mutated[pos] = rng.choice((0x00, 0xFF, 0x7F, 0x80, rng.randrange(256)))
        (tmp_path / f"m{i:03d}.bin").write_bytes(bytes(mutated) + data[header_end:])
    results = _run_child(isolated, tmp_path)
    assert len(results) == 150
    wrong = {k: v for k, v in results.items() if not v.startswith(("ok", "ModelLoadError"))}
    assert not wrong, wrong


# ---------------------------------------------------------------------- the cache
@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    path = tmp_path / "models" / "tiny.gguf"
    path.parent.mkdir()
    write_tiny_llama(path, n_layer=1)
    return path


def test_a_file_replaced_with_the_same_size_and_mtime_gets_a_new_copy(tiny: Path, tmp_path: Path) -> None:
    folder = tmp_path / "cache"
    first = cached_copy_with_architecture(tiny, "llama-embed", folder)
    assert cached_copy_with_architecture(tiny, "llama-embed", folder) == first  # reused
    stat = tiny.stat()
    data = bytearray(tiny.read_bytes())
    data[-1] ^= 0x01  # one bit of tensor data
    tiny.write_bytes(bytes(data))
    os.utime(tiny, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert tiny.stat().st_size == stat.st_size and tiny.stat().st_mtime_ns == stat.st_mtime_ns
    second = cached_copy_with_architecture(tiny, "llama-embed", folder)
    assert second != first
    assert sorted(folder.iterdir()) == [second]  # the stale copy is gone
    assert second.read_bytes()[-4096:] == bytes(data[-4096:])


def test_same_content_elsewhere_is_copied_per_path(tiny: Path, tmp_path: Path) -> None:
    folder = tmp_path / "cache"
    twin = tmp_path / "twin.gguf"
    twin.write_bytes(tiny.read_bytes())
    a = cached_copy_with_architecture(tiny, "llama-embed", folder)
    b = cached_copy_with_architecture(twin, "llama-embed", folder)
    assert a != b and a.exists() and b.exists()


def test_no_room_raises_before_writing(tiny: Path, tmp_path: Path, monkeypatch) -> None:
    folder = tmp_path / "cache"

    def full(path):
        return SimpleNamespace(total=10 << 30, used=10 << 30, free=1 << 20)

    monkeypatch.setattr(files.shutil, "disk_usage", full)
    with pytest.raises(ModelLoadError, match=r"not enough free space.*tiny\.gguf"):
        cached_copy_with_architecture(tiny, "llama-embed", folder)
    assert list(folder.iterdir()) == []


def test_copy_of_a_valid_file_is_unchanged_by_the_checks(tiny: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.gguf"
    copy_with_architecture(tiny, out, "llama-embed")
    src, dst = tiny.read_bytes(), out.read_bytes()
    assert b"llama-embed.block_count" in dst and len(dst) - len(src) < 4096
    assert dst[-1000:] == src[-1000:]


# ---------------------------------------------------------------------- the copy is opt-in
TEXTS = ["The cat sat on the mat.", "Quarterly tax filing deadlines."]


@pytest.fixture
def own_cache(tmp_path: Path, monkeypatch) -> Path:
    cache = tmp_path / "llamaprov-cache"
    monkeypatch.setenv("LLAMAPROV_CACHE_DIR", str(cache))
    monkeypatch.delenv("LLAMAPROV_EMBEDDING_GRAPH", raising=False)
    return cache


def test_embeddings_write_nothing_by_default(model, own_cache: Path) -> None:
    from llamaprov import embed_batch, embed_llamaprov, load_model

    with load_model(model.path) as fresh:
        vectors = embed_batch(fresh, TEXTS)
        embed_llamaprov(fresh)(TEXTS)
        assert fresh._embedding_model is None
    assert not own_cache.exists()
    with load_model(model.path) as fresh:
        copied = embed_batch(fresh, TEXTS, embedding_graph="copy")
    assert len(list((own_cache / "embedding").glob("*.gguf"))) == 1
    assert np.allclose(vectors, copied, atol=1e-5)  # the copy changes the speed, not the vectors


def test_the_environment_opts_in(model, own_cache: Path, monkeypatch) -> None:
    from llamaprov import embed_batch, load_model

    monkeypatch.setenv("LLAMAPROV_EMBEDDING_GRAPH", "copy")
    with load_model(model.path) as fresh:
        embed_batch(fresh, TEXTS[:1])
        assert fresh._embedding_model is not None
        embed_batch(fresh, TEXTS[:1], embedding_graph="model")  # the argument wins
    assert len(list((own_cache / "embedding").glob("*.gguf"))) == 1


def test_bad_choices_name_the_value(model, own_cache: Path, monkeypatch) -> None:
    from llamaprov import InvalidArgumentError, embed_batch, embed_llamaprov

    with pytest.raises(InvalidArgumentError, match="'encoder'"):
        embed_batch(model, TEXTS, embedding_graph="encoder")
    with pytest.raises(InvalidArgumentError, match="'encoder'"):
        embed_llamaprov(model, embedding_graph="encoder")
    monkeypatch.setenv("LLAMAPROV_EMBEDDING_GRAPH", "yes please")
    with pytest.raises(InvalidArgumentError, match=r"LLAMAPROV_EMBEDDING_GRAPH.*'yes please'"):
        embed_batch(model, TEXTS)


def test_no_room_for_the_copy_is_a_clear_error(model, own_cache: Path, monkeypatch) -> None:
    from llamaprov import embed_batch, load_model

    monkeypatch.setattr(
        files.shutil, "disk_usage", lambda path: SimpleNamespace(total=1 << 30, used=1 << 30, free=4096)
    )
    with load_model(model.path) as fresh:
        with pytest.raises(ModelLoadError, match="not enough free space"):
            embed_batch(fresh, TEXTS, embedding_graph="copy")
        assert fresh._embedding_model is None
    assert not list((own_cache / "embedding").glob("*.gguf"))


def test_the_choice_travels_with_the_embedder(model, own_cache: Path) -> None:
    from llamaprov import embed_llamaprov
    from llamaprov.integrations.embedding import embedder_from_spec
    from llamaprov.integrations.langchain import LlamaProvEmbeddings

    plain, copying = embed_llamaprov(model), embed_llamaprov(model, embedding_graph="copy")
    assert plain.embedder_id == copying.embedder_id  # same vectors, same identity
    rebuilt = embedder_from_spec(copying.spec())
    assert rebuilt.embedding_graph == "copy"
    assert embedder_from_spec({k: v for k, v in plain.spec().items() if k != "embedding_graph"})
    lc = LlamaProvEmbeddings(model=model, embedding_graph="copy")
    assert len(lc.embed_query("hello")) == model.n_embd
