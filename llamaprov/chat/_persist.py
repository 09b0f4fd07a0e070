"""The chat file behind :meth:`Chat.save` and :meth:`Chat.load`: a conversation and the KV cache of
its prompt in one file, so a long conversation resumes without decoding its prompt again.

Layout: the 16-byte magic ``b"llamaprov-chat\\n\\x00"``, the header length (uint64, little
endian), the header's SHA-256 (32 bytes), the header (UTF-8 JSON, as Python's ``json`` writes
it), then the KV cache: a llama.cpp sequence-state file of ``kv.n_bytes`` bytes (its SHA-256 in
``kv.sha256``), or nothing.

The header holds ``format`` ("llamaprov.chat") and ``version`` (1); ``model``, the identity of
the model the cache belongs to (file name, llama.cpp's description, parameter count, vocabulary
size, byte size, SHA-256 of its metadata, and a SHA-256 of samples of the file); the system
prompt; the turns with every content type; the names of the registered tools, the tool choice
and the bounds on tool calls (functions are not saved: :meth:`Chat.load` takes them again; a
file without ``parallel_tool_calls``, older than it, loads with None); the generation settings;
the chat's LoRA adapters (file name, fingerprint, scale; the adapters are loaded again by the
caller); and ``kv``: ``{"n_tokens", "n_bytes", "sha256"}`` or null. Nothing is unpickled: the
file may come from anywhere, and every field is checked before it is used.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import pathlib
import struct
import tempfile
import threading
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import IO, TYPE_CHECKING, Any

from llamaprov.chat.content import (
    Content,
    ContentJson,
    ContentText,
    ContentThinking,
    ContentToolRequest,
    ContentToolResult,
)
from llamaprov.chat.params import ChatParams
from llamaprov.chat.provider import Provider
from llamaprov.chat.provider_llama import LlamaProvider
from llamaprov.chat.tools import as_tools
from llamaprov.chat.turns import ROLES, TokenUsage, Turn
from llamaprov.errors import InvalidArgumentError, LlamaProvError, StateError, describe

if TYPE_CHECKING:
    from llamaprov.chat.chat import Chat

MAGIC = b"llamaprov-chat\n\x00"
FORMAT, VERSION = "llamaprov.chat", 1
_HEAD = len(MAGIC) + 8 + 32
_MAX_HEADER = 1 << 30  # bytes: a larger header is not one this module wrote
_CHUNK = 1 << 20
_SAMPLE = 64 << 10  # bytes per sample of a model or adapter file (see fingerprint)
_IDENTITY_KEYS = ("n_params", "n_vocab", "size", "meta_sha256")


# ---------------------------------------------------------------------------------- identity
_fingerprints: dict[tuple[str, int, int], str] = {}
_fingerprint_lock = threading.Lock()


def fingerprint(path: str | os.PathLike[str]) -> str | None:
    """A SHA-256 of a file's size, its first 256 KiB and 17 more samples of 64 KiB spread
    over it (the whole file when small): tells model files (and adapters) apart without reading
    gigabytes. None when the file cannot be read."""
    try:
        stat = os.stat(path)
        key = (str(path), stat.st_size, stat.st_mtime_ns)
        with _fingerprint_lock:
            if key in _fingerprints:
                return _fingerprints[key]
        size = stat.st_size
        digest = hashlib.sha256(str(size).encode())
        with open(path, "rb") as fh:
            if size <= 2 * (256 << 10) + 17 * _SAMPLE:
                digest.update(fh.read())
            else:
                digest.update(fh.read(256 << 10))
                for i in range(1, 18):
                    fh.seek((size - _SAMPLE) * i // 17)
                    digest.update(fh.read(_SAMPLE))
    except OSError:
        return None
    value = digest.hexdigest()
    with _fingerprint_lock:
        _fingerprints[key] = value
    return value


def identity(provider: Provider) -> dict[str, Any]:
    """What a saved KV cache must match: the provider's model."""
    if not isinstance(provider, LlamaProvider):
        return {"provider": type(provider).__name__}
    model = provider.model
    info = model.info()
    meta = json.dumps(model.meta, sort_keys=True, ensure_ascii=False).encode()
    return {
        "provider": "LlamaProvider", "name": model.path.name, "desc": info.desc,
        "n_params": info.n_params, "n_vocab": info.n_vocab, "size": info.size,
        "meta_sha256": hashlib.sha256(meta).hexdigest(), "fingerprint": fingerprint(model.path),
    }


