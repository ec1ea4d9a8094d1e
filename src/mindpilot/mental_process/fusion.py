"""Rank fusion shared by the store backends: one list from the vector and keyword rankings."""

from __future__ import annotations

RRF_K = 60  # reciprocal rank fusion constant (Cormack et al. 2009)


def fuse(
    by_vector: list[tuple[int, float]], by_keyword: list[tuple[int, float]], mode: str, k: int
) -> list[tuple[int, float]]:
    """The top k (seq, score): reciprocal rank fusion in hybrid mode, else the list's own."""
    if mode == "vector":
        return by_vector[:k]
    if mode == "keyword":
        return by_keyword[:k]
    fused: dict[int, float] = {}
    for ranking in (by_vector, by_keyword):
        for rank, (seq, _) in enumerate(ranking, start=1):
            fused[seq] = fused.get(seq, 0.0) + 1.0 / (RRF_K + rank)
    return sorted(fused.items(), key=lambda item: (-item[1], item[0]))[:k]
