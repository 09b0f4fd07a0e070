"""The candidates array a scheduler samples from: a reusable ``llama_token_data_array`` over the
whole vocabulary, filled from one output's logits."""

from __future__ import annotations

import ctypes
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ._ffi import lib
from ._sampler import allows

if TYPE_CHECKING:
    from ._context import ContextCore as Context

__all__ = ["_Candidates"]


class _Candidates:
    """A reusable ``llama_token_data_array`` over the whole vocabulary, filled from logits."""

    def __init__(self, model: Any) -> None:
        self.n_vocab = n = len(model.vocab)
        self.data = (lib.llama_token_data * n)()
        self.view = np.ctypeslib.as_array(self.data)
        self.ids = np.arange(n, dtype=np.int32)
        self.array = lib.llama_token_data_array(data=self.data, size=n, selected=-1, sorted=False)
        self.ref = ctypes.byref(self.array)

    def fill(self, ctx: Context, idx: int) -> Any:
        logits = lib.llama_get_logits_ith(ctx._ptr, idx)
        view = self.view
        view["id"] = self.ids
        view["logit"] = np.ctypeslib.as_array(logits, shape=(self.n_vocab,))
        view["p"] = 0.0
        a = self.array
        a.data = self.data
        a.size = self.n_vocab
        a.selected = -1
        a.sorted = False
        return self.ref

    def selected(self) -> int | None:
        """The token the samplers chose, or None when they chose none or only banned ones."""
        a = self.array
        if not 0 <= a.selected < a.size:
            return None
        chosen = a.data[a.selected]
        if math.isinf(chosen.logit) and chosen.logit < 0:
            return None
        return int(chosen.id)

    def ban(self, tokens: Sequence[int]) -> None:
        """Rule out ``tokens`` in the candidates just filled."""
        self.view["logit"][list(tokens)] = -math.inf

    def best_allowed(self, grammar: Any, tries: int = 64) -> int | None:
        """The highest-logit token among the top ``tries`` that the grammar allows, if any."""
        view = self.view
        logits = view["logit"]
        top = np.argpartition(logits, -tries)[-tries:]
        for i in top[np.argsort(logits[top])[::-1]]:
            if math.isinf(float(logits[i])):
                break
            token = int(view["id"][i])
            if allows(grammar, token):
                return token
        return None