def _same_model(saved: Mapping[str, Any], current: Mapping[str, Any]) -> bool:
    if saved.get("provider") != "LlamaProvider" or current.get("provider") != "LlamaProvider":
        return False
    if any(saved.get(k) != current.get(k) for k in _IDENTITY_KEYS):
        return False
    a, b = saved.get("fingerprint"), current.get("fingerprint")
    return a is None or b is None or a == b


def _model_label(ident: Mapping[str, Any]) -> str:
    name, desc = ident.get("name"), ident.get("desc")
    return f"{name!r} ({desc})" if desc else repr(name or ident.get("provider"))


# ------------------------------------------------------------------------------- turns as JSON
def _plain(value: Any, what: str) -> Any:
    """``value`` as JSON data, or InvalidArgumentError naming ``what``."""
    try:
        return json.loads(json.dumps(value, ensure_ascii=False))
    except (TypeError, ValueError) as exc:
        raise InvalidArgumentError(f"cannot save the chat: {what} is not JSON data ({exc})") from exc


def _result_value(result: ContentToolResult) -> Any:
    """A tool result's value as JSON data that shows the model the same text, else that text."""
    try:
        value = json.loads(json.dumps(result.value, ensure_ascii=False))
    except (TypeError, ValueError):
        return result.as_text() if result.error is None else None
    same = ContentToolResult(result.request_id, value, result.error, result.name).as_text()
    return value if same == result.as_text() else result.as_text()


def content_to_dict(c: Content) -> dict[str, Any]:
    """One content as JSON data."""
    if isinstance(c, ContentText):
        return {"type": "text", "text": c.text}
    if isinstance(c, ContentThinking):
        return {"type": "thinking", "thinking": c.thinking}
    if isinstance(c, ContentToolRequest):
        return {"type": "tool_request", "id": c.id, "name": c.name,
                "arguments": _plain(c.arguments, f"the arguments of tool call {c.id!r}")}
    if isinstance(c, ContentToolResult):
        return {"type": "tool_result", "request_id": c.request_id, "name": c.name,
                "error": c.error, "value": _result_value(c)}
    return {"type": "json", "data": _plain(c.data, "structured data")}


def turn_to_dict(turn: Turn) -> dict[str, Any]:
    """One turn as JSON data."""
    tokens = turn.tokens
    return {"role": turn.role, "contents": [content_to_dict(c) for c in turn.contents],
            "tokens": None if tokens is None else
            {"input": tokens.input, "output": tokens.output, "cached": tokens.cached},
            "finish_reason": turn.finish_reason}


class _Reader:
    """Reads the header's fields, raising StateError naming the file and the field."""

    def __init__(self, source: pathlib.Path) -> None:
        self.source = source

    def fail(self, message: str) -> StateError:
        return StateError(f"{str(self.source)!r} is not a valid chat file: {message}")

    def get(self, data: Any, key: str, types: type | tuple[type, ...], where: str,
            optional: bool = False) -> Any:
        if not isinstance(data, dict):
            raise self.fail(f"{where} is not an object")
        if key not in data and optional:
            return None
        value = data.get(key)
        if value is None and optional:
            return None
        if not isinstance(value, types) or (isinstance(value, bool) and types is int):
            raise self.fail(f"{where}.{key} is {describe(value, 40)}")
        return value

    def count(self, data: Any, key: str, where: str) -> int:
        value: int = self.get(data, key, int, where)
        if value < 0:
            raise self.fail(f"{where}.{key} is negative")
        return value

    def content(self, d: Any, where: str) -> Content:
        kind = self.get(d, "type", str, where)
        if kind == "text":
            return ContentText(self.get(d, "text", str, where))
        if kind == "thinking":
            return ContentThinking(self.get(d, "thinking", str, where))
        if kind == "tool_request":
            return ContentToolRequest(self.get(d, "id", str, where), self.get(d, "name", str, where),
                                      self.get(d, "arguments", dict, where))
        if kind == "tool_result":
            return ContentToolResult(self.get(d, "request_id", str, where), d.get("value"),
                                     self.get(d, "error", str, where, optional=True),
                                     self.get(d, "name", str, where, optional=True))
        if kind == "json":
            return ContentJson(d.get("data"))
        raise self.fail(f"{where}.type {kind!r} is not a content type")

    def turn(self, d: Any, where: str) -> Turn:
        role = self.get(d, "role", str, where)
        if role not in ROLES:
            raise self.fail(f"{where}.role {role!r} is not one of {ROLES}")
        contents = self.get(d, "contents", list, where)
        usage = self.get(d, "tokens", dict, where, optional=True)
        tokens = None if usage is None else TokenUsage(
            *(self.count(usage, k, f"{where}.tokens") for k in ("input", "output", "cached")))
        return Turn(role, [self.content(c, f"{where}.contents[{i}]") for i, c in enumerate(contents)],
                    tokens=tokens, finish_reason=self.get(d, "finish_reason", str, where, optional=True))


