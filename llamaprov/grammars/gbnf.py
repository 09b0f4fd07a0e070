"""Checking GBNF grammars with llama.cpp's own grammar engine.

:func:`validate_gbnf` parses a grammar with llama.cpp and raises :class:`GrammarError` with its
message. :class:`GrammarMatcher` runs llama.cpp's grammar sampler over a text token by token
(the conformance harness uses it): it never feeds a token the grammar forbids, which would abort
the process. Both go through the engine (``llamaprov.engine.grammar``), where every grammar
handed to llama.cpp is checked; the vocabulary comes from a vocab-only load of the model.
"""

from __future__ import annotations

import contextlib
import pathlib
import threading
from typing import TYPE_CHECKING

from ..errors import GrammarError, InvalidArgumentError, describe

if TYPE_CHECKING:
    from ..engine import Model

__all__ = ["GrammarMatcher", "validate_gbnf"]

_lock = threading.Lock()
_vocab_models: dict[str, Model] = {}


def _vocab_model(model_path: str | pathlib.Path | None = None) -> Model:
    """A vocab-only load of the model (the default one unless a path is given), kept for the
    life of the process: grammars need only its tokens."""
    from ..engine import default_model_path, load_model

    key = str(model_path if model_path is not None else default_model_path())
    with _lock:
        model = _vocab_models.get(key)
        if model is None:
            model = _vocab_models[key] = load_model(key, vocab_only=True)
        return model


def validate_gbnf(text: str, *, root: str = "root") -> None:
    """Check that llama.cpp parses ``text`` as a grammar with rule ``root``.

    Raises :class:`GrammarError` carrying llama.cpp's message when it does not.
    """
    if not isinstance(text, str):
        raise InvalidArgumentError(f"a GBNF grammar is a str, got {describe(text)}")
    if not isinstance(root, str) or not root:
        raise InvalidArgumentError(f"root must be a rule name, got {describe(root)}")
    from ..engine import sampling

    sampling.grammar(_vocab_model(), text, root).close()


class GrammarMatcher:
    """Does llama.cpp's grammar engine accept a text? (token by token, then end of generation)"""

    def __init__(self, grammar: str, *, root: str = "root", model_path: str | None = None) -> None:
        if not isinstance(grammar, str):
            raise InvalidArgumentError(f"a GBNF grammar is a str, got {describe(grammar)}")
        from ..engine import sampling

        self._model = _vocab_model(model_path)
        self._sampler = sampling.grammar(self._model, grammar, root)
        eos = self._model.vocab.eos
        self._eog = eos if eos is not None else next(iter(self._model.vocab.eog_tokens()))

    def close(self) -> None:
        """Free the grammar."""
        self._sampler.close()

    def __enter__(self) -> GrammarMatcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.close()

    def tokenize(self, text: str) -> list[int]:
        """``text`` as tokens of the vocabulary (no special tokens parsed or added)."""
        return self._model.tokenize(text, add_special=False, parse_special=False)

    def allows(self, token: int) -> bool:
        """Whether the grammar takes ``token`` next."""
        return self._sampler.allows(token)

    def accepts(self, text: str) -> bool:
        """True when the grammar accepts exactly ``text`` (and then allows end of generation)."""
        if self._sampler.closed:
            raise GrammarError("matcher is closed")
        self._sampler.reset()
        for tok in self.tokenize(text):
            if not self._sampler.allows(tok):
                return False
            self._sampler.accept(tok)
        return self.allows(self._eog)
