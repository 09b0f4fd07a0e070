"""GGUF files: reading the metadata header and writing a copy under another architecture.

A GGUF file is a header (magic, version, tensor and metadata counts, the metadata key/value
pairs, the tensor descriptions), padding to the data alignment, then the tensor data. Tensor
offsets are relative to the start of the data, so a copy may rewrite the metadata freely and
copy the tensor descriptions and data byte for byte.
"""

from __future__ import annotations

import glob
import hashlib
import os
import pathlib
import shutil
import struct
import tempfile
from typing import BinaryIO

from ..errors import ModelLoadError

_MAGIC = b"GGUF"
_STRING = 8
_ARRAY = 9
# fixed sizes of the scalar value types (uint8, int8, uint16, int16, uint32, int32, float32,
# bool, -, -, uint64, int64, float64)
_SCALAR_SIZES = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
_DEFAULT_ALIGNMENT = 32


def cache_dir() -> pathlib.Path:
    """Where llamaprov keeps files it derives from models: ``$LLAMAPROV_CACHE_DIR``, else
    ``$XDG_CACHE_HOME/llamaprov`` (``~/.cache/llamaprov``)."""
    explicit = os.environ.get("LLAMAPROV_CACHE_DIR")
    if explicit:
        return pathlib.Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return pathlib.Path(base) / "llamaprov"


class _Reader:
    def __init__(self, fh: BinaryIO, path: pathlib.Path) -> None:
        self.fh = fh
        self.path = path

    def raw(self, n: int) -> bytes:
        data = self.fh.read(n)
        if len(data) != n:
            raise ModelLoadError(f"GGUF file is truncated: {str(self.path)!r}")
        return data

    def u32(self) -> int:
        return int(struct.unpack("<I", self.raw(4))[0])

    def u64(self) -> int:
        return int(struct.unpack("<Q", self.raw(8))[0])

    def string(self) -> bytes:
        return self.raw(self.u64())

    def value(self, kind: int) -> bytes:
        """The encoded bytes of one value of ``kind`` (after its type tag)."""
        if kind in _SCALAR_SIZES:
            return self.raw(_SCALAR_SIZES[kind])
        if kind == _STRING:
            text = self.string()
            return struct.pack("<Q", len(text)) + text
        if kind == _ARRAY:
            item_kind, count = self.u32(), self.u64()
            parts = [struct.pack("<IQ", item_kind, count)]
            parts += [self.value(item_kind) for _ in range(count)]
            return b"".join(parts)
        raise ModelLoadError(f"unknown GGUF value type {kind} in {str(self.path)!r}")


def _string(text: bytes) -> bytes:
    return struct.pack("<Q", len(text)) + text


def copy_with_architecture(src: str | os.PathLike[str], dst: str | os.PathLike[str],
                           architecture: str) -> None:
    """Write a copy of the GGUF file ``src`` to ``dst`` whose ``general.architecture`` is
    ``architecture``, the old architecture's keys renamed to match (``llama.block_count`` ->
    ``llama-embed.block_count``). Tensors are copied unchanged. ``dst`` appears atomically."""
    source = pathlib.Path(src)
    target = pathlib.Path(dst)
    with source.open("rb") as fh:
        r = _Reader(fh, source)
        if r.raw(4) != _MAGIC:
            raise ModelLoadError(f"not a GGUF file: {str(source)!r}")
        version, n_tensors, n_kv = r.u32(), r.u64(), r.u64()
        pairs: list[tuple[bytes, int, bytes]] = []
        for _ in range(n_kv):
            key = r.string()
            kind = r.u32()
            pairs.append((key, kind, r.value(kind)))
        old = next((r_value[8:] for key, kind, r_value in pairs
                    if key == b"general.architecture" and kind == _STRING), None)
        if old is None:
            raise ModelLoadError(f"GGUF file has no general.architecture: {str(source)!r}")
        alignment = _DEFAULT_ALIGNMENT
        for key, kind, raw in pairs:
            if key == b"general.alignment" and kind == 4:
                alignment = int(struct.unpack("<I", raw)[0])
        infos_start = fh.tell()
        for _ in range(n_tensors):
            r.string()
            n_dims = r.u32()
            r.raw(8 * n_dims + 4 + 8)  # dims, type, offset
        infos = _read_span(fh, infos_start)
        data_start = -(-fh.tell() // alignment) * alignment

        new_arch = architecture.encode()
        header = [_MAGIC, struct.pack("<IQQ", version, n_tensors, n_kv)]
        for key, kind, raw in pairs:
            if key == b"general.architecture":
                raw = _string(new_arch)
            elif key.startswith(old + b"."):
                key = new_arch + key[len(old):]
            header += [_string(key), struct.pack("<I", kind), raw]
        header.append(infos)
        head = b"".join(header)
        head += b"\0" * (-len(head) % alignment)

        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=target.name, suffix=".part")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(head)
                fh.seek(data_start)
                shutil.copyfileobj(fh, out, 1 << 22)
            os.replace(tmp, target)
        except BaseException:
            pathlib.Path(tmp).unlink(missing_ok=True)
            raise


def cached_copy_with_architecture(src: str | os.PathLike[str], architecture: str,
                                  folder: pathlib.Path) -> pathlib.Path:
    """:func:`copy_with_architecture` of ``src`` into ``folder``, made once per version of the
    file (its size and modification time); copies of its older versions are removed."""
    source = pathlib.Path(src)
    stat = source.stat()
    ident = hashlib.sha1(str(source.resolve()).encode()).hexdigest()[:12]
    target = folder / f"{source.stem}-{ident}-{stat.st_size}-{stat.st_mtime_ns}.{architecture}.gguf"
    if not target.exists():
        for old in folder.glob(f"{glob.escape(source.stem)}-{ident}-*.gguf"):
            old.unlink(missing_ok=True)
        copy_with_architecture(source, target, architecture)
    return target


def _read_span(fh: BinaryIO, start: int) -> bytes:
    end = fh.tell()
    fh.seek(start)
    data = fh.read(end - start)
    fh.seek(end)
    return data
