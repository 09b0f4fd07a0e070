"""Reciprocal rank fusion: one ranking from several (hybrid search fuses vector and BM25 hits)."""

from __future__ import annotations

from collections.abc import Sequence

RRF_K = 20  # reciprocal-rank constant: below the usual 60 as our lists hold at most 50


def reciprocal_rank_fusion(*rankings: Sequence[tuple[int, float]], k: int = RRF_K) -> list[tuple[int, float]]:
    """Fuse rankings of ``(id, score)`` pairs (each best first): an id scores ``sum(1 / (k + rank))``
    over the rankings that hold it, rank counted from 1. Best first, ties by ascending id."""
    fused: dict[int, float] = {}
    for hits in rankings:
        for rank, (cid, _) in enumerate(hits):
            fused[cid] = fused.get(cid, 0.0) + 1.0 / (k + rank + 1)
    return sorted(fused.items(), key=lambda item: (-item[1], item[0]))