# ----------------------------------------------------------------------------- settings as JSON
def params_to_dict(params: ChatParams) -> dict[str, Any]:
    """The generation settings but the LoRA adapters, as JSON data."""
    out = params.as_dict()
    out.pop("lora", None)
    if "stop" in out:
        out["stop"] = list(out["stop"])
    if "logit_bias" in out:
        out["logit_bias"] = [[int(t), float(b)] for t, b in out["logit_bias"].items()]
    return out


def params_from_dict(data: dict[str, Any], reader: _Reader) -> ChatParams:
    values = dict(data)
    if "lora" in values:
        raise reader.fail("params.lora is not saved there")
    try:
        if isinstance(values.get("logit_bias"), list):
            values["logit_bias"] = {t: b for t, b in values["logit_bias"]}
        return ChatParams.coerce(values)
    except (LlamaProvError, TypeError, ValueError) as exc:
        raise reader.fail(f"params: {exc}") from exc


def lora_to_list(lora: Mapping[Any, float] | None) -> list[dict[str, Any]]:
    return [{"name": a.path.name, "fingerprint": fingerprint(a.path), "scale": s}
            for a, s in (lora or {}).items()]


def _match_lora(saved: list[dict[str, Any]], given: Mapping[Any, float] | None,
                source: pathlib.Path) -> None:
    """Every adapter the chat was saved with must be among ``given`` (by file fingerprint,
    or by file name where a fingerprint is missing), unless ``given`` is ``{}``."""
    if not saved or (given is not None and not given):
        return
    names = [d["name"] for d in saved]
    if given is None:
        raise InvalidArgumentError(
            f"the chat in {str(source)!r} was saved with the LoRA adapters {names}: load them for "
            "the provider's model (model.load_lora(path)) and pass lora={adapter: scale}, or "
            "lora={} to go on without them")
    have = [(fingerprint(a.path), a.path.name) for a in given]
    missing = [d["name"] for d in saved if not any(
        (fp == d["fingerprint"]) if fp and d["fingerprint"] else name == d["name"] for fp, name in have)]
    if missing:
        raise InvalidArgumentError(
            f"the chat in {str(source)!r} was saved with the LoRA adapters {missing}, which lora= "
            "does not hold (pass lora={} to go on without adapters)")


# ---------------------------------------------------------------------------------- the file
def _path(path: Any) -> pathlib.Path:
    if not isinstance(path, (str, os.PathLike)):
        raise InvalidArgumentError(f"a chat file path is a str or path, got {describe(path)}")
    return pathlib.Path(path)


@contextlib.contextmanager
def _temp_path(directory: pathlib.Path | None, suffix: str) -> Iterator[pathlib.Path]:
    fd, name = tempfile.mkstemp(prefix=".llamaprov-", suffix=suffix, dir=directory)
    os.close(fd)
    try:
        yield pathlib.Path(name)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(name)


def _copy(src: IO[bytes], dst: IO[bytes], n: int, update: Callable[[bytes], Any]) -> int:
    """Copy ``n`` bytes (fewer where ``src`` ends); returns how many were copied."""
    done = 0
    while done < n:
        chunk = src.read(min(_CHUNK, n - done))
        if not chunk:
            break
        update(chunk)
        dst.write(chunk)
        done += len(chunk)
    return done


