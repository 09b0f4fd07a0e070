"""ggml tensor types: their ids, block sizes and the names of those a KV cache may use.

The one home of these tables in the engine (the GGUF reader, the fit estimate and training
read them from here). The sizes are checked against the bundled libggml by the tests.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["GGML_TYPE_COUNT", "GGML_TYPE_F32", "GGML_TYPE_I32", "GGML_TYPE_SIZES", "KV_CACHE_TYPES",
           "row_bytes", "tensor_bytes"]

GGML_TYPE_F32 = 0
GGML_TYPE_I32 = 26
GGML_TYPE_COUNT = 43  # ggml_type_name reads past its table for larger ids
# ggml type id -> (elements per block, bytes per block), from ggml.h / ggml.c's type traits
GGML_TYPE_SIZES: dict[int, tuple[int, int]] = {
    0: (1, 4), 1: (1, 2), 2: (32, 18), 3: (32, 20), 6: (32, 22), 7: (32, 24), 8: (32, 34), 9: (32, 36),
    10: (256, 84), 11: (256, 110), 12: (256, 144), 13: (256, 176), 14: (256, 210), 15: (256, 292),
    16: (256, 66), 17: (256, 74), 18: (256, 98), 19: (256, 50), 20: (32, 18), 21: (256, 110),
    22: (256, 82), 23: (256, 136), 24: (1, 1), 25: (1, 2), 26: (1, 4), 27: (1, 8), 28: (1, 8),
    29: (256, 56), 30: (1, 2), 34: (256, 54), 35: (256, 66), 39: (32, 17), 40: (64, 36), 41: (128, 18),
    42: (64, 18),
}
# the types a KV cache may take (llama_context_params' type_k / type_v), by name
KV_CACHE_TYPES = {"f32": 0, "f16": 1, "q4_0": 2, "q4_1": 3, "q5_0": 6, "q5_1": 7, "q8_0": 8, "bf16": 30}


def row_bytes(ggml_type: int, n: int) -> int | None:
    """Bytes of a row of ``n`` elements of ``ggml_type`` (None: a type whose size is not known)."""
    if ggml_type not in GGML_TYPE_SIZES:
        return None
    block, size = GGML_TYPE_SIZES[ggml_type]
    return -(-n // block) * size


def tensor_bytes(ggml_type: int, dims: Sequence[int]) -> int | None:
    """Bytes of a tensor of ``ggml_type`` with dimensions ``dims`` (innermost first; none: one
    element, as ggml reads them); None for a type whose size is not known."""
    row = row_bytes(ggml_type, dims[0] if dims else 1)
    return None if row is None else row * math.prod(dims[1:])
