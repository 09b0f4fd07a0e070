"""Checking GBNF grammars with llama.cpp's own grammar engine.

:func:`validate_gbnf` parses a grammar with llama.cpp and raises :class:`GrammarError` with its
message. :class:`GrammarMatcher` runs llama.cpp's grammar sampler over a text token by token
(the conformance harness uses it): it never feeds a token the grammar forbids, which would abort
the process.
"""

from __future__ import annotations

import contextlib
import pathlib
import threading
from typing import Any

from ..errors import GrammarError, InvalidArgumentError, describe

__all__ = ["GrammarMatcher", "validate_gbnf"]

_lock = threading.Lock()
_vocab_state: dict[str, Any] = {}


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


def validate_gbnf(text: str, *, root: str = "root") -> None:
    """Check that llama.cpp parses ``text`` as a grammar with rule ``root``.

    Raises :class:`GrammarError` carrying llama.cpp's message when it does not.
    """
    if not isinstance(text, str):
        raise InvalidArgumentError(f"a GBNF grammar is a str, got {describe(text)}")
    if not isinstance(root, str) or not root:
        raise InvalidArgumentError(f"root must be a rule name, got {describe(root)}")
    from ..engine.grammar import new_grammar

    _lib().lib.llama_sampler_free(new_grammar(_vocab(), text, root))


class GrammarMatcher:
    """Does llama.cpp's grammar engine accept a text? (token by token, then end of generation)"""

    def __init__(self, grammar: str, *, root: str = "root", model_path: str | None = None) -> None:
        if not isinstance(grammar, str):
            raise InvalidArgumentError(f"a GBNF grammar is a str, got {describe(grammar)}")
        from ..engine.grammar import new_grammar

        self._lib = _lib().lib
        self._vocab = _vocab(model_path)
        self._sampler = new_grammar(self._vocab, grammar, root)
        self._eog = self._lib.llama_vocab_eos(self._vocab)
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
        from ..engine.grammar import allows

        return allows(self._sampler, token)

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