def save(chat: Chat, path: Any, *, kv: bool = True) -> pathlib.Path:
    """Write ``chat`` (and the KV cache of its prompt when ``kv``) to ``path`` atomically."""
    target = _path(path)
    provider = chat.provider
    with chat._lock:
        chat._settle_abandoned()
        tools = chat.get_tools()
        params = chat.params()
        header: dict[str, Any] = {
            "format": FORMAT, "version": VERSION, "model": identity(provider),
            "system_prompt": chat.system_prompt,
            "turns": [turn_to_dict(t) for t in chat.get_turns()],
            "tools": [t.name for t in tools], "tool_choice": str(chat.tool_choice),
            "max_tool_rounds": chat.max_tool_rounds, "max_calls_per_round": chat.max_calls_per_round,
            "parallel_tool_calls": chat.parallel_tool_calls,
            "params": params_to_dict(params), "lora": lora_to_list(params.lora), "kv": None,
        }
        directory = target.parent
        with _temp_path(directory, ".kv") as kv_file, _temp_path(directory, ".tmp") as out_file:
            n_tokens = 0
            if kv and isinstance(provider, LlamaProvider) and chat.get_turns():
                shown = tools if chat.tool_choice != "none" else []
                last = chat.last_turn()
                own = last.tokens.input if last is not None and last.tokens else 1 << 62
                n_tokens = provider._kv_export(chat._full_turns([]), shown, params.max_tokens, kv_file,
                                               own, parallel_tool_calls=chat.parallel_tool_calls,
                                               max_tool_calls=chat.max_calls_per_round)
            digest = hashlib.sha256()
            if n_tokens:
                with kv_file.open("rb") as fh:
                    for chunk in iter(lambda: fh.read(_CHUNK), b""):
                        digest.update(chunk)
                header["kv"] = {"n_tokens": n_tokens, "n_bytes": kv_file.stat().st_size,
                                "sha256": digest.hexdigest()}
            data = json.dumps(header, ensure_ascii=False).encode()
            with out_file.open("wb") as out:
                out.write(MAGIC + struct.pack("<Q", len(data)) + hashlib.sha256(data).digest() + data)
                if n_tokens:
                    with kv_file.open("rb") as fh:
                        _copy(fh, out, header["kv"]["n_bytes"], lambda _b: None)
                out.flush()
                os.fsync(out.fileno())
            os.replace(out_file, target)
    return target


def _read_header(fh: IO[bytes], reader: _Reader, size: int) -> dict[str, Any]:
    head = fh.read(_HEAD)
    if not head.startswith(MAGIC) and not (head and MAGIC.startswith(head)):
        raise StateError(f"{str(reader.source)!r} is not a llamaprov chat file")
    if len(head) < _HEAD:
        raise reader.fail(f"it ends after {len(head)} bytes")
    (n,) = struct.unpack("<Q", head[len(MAGIC):len(MAGIC) + 8])
    if n > min(_MAX_HEADER, size - _HEAD):
        raise reader.fail(f"its header of {n} bytes does not fit in the file of {size} bytes")
    data = fh.read(n)
    if hashlib.sha256(data).digest() != head[len(MAGIC) + 8:]:
        raise reader.fail("its header does not match its checksum (a damaged file)")
    try:
        header = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise reader.fail(f"its header is not JSON ({exc})") from exc
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise reader.fail("its header does not name the llamaprov.chat format")
    if header.get("version") != VERSION:
        raise reader.fail(f"format version {describe(header.get('version'))}; this llamaprov "
                          f"reads version {VERSION}")
    return header


