"""The model's vocabulary: special tokens, token text, scores and attributes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._checks import check_token
from ._ffi import lib

if TYPE_CHECKING:
    from .model import Model

__all__ = ["Vocab"]

_VOCAB_TYPES = {0: "none", 1: "SPM", 2: "BPE", 3: "WPM", 4: "UGM", 5: "RWKV", 6: "PLAMO2"}
_SPECIAL = ("bos", "eos", "eot", "sep", "nl", "pad", "mask", "fim_pre", "fim_suf", "fim_mid",
            "fim_pad", "fim_rep", "fim_sep")


class Vocab:
    """The vocabulary of a loaded :class:`~llamaprov.Model` (``model.vocab``)."""

    def __init__(self, model: Model) -> None:
        self._model = model
        self._eog_cache: frozenset[int] | None = None

    def _call(self, fn: Any, *args: Any) -> Any:
        """``fn(vocab, *args)`` while the model is held open (a concurrent close waits)."""
        with self._model._using():
            return fn(self._model._vocab_raw, *args)

    def __len__(self) -> int:
        self._model._ptr  # noqa: B018 - ClosedError after close
        return self._model._n_vocab

    @property
    def n_tokens(self) -> int:
        """Number of tokens."""
        return len(self)

    @property
    def type(self) -> str:
        """Tokenizer family: SPM, BPE, WPM, UGM, RWKV, PLAMO2 or none."""
        return _VOCAB_TYPES.get(int(self._call(lib.llama_vocab_type)), "unknown")

    def _check(self, token: int) -> int:
        return check_token(token, len(self))

    def text(self, token: int) -> str:
        """The token's text as stored in the vocabulary."""
        raw = self._call(lib.llama_vocab_get_text, self._check(token))
        return (raw or b"").decode("utf-8", errors="replace")

    def score(self, token: int) -> float:
        """The token's score (SPM merge priority)."""
        return float(self._call(lib.llama_vocab_get_score, self._check(token)))

    def attr(self, token: int) -> int:
        """The token's ``llama_token_attr`` bit flags."""
        return int(self._call(lib.llama_vocab_get_attr, self._check(token)))

    def is_eog(self, token: int) -> bool:
        """Whether the token ends generation (EOS, EOT, ...)."""
        return bool(self._call(lib.llama_vocab_is_eog, self._check(token)))

    def is_control(self, token: int) -> bool:
        """Whether the token is a control token."""
        return bool(self._call(lib.llama_vocab_is_control, self._check(token)))

    def _special(self, name: str) -> int | None:
        token = int(self._call(getattr(lib, f"llama_vocab_{name}")))
        return None if token < 0 else token

    bos = property(lambda self: self._special("bos"), doc="Beginning-of-sequence token or None.")
    eos = property(lambda self: self._special("eos"), doc="End-of-sequence token or None.")
    eot = property(lambda self: self._special("eot"), doc="End-of-turn token or None.")
    sep = property(lambda self: self._special("sep"), doc="Separator token or None.")
    nl = property(lambda self: self._special("nl"), doc="Newline token or None.")
    pad = property(lambda self: self._special("pad"), doc="Padding token or None.")
    mask = property(lambda self: self._special("mask"), doc="Mask token or None.")
    fim_pad = property(lambda self: self._special("fim_pad"), doc="FIM padding token or None.")

    @property
    def add_bos(self) -> bool:
        """Whether tokenization adds BOS."""
        return bool(self._call(lib.llama_vocab_get_add_bos))

    @property
    def add_eos(self) -> bool:
        """Whether tokenization adds EOS."""
        return bool(self._call(lib.llama_vocab_get_add_eos))

    @property
    def add_sep(self) -> bool:
        """Whether tokenization adds SEP."""
        return bool(self._call(lib.llama_vocab_get_add_sep))

    def info(self) -> dict[str, Any]:
        """All special tokens (None where the model has none) and the add_* flags."""
        info: dict[str, Any] = {name: self._special(name) for name in _SPECIAL}
        info.update(type=self.type, n_tokens=len(self), add_bos=self.add_bos,
                    add_eos=self.add_eos, add_sep=self.add_sep)
        return info

    def eog_tokens(self) -> frozenset[int]:
        """Every end-of-generation token id (computed once)."""
        self._model._ptr  # noqa: B018 - ClosedError after close
        if self._eog_cache is None:
            with self._model._using():
                v = self._model._vocab_raw
                self._eog_cache = frozenset(t for t in range(len(self)) if lib.llama_vocab_is_eog(v, t))
        return self._eog_cache
