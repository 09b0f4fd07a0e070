"""Checking GBNF grammars with llama.cpp's own grammar engine.

:func:`validate_gbnf` parses a grammar with llama.cpp and raises :class:`GrammarError` with its
message. :class:`GrammarMatcher` runs llama.cpp's grammar sampler over a text token by token
(the conformance harness uses it): it never feeds a token the grammar forbids, which would abort
the process.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import pathlib
import re
import sys
import tempfile
import threading
from collections.abc import Iterator
from typing import Any

from ..errors import GrammarError, InvalidArgumentError, describe

__all__ = ["GrammarMatcher", "validate_gbnf"]

_lock = threading.Lock()
_vocab_state: dict[str, Any] = {}
_MAX_NESTING = 1000  # llama.cpp's recursive-descent parser overflows the C stack on deep nesting (30,000 did)


def _lib() -> Any:
    from ..engine import _ffi  # installs the process-wide llama.cpp log callback

    return _ffi


def _vocab(model_path: str | pathlib.Path | None = None) -> Any:
    """A vocabulary pointer from a vocab-only load (default model unless a path is given)."""
    ffi = _lib()
    lib = ffi.lib
    if model_path is None:
        from ..engine import default_model_path

        model_path = default_model_path()
    key = str(model_path)
    with _lock:
        found = _vocab_state.get(key)
        if found is not None:
            return found[1]
        params = lib.llama_model_default_params()
        params.vocab_only = True
        model = lib.llama_model_load_from_file(key.encode("utf-8"), params)
        if not model:
            raise GrammarError(f"could not load a vocabulary from {key}")
        vocab = lib.llama_model_get_vocab(model)
        _vocab_state[key] = (model, vocab)  # kept for the life of the process
        return vocab


def _precheck(text: str) -> None:
    """Reject inputs that would crash llama.cpp's parser instead of failing cleanly."""
    depth = deepest = 0
    in_str = in_class = False
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and (in_str or in_class):
            i += 2
            continue
        if in_str:
            in_str = ch != '"'
        elif in_class:
            in_class = ch != "]"
        elif ch == '"':
            in_str = True
        elif ch == "[":
            in_class = True
        elif ch == "#":
            nl = text.find("\n", i)
            i = len(text) if nl < 0 else nl
            continue
        elif ch == "(":
            depth += 1
            deepest = max(deepest, depth)
        elif ch == ")":
            depth -= 1
        i += 1
    if deepest > _MAX_NESTING:
        raise GrammarError(f"grammar nests parentheses {deepest} deep (at most {_MAX_NESTING})")
    for m in re.finditer(r"\{\s*(\d+)\s*(?:,\s*(\d*)\s*)?\}", text):
        if any(g and int(g) > 2000 for g in m.groups()):
            raise GrammarError(f"repetition {m.group(0)} exceeds llama.cpp's limit of 2000")


@contextlib.contextmanager
def _captured_stderr() -> Iterator[list[str]]:
    """Capture what C code writes to file descriptor 2 (llama.cpp's parser reports there)."""
    out: list[str] = []
    with tempfile.TemporaryFile() as tmp:
        sys.stderr.flush()
        saved = os.dup(2)
        os.dup2(tmp.fileno(), 2)
        try:
            yield out
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            out.append(tmp.read().decode("utf-8", errors="replace"))


def _init_sampler(text: str, root: str, vocab: Any) -> Any:
    ffi = _lib()
    ffi.recent_log(clear=True)
    with _lock, _captured_stderr() as err:
        sampler = ffi.lib.llama_sampler_init_grammar(vocab, text.encode("utf-8"), root.encode("utf-8"))
    if not sampler:
        printed = err[0].strip().split("\n\n")[0].strip() if err and err[0].strip() else ""
        lines = [ln for ln in ffi.recent_log(clear=True) if ln.strip()]
        message = printed or "; ".join(lines[-3:]) or "llama.cpp rejected the grammar"
        raise GrammarError(f"invalid GBNF grammar: {message}")
    return sampler


def validate_gbnf(text: str, *, root: str = "root") -> None:
    """Check that llama.cpp parses ``text`` as a grammar with rule ``root``.

    Raises :class:`GrammarError` carrying llama.cpp's message when it does not.
    """
    if not isinstance(text, str):
        raise InvalidArgumentError(f"a GBNF grammar is a str, got {describe(text)}")
    if not isinstance(root, str) or not root:
        raise InvalidArgumentError(f"root must be a rule name, got {describe(root)}")
    if "\x00" in text:
        raise GrammarError("grammar text contains a NUL character")
    if not text.strip():
        raise GrammarError("empty grammar")
    _precheck(text)
    sampler = _init_sampler(text, root, _vocab())
    _lib().lib.llama_sampler_free(sampler)


class GrammarMatcher:
    """Does llama.cpp's grammar engine accept a text? (token by token, then end of generation)"""

    def __init__(self, grammar: str, *, root: str = "root", model_path: str | None = None) -> None:
        if not isinstance(grammar, str):
            raise InvalidArgumentError(f"a GBNF grammar is a str, got {describe(grammar)}")
        _precheck(grammar)
        ffi = _lib()
        self._lib = ffi.lib
        self._vocab = _vocab(model_path)
        self._sampler = _init_sampler(grammar, root, self._vocab)
        self._eog = self._lib.llama_vocab_eos(self._vocab)
        self._data = (self._lib.llama_token_data * 1)()
        self._array = self._lib.llama_token_data_array(
            data=ctypes.cast(self._data, ctypes.POINTER(self._lib.llama_token_data)),
            size=1,
            selected=-1,
            sorted=False,
        )
        self._tokens = (self._lib.llama_token * 4096)()

    def close(self) -> None:
        if self._sampler:
            self._lib.llama_sampler_free(self._sampler)
            self._sampler = None

    def __enter__(self) -> GrammarMatcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.close()

    def tokenize(self, text: str) -> list[int]:
        raw = text.encode("utf-8")
        n = self._lib.llama_tokenize(
            self._vocab, raw, len(raw), self._tokens, len(self._tokens), False, False
        )
        if n < 0:
            buf = (self._lib.llama_token * -n)()
            n = self._lib.llama_tokenize(self._vocab, raw, len(raw), buf, -n, False, False)
            return list(buf[:n])
        return list(self._tokens[:n])

    def allows(self, token: int) -> bool:
        self._data[0].id = token
        self._data[0].logit = 0.0
        self._data[0].p = 0.0
        self._array.size = 1
        self._array.selected = -1
        self._lib.llama_sampler_apply(self._sampler, ctypes.byref(self._array))
        return bool(self._data[0].logit != float("-inf"))

    def accepts(self, text: str) -> bool:
        """True when the grammar accepts exactly ``text`` (and then allows end of generation)."""
        if self._sampler is None:
            raise GrammarError("matcher is closed")
        self._lib.llama_sampler_reset(self._sampler)
        for tok in self.tokenize(text):
            if not self.allows(tok):
                return False
            self._lib.llama_sampler_accept(self._sampler, tok)
        return self.allows(self._eog)
