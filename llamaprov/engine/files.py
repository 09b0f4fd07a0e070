"""GGUF files: reading the header and writing a copy under another architecture.

A GGUF file is a header (magic, version, tensor and metadata counts, the metadata key/value
pairs, the tensor descriptions), padding to the data alignment, then the tensor data. Tensor
offsets are relative to the start of the data, so a copy may rewrite the metadata freely and
copy the tensor descriptions and data byte for byte.

Every header is read here, by one bounded reader (:func:`read_gguf_header`, and the copy's
raw view of the same): the fit estimate, training's type check and control vectors use it.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import os
import pathlib
import shutil
import struct
import tempfile
from dataclasses import dataclass
from typing import Any, BinaryIO

from ..errors import ModelLoadError, ModelNotFoundError
from ._ggml_types import GGML_TYPE_F32, tensor_bytes

_MAGIC = b"GGUF"
_VERSIONS = (2, 3)  # llama.cpp reads these; version 1 used 32-bit counts
_UINT32 = 4
_STRING = 8
_ARRAY = 9
# struct formats of the scalar value types (uint8, int8, uint16, int16, uint32, int32, float32,
# bool, -, -, uint64, int64, float64), and their fixed sizes
_SCALAR_FORMATS = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}
_SCALAR_SIZES = {kind: struct.calcsize("<" + fmt) for kind, fmt in _SCALAR_FORMATS.items()}
_U64 = struct.Struct("<Q")
_DEFAULT_ALIGNMENT = 32
_MAX_DIMS = 4  # GGML_MAX_DIMS
# the fewest bytes one entry can take, to bound a count by the bytes left in the file
_MIN_KV_BYTES = 8 + 4 + 1  # key length, value type, a one-byte value
_MIN_TENSOR_INFO_BYTES = 8 + 4 + 4 + 8  # name length, n_dims, type, offset
# left free beside a copy, so writing one never fills the disk to the last byte
_FREE_SPACE_MARGIN = 64 << 20


def check_gguf_file(path: pathlib.Path) -> None:
    """Reject what llama.cpp should never see: missing paths, directories, non-GGUF files."""
    if not path.exists():
        raise ModelNotFoundError(f"model file not found: {str(path)!r}")
    if path.is_dir():
        raise ModelLoadError(f"model path is a directory, not a GGUF file: {str(path)!r}")
    try:
        with path.open("rb") as fh:
            magic = fh.read(4)
    except OSError as exc:
        raise ModelLoadError(f"cannot read model file {str(path)!r}: {exc}") from exc
    if magic != _MAGIC:
        raise ModelLoadError(f"not a GGUF file (magic {magic!r}, expected b'GGUF'): {str(path)!r}")


def cache_dir() -> pathlib.Path:
    """Where llamaprov keeps files it derives from models: ``$LLAMAPROV_CACHE_DIR``, else
    ``$XDG_CACHE_HOME/llamaprov`` (``~/.cache/llamaprov``)."""
    explicit = os.environ.get("LLAMAPROV_CACHE_DIR")
    if explicit:
        return pathlib.Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return pathlib.Path(base) / "llamaprov"


class _Reader:
    """Reads a GGUF header, checking every length and count against the bytes left in the file
    before reading or allocating anything."""

    def __init__(self, fh: BinaryIO, path: pathlib.Path) -> None:
        self.fh = fh
        self.path = path
        self.size = os.fstat(fh.fileno()).st_size
        self.pos = fh.tell()

    def corrupt(self, detail: str) -> ModelLoadError:
        return _corrupt(self.path, detail)

    def raw(self, n: int) -> bytes:
        if n > self.size - self.pos:
            raise self.corrupt(f"{n} bytes at offset {self.pos} run past its end ({self.size} bytes)")
        data = self.fh.read(n)
        if len(data) != n:  # the file shrank while we read it
            raise self.corrupt(f"{n} bytes at offset {self.pos} could not be read")
        self.pos += n
        return data

    def u32(self) -> int:
        return int(struct.unpack("<I", self.raw(4))[0])

    def u64(self) -> int:
        return int(struct.unpack("<Q", self.raw(8))[0])

    def count(self, what: str, min_item_bytes: int) -> int:
        """A u64 count of items that take at least ``min_item_bytes`` each."""
        n = self.u64()
        if n * min_item_bytes > self.size - self.pos:
            raise self.corrupt(f"{what} {n} at offset {self.pos - 8} cannot fit in the "
                               f"{self.size - self.pos} bytes left")
        return n

    def string(self) -> bytes:
        return self.raw(self.count("string length", 1))

    def value(self, kind: int) -> bytes:
        """The encoded bytes of one value of ``kind`` (after its type tag)."""
        if kind in _SCALAR_SIZES:
            return self.raw(_SCALAR_SIZES[kind])
        if kind == _STRING:
            return _string(self.string())
        if kind == _ARRAY:
            item_kind = self.u32()
            if item_kind in _SCALAR_SIZES:
                size = _SCALAR_SIZES[item_kind]
                count = self.count("array length", size)
                return struct.pack("<IQ", item_kind, count) + self.raw(count * size)
            if item_kind == _STRING:
                count = self.count("array length", 8)
                return b"".join([struct.pack("<IQ", item_kind, count),
                                 *(_string(self.string()) for _ in range(count))])
            raise self.corrupt(f"array of GGUF value type {item_kind} (llama.cpp reads no such array)")
        raise self.corrupt(f"unknown GGUF value type {kind}")


def _string(text: bytes) -> bytes:
    return struct.pack("<Q", len(text)) + text


def _corrupt(path: pathlib.Path, detail: str) -> ModelLoadError:
    return ModelLoadError(f"GGUF file {str(path)!r} is truncated or corrupt: {detail}")


def _decode(kind: int, raw: bytes) -> Any:
    """A metadata value (as :meth:`_Reader.value` returns it) in Python: a number (a bool for
    a GGUF bool), a str, a tuple of numbers, or for an array of strings a tuple of their UTF-8
    bytes (a vocabulary's pieces, kept exact)."""
    if kind in _SCALAR_FORMATS:
        return struct.unpack("<" + _SCALAR_FORMATS[kind], raw)[0]
    if kind == _STRING:
        return raw[8:].decode("utf-8", errors="replace")
    item, count = struct.unpack_from("<IQ", raw)
    if item in _SCALAR_FORMATS:
        return struct.unpack_from(f"<{count}{_SCALAR_FORMATS[item]}", raw, 12)
    items, pos, length = [], 12, _U64.unpack_from
    for _ in range(count):
        end = pos + 8 + length(raw, pos)[0]
        items.append(raw[pos + 8:end])
        pos = end
    return tuple(items)


@dataclass(frozen=True)
class TensorInfo:
    """One tensor a GGUF header describes: its ggml type, its dimensions (innermost first), the
    offset of its data from :attr:`GgufHeader.data_offset`, and its size in bytes (None for a
    ggml type whose size is not known here)."""

    name: str
    ggml_type: int
    dims: tuple[int, ...]
    offset: int
    nbytes: int | None


@dataclass(frozen=True)
class GgufHeader:
    """What :func:`read_gguf_header` read: the metadata (key -> value, see below), the tensor
    descriptions, where the tensor data starts (the header's end, aligned) and the file's size.

    Metadata values are numbers (bools for GGUF bools), strs, tuples of numbers, and for an
    array of strings (a vocabulary) a tuple of the strings' UTF-8 bytes.
    """

    version: int
    metadata: dict[str, Any]
    tensors: tuple[TensorInfo, ...]
    data_offset: int
    size: int


@dataclass(frozen=True)
class _RawHeader:
    """A header as stored: each metadata pair as (key, value type, encoded value), and the
    span of the tensor descriptions, for a copy that rewrites the metadata."""

    version: int
    pairs: list[tuple[bytes, int, bytes]]
    tensors: tuple[TensorInfo, ...]
    infos: tuple[int, int]  # start and end offset of the tensor descriptions
    alignment: int
    data_offset: int
    size: int


def _read_raw(fh: BinaryIO, path: pathlib.Path) -> _RawHeader:
    """The header of the open GGUF file ``fh``: every count and length is checked against the
    bytes left in the file before anything is read or allocated, a tensor has at most
    GGML_MAX_DIMS dimensions, ``general.alignment`` is a power of two and the data starts
    within the file. Anything else raises :class:`~llamaprov.errors.ModelLoadError`."""
    fh.seek(0)
    r = _Reader(fh, path)
    if r.size < 4 or r.raw(4) != _MAGIC:
        raise ModelLoadError(f"not a GGUF file: {str(path)!r}")
    version = r.u32()
    if version not in _VERSIONS:
        raise ModelLoadError(f"unsupported GGUF version {version} in {str(path)!r}")
    n_tensors = r.count("tensor count", _MIN_TENSOR_INFO_BYTES)
    n_kv = r.count("metadata count", _MIN_KV_BYTES)
    pairs: list[tuple[bytes, int, bytes]] = []
    for _ in range(n_kv):
        key = r.string()
        kind = r.u32()
        pairs.append((key, kind, r.value(kind)))
    alignment = _alignment(pairs, path)
    infos_start = r.pos
    tensors = []
    for _ in range(n_tensors):
        name = r.string().decode("utf-8", errors="replace")
        n_dims = r.u32()
        if n_dims > _MAX_DIMS:
            raise r.corrupt(f"tensor {name!r} has {n_dims} dimensions (at most {_MAX_DIMS})")
        dims = struct.unpack(f"<{n_dims}Q", r.raw(8 * n_dims))
        ggml_type, offset = struct.unpack("<IQ", r.raw(12))
        tensors.append(TensorInfo(name, ggml_type, dims, offset, tensor_bytes(ggml_type, dims)))
    data_offset = -(-r.pos // alignment) * alignment
    if data_offset > r.size:
        raise r.corrupt(f"tensor data would start at {data_offset}, past its end ({r.size} bytes)")
    return _RawHeader(version, pairs, tuple(tensors), (infos_start, r.pos), alignment, data_offset, r.size)


def _read_header(fh: BinaryIO, path: pathlib.Path) -> GgufHeader:
    """:func:`read_gguf_header` of an open file."""
    raw = _read_raw(fh, path)
    for t in raw.tensors:
        start = raw.data_offset + t.offset
        if t.nbytes is not None and t.nbytes > raw.size - start:
            raise _corrupt(path, f"tensor {t.name!r} needs {t.nbytes} bytes from offset {start}, "
                                 f"past its end ({raw.size} bytes)")
    metadata = {key.decode("utf-8", errors="replace"): _decode(kind, value) for key, kind, value in raw.pairs}
    return GgufHeader(raw.version, metadata, raw.tensors, raw.data_offset, raw.size)


def _open(path: pathlib.Path) -> BinaryIO:
    try:
        return path.open("rb")
    except OSError as exc:
        raise ModelLoadError(f"cannot read {str(path)!r}: {exc}") from exc


def read_gguf_header(path: str | os.PathLike[str]) -> GgufHeader:
    """The header of the GGUF file at ``path``, read without loading it: metadata and tensor
    descriptions. Bounded: every count and length is checked against the file before anything
    is read or allocated, and the data of every tensor (of a type whose size is known) must lie
    within the file. A file that cannot be read, is not GGUF, or is truncated or malformed
    raises :class:`~llamaprov.errors.ModelLoadError`."""
    source = pathlib.Path(path)
    with _open(source) as fh:
        return _read_header(fh, source)


def copy_with_architecture(src: str | os.PathLike[str], dst: str | os.PathLike[str],
                           architecture: str) -> None:
    """Write a copy of the GGUF file ``src`` to ``dst`` whose ``general.architecture`` is
    ``architecture``, the old architecture's keys renamed to match (``llama.block_count`` ->
    ``llama-embed.block_count``). Tensors are copied unchanged. ``dst`` appears atomically.

    A malformed header (a count or length beyond the file, an unknown value type, a bad
    ``general.alignment``) raises :class:`~llamaprov.errors.ModelLoadError`.
    """
    source = pathlib.Path(src)
    with source.open("rb") as fh:
        _copy_open_file(fh, source, pathlib.Path(dst), architecture)


def _copy_open_file(fh: BinaryIO, source: pathlib.Path, target: pathlib.Path,
                    architecture: str) -> None:
    head = _read_raw(fh, source)
    old = next((raw[8:] for key, kind, raw in head.pairs
                if key == b"general.architecture" and kind == _STRING), None)
    if old is None:
        raise ModelLoadError(f"GGUF file has no general.architecture: {str(source)!r}")
    fh.seek(head.infos[0])
    infos = fh.read(head.infos[1] - head.infos[0])

    new_arch = architecture.encode()
    header = [_MAGIC, struct.pack("<IQQ", head.version, len(head.tensors), len(head.pairs))]
    for key, kind, raw in head.pairs:
        if key == b"general.architecture":
            raw = _string(new_arch)
        elif key.startswith(old + b"."):
            key = new_arch + key[len(old):]
        header += [_string(key), struct.pack("<I", kind), raw]
    header.append(infos)
    data = b"".join(header)
    data += b"\0" * (-len(data) % head.alignment)

    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=target.name, suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            fh.seek(head.data_offset)
            shutil.copyfileobj(fh, out, 1 << 22)
            out.flush()
            os.fsync(out.fileno())  # never a complete-looking name over incomplete data
        os.replace(tmp, target)
    except BaseException:
        pathlib.Path(tmp).unlink(missing_ok=True)
        raise


def _alignment(pairs: list[tuple[bytes, int, bytes]], source: pathlib.Path) -> int:
    """``general.alignment``: a power of two stored as uint32, as llama.cpp requires."""
    for key, kind, raw in pairs:
        if key == b"general.alignment":
            value = int(struct.unpack("<I", raw)[0]) if kind == _UINT32 else None
            if value is None or value <= 0 or value & (value - 1):
                shown = value if value is not None else f"of GGUF value type {kind}"
                raise ModelLoadError(f"GGUF file {str(source)!r} has general.alignment {shown}; "
                                     "it must be a power of two stored as uint32")
            return value
    return _DEFAULT_ALIGNMENT


def content_digest(fh: BinaryIO) -> str:
    """SHA-256 of a whole open file, read from its start (hex)."""
    digest = hashlib.sha256()
    buf = bytearray(1 << 22)
    view = memoryview(buf)
    fh.seek(0)
    while n := fh.readinto(buf):  # type: ignore[attr-defined]
        digest.update(view[:n])
    return digest.hexdigest()


def cached_copy_with_architecture(src: str | os.PathLike[str], architecture: str,
                                  folder: pathlib.Path) -> pathlib.Path:
    """:func:`copy_with_architecture` of ``src`` into ``folder``, made once per content of the
    file (its SHA-256: a file replaced in place, even with the same size and modification time,
    gets a new copy); copies of its older versions are removed.

    Before writing, checks that ``folder``'s file system has room for the copy (about the size
    of ``src``) plus a margin, and raises :class:`~llamaprov.errors.ModelLoadError` if not.
    Other failures to write raise :class:`OSError`.
    """
    source = pathlib.Path(src)
    ident = hashlib.sha1(str(source.resolve()).encode()).hexdigest()[:12]
    with source.open("rb") as fh:  # one open file: the copy is made from the bytes hashed
        digest = content_digest(fh)
        target = folder / f"{source.stem}-{ident}-{digest[:32]}.{architecture}.gguf"
        if target.exists():
            return target
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob(f"{glob.escape(source.stem)}-{ident}-*.gguf"):
            if old != target:
                with contextlib.suppress(OSError):  # e.g. still mapped by a process on Windows
                    old.unlink()
        need = os.fstat(fh.fileno()).st_size + _FREE_SPACE_MARGIN
        free = shutil.disk_usage(folder).free
        if free < need:
            raise ModelLoadError(
                f"not enough free space in {str(folder)!r} for the {architecture} copy of "
                f"{str(source)!r}: it needs {need} bytes (with a margin), {free} are free")
        _copy_open_file(fh, source, target, architecture)
    return target


def read_f32_tensors(path: str | os.PathLike[str]) -> tuple[dict[str, str], dict[str, list[float]]]:
    """The string metadata and the F32 tensors (flattened) of a small GGUF file, such as a
    control vector. Read as :func:`read_gguf_header` reads a header; a tensor of another type
    raises :class:`~llamaprov.errors.ModelLoadError`."""
    source = pathlib.Path(path)
    with _open(source) as fh:
        header = _read_header(fh, source)
        for t in header.tensors:
            if t.ggml_type != GGML_TYPE_F32:
                raise ModelLoadError(f"tensor {t.name!r} of {str(source)!r} is not F32 "
                                     f"(ggml type {t.ggml_type})")
        tensors: dict[str, list[float]] = {}
        for t in header.tensors:
            fh.seek(header.data_offset + t.offset)
            data = fh.read(t.nbytes or 0)
            if len(data) != t.nbytes:  # the file shrank while we read it
                raise _corrupt(source, f"tensor {t.name!r} could not be read")
            tensors[t.name] = list(struct.unpack(f"<{len(data) // 4}f", data))
    meta = {key: value for key, value in header.metadata.items() if isinstance(value, str)}
    return meta, tensors