def load(cls: type[Chat], path: Any, provider: Provider, *, tools: Sequence[Any] = (),
         lora: Mapping[Any, float] | None = None, allow_other_model: bool = False,
         kv: bool = True) -> Chat:
    """A :class:`Chat` on ``provider`` from a file of :func:`save` (see :meth:`Chat.load`)."""
    source = _path(path)
    if not isinstance(provider, Provider):
        raise InvalidArgumentError(f"Chat.load needs a Provider, got {describe(provider)}")
    reader = _Reader(source)
    try:
        fh = source.open("rb")
    except OSError as exc:
        raise StateError(f"cannot read the chat file {str(source)!r}: {exc}") from exc
    with fh:
        size = os.fstat(fh.fileno()).st_size
        header = _read_header(fh, reader, size)
        where = "header"
        turns = [reader.turn(t, f"turns[{i}]")
                 for i, t in enumerate(reader.get(header, "turns", list, where))]
        system = reader.get(header, "system_prompt", str, where, optional=True)
        names = reader.get(header, "tools", list, where)
        if not all(isinstance(n, str) for n in names):
            raise reader.fail("tools holds a value that is not a tool name")
        params = params_from_dict(reader.get(header, "params", dict, where), reader)
        saved_lora = reader.get(header, "lora", list, where)
        for i, d in enumerate(saved_lora):
            reader.get(d, "name", str, f"lora[{i}]")
            reader.get(d, "fingerprint", str, f"lora[{i}]", optional=True)
        saved_model = reader.get(header, "model", dict, where)
        cache = reader.get(header, "kv", dict, where, optional=True)
        if cache is not None:
            n_tokens, n_bytes = reader.count(cache, "n_tokens", "kv"), reader.count(cache, "n_bytes", "kv")
            sha = reader.get(cache, "sha256", str, "kv")
            if fh.tell() + n_bytes != size:
                raise reader.fail(f"it holds {size - fh.tell()} bytes of KV cache, not the "
                                  f"{n_bytes} its header announces (a truncated or damaged file)")
        elif fh.tell() != size:
            raise reader.fail(f"{size - fh.tell()} bytes follow its header")
        # what the caller gives must complete what was saved
        defs = as_tools(tools)
        missing = [n for n in names if n not in {t.name for t in defs}]
        if missing:
            raise InvalidArgumentError(
                f"the chat in {str(source)!r} was saved with the tools {missing}, which tools= "
                "does not hold (functions are not saved: pass them again)")
        _match_lora(saved_lora, lora, source)
        same = _same_model(saved_model, identity(provider))
        if isinstance(provider, LlamaProvider) and not same and not allow_other_model:
            raise StateError(
                f"the chat in {str(source)!r} was saved with the model {_model_label(saved_model)}; "
                f"this provider runs {_model_label(identity(provider))} (pass "
                "allow_other_model=True to go on with the conversation without its KV cache)")
        try:
            chat = cls(provider, system_prompt=system, params=params, tools=defs,
                       tool_choice=reader.get(header, "tool_choice", str, where),
                       max_tool_rounds=reader.count(header, "max_tool_rounds", where),
                       max_calls_per_round=reader.count(header, "max_calls_per_round", where),
                       parallel_tool_calls=reader.get(header, "parallel_tool_calls", bool, where,
                                                      optional=True),
                       turns=turns, lora=lora)
        except StateError:
            raise
        except LlamaProvError as exc:
            raise reader.fail(str(exc)) from exc
        if cache is not None and kv and same and isinstance(provider, LlamaProvider):
            _restore(provider, fh, reader, n_tokens, n_bytes, sha)
    return chat


def _restore(provider: LlamaProvider, fh: IO[bytes], reader: _Reader, n_tokens: int,
             n_bytes: int, sha: str) -> None:
    """Check the saved KV cache and hand it to the provider (a refusal leaves its cache empty
    and warns: the first reply then decodes the whole prompt)."""
    with _temp_path(None, ".kv") as kv_file:
        digest = hashlib.sha256()
        with kv_file.open("wb") as out:
            _copy(fh, out, n_bytes, digest.update)
        if digest.hexdigest() != sha:
            raise reader.fail("its KV cache does not match its checksum (a damaged file)")
        try:
            restored = provider._kv_import(kv_file, n_tokens)
        except StateError as exc:
            warnings.warn(f"the KV cache saved in {str(reader.source)!r} was not restored ({exc}); "
                          "the first reply decodes the whole prompt", RuntimeWarning, stacklevel=4)
            return
    if not restored:
        warnings.warn(f"the KV cache saved in {str(reader.source)!r} was not restored (the "
                      "provider's context is too small or has LoRA adapters applied); the first "
                      "reply decodes the whole prompt", RuntimeWarning, stacklevel=4)


__all__ = ["FORMAT", "MAGIC", "VERSION", "fingerprint", "identity", "load", "save"]
