"""In-process vector index: cosine search over unit vectors, keyed by int64 record ids.

The store's SQLite file holds the vectors (source of truth); this index is derived from them
at open time and kept in step with every add/remove.

Two paths, chosen by size (numbers from DESIGN.md, 100k x 384-d, one query thread):

- below `ann_threshold` vectors: an exact numpy scan (matrix-vector product + argpartition).
  Recall 1.0, nothing to build, ~1 ms at 10k and ~10 ms at 100k per query.
- from `ann_threshold` on: a faiss-cpu HNSW graph (M=16, efSearch 64), ~0.3-0.4 ms per query
  from 5k to 100k with recall@10 ~0.999 (the exact scan takes ~1 ms at 5k, 2 ms at 10k on
  busy cores), but ~1 s to build at 5k and ~15 s at 100k, so it is built lazily, on the first
  search after crossing the threshold (or by calling `build()`), then extended on each add.
  `graph_bytes`/`attach_graph` let a caller keep a built graph across processes.

HNSW cannot delete: a removed or replaced vector stays in the graph as a dead faiss label and
is hidden from results by a selector over live labels; the graph is rebuilt once dead labels
pass `rebuild_ratio` of it. The contiguous float32 matrix is kept alongside for exact scans,
`similarity` and rebuilds (the graph's own copy doubles the memory: 150 MB at 100k x 384).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from typing import Any, TypeAlias

import numpy as np

from mindpilot.errors import ConfigError, NotFoundError, ValidationError

# Filtered search: an exact scan over just the allowed rows costs O(allowed x dim) and is exact;
# it beats a filtered graph walk (whose recall drops as the filter gets selective) while the
# allowed set is under ~2k rows or 5% of the index.
EXACT_FILTER_MAX_ROWS = 2_000
EXACT_FILTER_MAX_FRACTION = 0.05

Ids: TypeAlias = Sequence[int] | np.ndarray  # int64 record ids; a numpy array saves a copy
# A filter over the rows' attributes: (n, attributes) int64 -> (n,) bool, True = may be returned.
RowFilter: TypeAlias = Callable[[np.ndarray], np.ndarray]


class VectorIndex:
    """Cosine search over unit vectors keyed by int64 ids. Thread-safe.

    Each row may carry `attributes` int64 columns (e.g. a store's kind and domain codes) that
    `search(..., where=...)` filters on in memory, without the caller listing allowed ids.
    """

    def __init__(
        self,
        dim: int,
        *,
        ann_threshold: int = 5_000,
        hnsw_m: int = 16,
        ef_search: int = 64,
        ef_construction: int = 40,
        rebuild_ratio: float = 0.2,
        attributes: int = 0,
    ) -> None:
        if dim < 1:
            raise ConfigError(f"dim={dim} must be at least 1")
        if ann_threshold < 1:
            raise ConfigError(f"ann_threshold={ann_threshold} must be at least 1")
        if hnsw_m < 2 or ef_search < 1 or ef_construction < 1:
            raise ConfigError("hnsw_m must be >= 2, ef_search and ef_construction >= 1")
        if not 0.0 < rebuild_ratio <= 1.0:
            raise ConfigError(f"rebuild_ratio={rebuild_ratio} must be in (0, 1]")
        if attributes < 0:
            raise ConfigError(f"attributes={attributes} must not be negative")
        self.dim = dim
        self.ann_threshold = ann_threshold
        self.hnsw_m, self.ef_search, self.ef_construction = hnsw_m, ef_search, ef_construction
        self.rebuild_ratio = rebuild_ratio
        self._lock = threading.RLock()
        # Rows 0.._size-1 are live and contiguous: removal moves the last row into the hole.
        self._vectors = np.empty((0, dim), dtype=np.float32)  # (capacity, dim)
        self._ids = np.empty(0, dtype=np.int64)  # (capacity,) row -> record id
        self._attrs = np.empty((0, attributes), dtype=np.int64)  # (capacity, attributes)
        self._row: dict[int, int] = {}  # record id -> row
        self._size = 0
        # The HNSW graph, when built. Its labels are 0..ntotal-1 in add order; a replaced or
        # removed vector leaves a dead label behind.
        self._ann: Any = None
        self._labels = np.empty(0, dtype=np.int64)  # (capacity,) row -> label, if _ann
        self._label_rows = np.empty(0, dtype=np.int64)  # (ntotal,) label -> row
        self._label_live = np.empty(0, dtype=bool)  # (ntotal,) False once dead
        self._dead = 0
        # Derived from the rows and dropped by every change (`_changed`): the id -> row table
        # that `admits` reads (a dict lookup per id cost ~0.9 ms for 2,000 keyword matches),
        # and the rows that recent `where` filters passed (a filter over 100k rows' attributes
        # cost ~1.5 ms per search: a store asks for the same scope again and again).
        self._lookup: np.ndarray | None = None
        self._passing: dict[RowFilter, tuple[np.ndarray, np.ndarray]] = {}

    # ---- size and membership -------------------------------------------------------------
    def __len__(self) -> int:
        return self._size

    def __contains__(self, record_id: object) -> bool:
        return record_id in self._row

    @property
    def uses_ann(self) -> bool:
        """True when unfiltered searches go through the HNSW graph (built lazily).

        A built graph is kept down to 90% of the threshold, so an index hovering around it
        does not rebuild (seconds at this size) on every add/remove.
        """
        floor = self.ann_threshold if self._ann is None else int(0.9 * self.ann_threshold)
        return self._size >= floor

    # ---- changes ---------------------------------------------------------------------------
    def add(self, ids: Ids, vectors: np.ndarray, attributes: np.ndarray | None = None) -> None:
        """Add (id, vector) pairs; an id already present gets its vector replaced.

        vectors: (n, dim) float32; rows are re-normalised, so scores stay cosines.
        attributes: (n, attributes) int64, zeros if not given.
        Within one call, the last vector given for a repeated id wins.
        """
        ids_arr = self._check_ids(ids)
        matrix = self._check_vectors(vectors, len(ids_arr))
        attrs = self._check_attributes(attributes, len(ids_arr))
        with self._lock:
            self._changed()
            new = {i for i in ids_arr.tolist() if i not in self._row}
            self._reserve(self._size + len(new))
            rows = np.empty(len(ids_arr), dtype=np.int64)
            for i, record_id in enumerate(ids_arr.tolist()):
                row = self._row.get(record_id)
                if row is None:
                    row = self._row[record_id] = self._size
                    self._ids[row] = record_id
                    self._size += 1
                elif self._ann is not None:
                    self._kill(self._labels[row : row + 1])
                rows[i] = row
            self._vectors[rows] = matrix  # numpy assigns in order: the last repeat wins
            self._attrs[rows] = attrs
            if self._ann is not None:
                self._add_to_ann(np.unique(rows))
                self._drop_stale_ann()

    def remove(self, ids: Ids) -> None:
        """Remove ids; ids not in the index are ignored, so removal is idempotent."""
        ids_arr = self._check_ids(ids)
        with self._lock:
            self._changed()
            for record_id in ids_arr.tolist():
                row = self._row.pop(record_id, None)
                if row is None:
                    continue
                if self._ann is not None:
                    self._kill(self._labels[row : row + 1])
                last = self._size - 1
                if row != last:
                    self._move_row(last, row)
                self._size = last
            self._drop_stale_ann()

    def build(self) -> None:
        """Build the HNSW graph now, if the index is big enough (else searches build it)."""
        with self._lock:
            if self.uses_ann and self._ann is None:
                self._build_ann()

    def graph_bytes(self) -> np.ndarray | None:
        """The HNSW graph, serialised (uint8), when built over rows 0..n-1 in order with none
        dead: the one layout `attach_graph` can restore from the same vectors. Else None."""
        with self._lock:
            if self._ann is None or self._dead or self._ann.ntotal != self._size:
                return None
            if not np.array_equal(self._labels[: self._size], np.arange(self._size)):
                return None
            return np.asarray(_faiss().serialize_index(self._ann))

    def attach_graph(self, data: np.ndarray) -> None:
        """Use a graph from `graph_bytes` of an index holding the same vectors in the same
        order (the caller checks that: by a hash of them). Raises ValidationError if it does
        not fit."""
        faiss = _faiss()
        try:
            graph = faiss.deserialize_index(np.ascontiguousarray(data, dtype=np.uint8))
        except RuntimeError as err:
            raise ValidationError(f"not a saved HNSW graph: {err}") from err
        with self._lock:
            if graph.ntotal != self._size or graph.d != self.dim:
                raise ValidationError(
                    f"the saved graph holds {graph.ntotal} x {graph.d}, the index "
                    f"{self._size} x {self.dim}"
                )
            graph.hnsw.efSearch = self.ef_search
            self._ann = graph
            self._labels[: self._size] = np.arange(self._size)
            self._label_rows = np.arange(self._size, dtype=np.int64)
            self._label_live = np.ones(self._size, dtype=bool)
            self._dead = 0

    # ---- queries ---------------------------------------------------------------------------
    def search(
        self,
        query: np.ndarray,
        k: int,
        allowed: np.ndarray | None = None,
        *,
        where: RowFilter | None = None,
    ) -> list[tuple[int, float]]:
        """The k nearest ids by cosine, best first, as (id, cosine).

        query: (dim,) or (1, dim). allowed: the ids a result may have (a filter); ids not in
        the index are ignored. where: a filter over the rows' attributes (both filters apply
        when both are given).
        """
        q = self._check_query(query)
        if k < 0:
            raise ConfigError(f"k={k} must not be negative")
        with self._lock:
            if k == 0 or self._size == 0:
                return []
            if allowed is None and where is None:
                return self._ann_search(q, k, None) if self.uses_ann else self._exact(q, k, None)
            rows = self._filtered_rows(allowed, where)
            if len(rows) == 0:
                return []
            small = len(rows) <= max(EXACT_FILTER_MAX_ROWS, EXACT_FILTER_MAX_FRACTION * self._size)
            if small or not self.uses_ann:
                return self._exact(q, k, rows)
            return self._ann_search(q, k, rows)

    def admits(self, ids: Ids, where: RowFilter | None = None) -> np.ndarray:
        """Which ids are in the index and pass `where`: (len(ids),) bool, in the order given.
        (The store filters keyword matches with it: no SQL join per match.)"""
        ids_arr = self._check_ids(ids)
        with self._lock:
            rows = self._rows_or_missing(ids_arr)
            ok = rows >= 0
            if where is not None and ok.any():
                if where in self._passing or 8 * len(ids_arr) > self._size:
                    ok[ok] = self._passes(where)[0][rows[ok]]
                else:  # a few ids: test just theirs rather than every row's
                    ok[ok] = np.asarray(where(self._attrs[rows[ok]]), dtype=bool)
            return ok

    def passing(self, where: RowFilter | None = None) -> int:
        """How many rows pass `where` (all rows if None): exact once the filter's rows are
        kept, else estimated from ~2,000 rows (no pass over all of them for a guess)."""
        with self._lock:
            if where is None:
                return self._size
            if where in self._passing or self._size <= 2_000:
                return len(self._passes(where)[1])
            step = self._size // 2_000
            sample = np.asarray(where(self._attrs[: self._size : step]), dtype=bool)
            return int(sample.sum()) * step

    def _rows_or_missing(self, ids: np.ndarray) -> np.ndarray:
        """(n,) row of each id, -1 where it is not in the index. Through a dense id -> row
        table when the ids are small non-negative ints (a store's seqs), else the dict."""
        if self._lookup is None and len(ids) > 256 and self._size:
            top = int(self._ids[: self._size].max())
            if int(self._ids[: self._size].min()) >= 0 and top < 4 * self._size + 1024:
                self._lookup = np.full(top + 1, -1, dtype=np.int64)
                self._lookup[self._ids[: self._size]] = np.arange(self._size)
        if self._lookup is None:
            get = self._row.get
            return np.fromiter((get(i, -1) for i in ids.tolist()), np.int64, len(ids))
        inside = (ids >= 0) & (ids < len(self._lookup))
        return np.where(inside, self._lookup[np.where(inside, ids, 0)], -1)

    def _passes(self, where: RowFilter) -> tuple[np.ndarray, np.ndarray]:
        """(mask over rows 0..size-1, the sorted rows it passes) for `where`, kept until the
        index changes (a filter that compares equal by value, e.g. a frozen dataclass, finds
        it again; the last 8 filters are kept)."""
        found = self._passing.get(where)
        if found is None:
            mask = np.asarray(where(self._attrs[: self._size]), dtype=bool)  # (size,)
            if mask.shape != (self._size,):
                raise ValidationError(
                    f"the row filter gave shape {mask.shape}, not ({self._size},)"
                )
            if len(self._passing) >= 8:
                del self._passing[next(iter(self._passing))]
            found = self._passing[where] = (mask, np.flatnonzero(mask))
        return found

    def _changed(self) -> None:
        """Rows are about to change: drop what was derived from them."""
        self._lookup = None
        self._passing = {}

    def similarity(self, query: np.ndarray, ids: Ids) -> np.ndarray:
        """Cosine of the query with each given id, in the order given: (len(ids),) float32."""
        q = self._check_query(query)
        ids_arr = self._check_ids(ids)
        with self._lock:
            rows = np.empty(len(ids_arr), dtype=np.int64)
            for i, record_id in enumerate(ids_arr.tolist()):
                row = self._row.get(record_id)
                if row is None:
                    raise NotFoundError(f"id {record_id} is not in the vector index")
                rows[i] = row
            return _scores(self._vectors[rows], q)

    # ---- exact path ------------------------------------------------------------------------
    def _exact(self, q: np.ndarray, k: int, rows: np.ndarray | None) -> list[tuple[int, float]]:
        if rows is None:
            scores = _scores(self._vectors[: self._size], q)  # (n,)
        elif len(rows) > self._size // 4:
            # Gathering many rows copies more memory than scoring them all: score all, pick.
            scores = _scores(self._vectors[: self._size], q)[rows]  # (m,)
        else:
            scores = _scores(self._vectors[rows], q)  # (m,)
        # argpartition finds the top k in O(m); only those k get sorted
        top = np.argpartition(-scores, k - 1)[:k] if len(scores) > k else np.arange(len(scores))
        top = top[np.argsort(-scores[top], kind="stable")]
        found = top if rows is None else rows[top]
        return list(zip(self._ids[found].tolist(), scores[top].tolist(), strict=True))

    def _filtered_rows(self, allowed: np.ndarray | None, where: RowFilter | None) -> np.ndarray:
        """Sorted rows that pass both filters."""
        rows = None if allowed is None else self._rows_of(np.asarray(allowed, np.int64).ravel())
        if where is None:
            assert rows is not None
            return rows
        mask, passing = self._passes(where)
        return passing if rows is None else rows[mask[rows]]

    def _rows_of(self, ids: np.ndarray) -> np.ndarray:
        """Sorted rows of those ids that are in the index."""
        if len(ids) <= EXACT_FILTER_MAX_ROWS:  # a few dict lookups beat a sort of all ids
            rows = np.fromiter((self._row.get(i, -1) for i in ids.tolist()), np.int64, len(ids))
            return np.unique(rows[rows >= 0])
        return np.flatnonzero(np.isin(self._ids[: self._size], ids))

    # ---- ANN path --------------------------------------------------------------------------
    def _ann_search(
        self, q: np.ndarray, k: int, rows: np.ndarray | None
    ) -> list[tuple[int, float]]:
        faiss = _faiss()
        if self._ann is None:
            self._build_ann()
        live: np.ndarray | None = None
        if rows is not None:
            live = np.zeros(self._ann.ntotal, dtype=bool)
            live[self._labels[rows]] = True
        elif self._dead:
            live = self._label_live
        params = faiss.SearchParametersHNSW()
        params.efSearch = max(self.ef_search, k)  # the walk keeps ef candidates: ef >= k
        if live is not None:
            # Bit i of the bitmap (little-endian bit order) says whether label i may be returned.
            # `bitmap` and `selector` must outlive the search: faiss holds raw pointers.
            bitmap = np.packbits(live, bitorder="little")
            selector = faiss.IDSelectorBitmap(len(live), faiss.swig_ptr(bitmap))
            params.sel = selector
        scores, labels = self._ann.search(q[None, :], k, params=params)  # (1, k) each
        hit = labels[0] >= 0  # -1 pads when fewer than k are reachable
        found = self._label_rows[labels[0][hit]]
        return list(zip(self._ids[found].tolist(), scores[0][hit].tolist(), strict=True))

    def _build_ann(self) -> None:
        faiss = _faiss()
        graph = faiss.IndexHNSWFlat(self.dim, self.hnsw_m, faiss.METRIC_INNER_PRODUCT)
        graph.hnsw.efConstruction = self.ef_construction
        graph.hnsw.efSearch = self.ef_search
        self._ann = graph
        self._label_rows = np.empty(0, dtype=np.int64)
        self._label_live = np.empty(0, dtype=bool)
        self._dead = 0
        # Half the cores: on 2 busy cores one thread built as fast as two (50k: 5.2 s vs 5.9 s).
        faiss.omp_set_num_threads(max(1, (os.cpu_count() or 2) // 2))
        try:
            self._add_to_ann(np.arange(self._size, dtype=np.int64))
        finally:
            faiss.omp_set_num_threads(1)

    def _add_to_ann(self, rows: np.ndarray) -> None:
        start = self._ann.ntotal
        self._ann.add(np.ascontiguousarray(self._vectors[rows]))
        self._labels[rows] = np.arange(start, start + len(rows), dtype=np.int64)
        self._label_rows = np.concatenate([self._label_rows, rows])
        self._label_live = np.concatenate([self._label_live, np.ones(len(rows), dtype=bool)])

    def _drop_stale_ann(self) -> None:
        """Forget the graph when exact search is back, or when dead labels crowd it."""
        if self._ann is not None and (
            not self.uses_ann or self._dead > self.rebuild_ratio * self._ann.ntotal
        ):
            self._ann = None  # rebuilt from live rows only, on the next search

    def _kill(self, labels: np.ndarray) -> None:
        self._dead += int(self._label_live[labels].sum())
        self._label_live[labels] = False

    # ---- storage and validation ------------------------------------------------------------
    def _move_row(self, src: int, dst: int) -> None:
        self._vectors[dst] = self._vectors[src]
        self._ids[dst] = self._ids[src]
        self._attrs[dst] = self._attrs[src]
        self._row[int(self._ids[dst])] = dst
        if self._ann is not None:
            self._labels[dst] = self._labels[src]
            self._label_rows[self._labels[dst]] = dst

    def _reserve(self, size: int) -> None:
        capacity = len(self._ids)
        if size <= capacity:
            return
        capacity = max(size, 2 * capacity, 1024)  # doubling: amortised O(1) per add
        n = self._size
        vectors = np.empty((capacity, self.dim), dtype=np.float32)
        vectors[:n] = self._vectors[:n]
        ids, labels = np.empty(capacity, dtype=np.int64), np.full(capacity, -1, dtype=np.int64)
        ids[:n], labels[:n] = self._ids[:n], self._labels[:n]
        attrs = np.zeros((capacity, self._attrs.shape[1]), dtype=np.int64)
        attrs[:n] = self._attrs[:n]
        self._vectors, self._ids, self._labels, self._attrs = vectors, ids, labels, attrs

    @staticmethod
    def _check_ids(ids: Ids) -> np.ndarray:
        arr = np.asarray(ids)
        if arr.ndim != 1 or not (arr.size == 0 or np.issubdtype(arr.dtype, np.integer)):
            raise ValidationError("ids must be a flat sequence of integers")
        return arr.astype(np.int64, copy=False)

    def _check_vectors(self, vectors: np.ndarray, n: int) -> np.ndarray:
        matrix = np.asarray(vectors, dtype=np.float32)
        if matrix.shape != (n, self.dim):
            raise ValidationError(
                f"vectors have shape {matrix.shape}, expected ({n}, {self.dim}): one row per id"
            )
        return _normalise(matrix)

    def _check_attributes(self, attributes: np.ndarray | None, n: int) -> np.ndarray:
        width = self._attrs.shape[1]
        if attributes is None:
            return np.zeros((n, width), dtype=np.int64)
        attrs = np.asarray(attributes)
        if attrs.shape != (n, width) or not (
            attrs.size == 0 or np.issubdtype(attrs.dtype, np.integer)
        ):
            raise ValidationError(
                f"attributes have shape {attrs.shape}, expected ({n}, {width}) integers"
            )
        return attrs.astype(np.int64, copy=False)

    def _check_query(self, query: np.ndarray) -> np.ndarray:
        q = np.asarray(query, dtype=np.float32)
        if q.shape not in ((self.dim,), (1, self.dim)):
            raise ValidationError(f"query has shape {q.shape}, expected ({self.dim},)")
        return _normalise(q.reshape(1, self.dim))[0]


def _scores(matrix: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Inner products (m, dim) . (dim,) -> (m,), on one thread.

    Not `matrix @ q`: OpenBLAS splits that product over threads, and on 2 cores shared with
    other work a thread waiting for a descheduled sibling made it 8 ms at 10k x 384 where this
    takes 1 ms (12 ms vs 16 ms at 100k). einsum without `optimize` skips BLAS.
    """
    return np.einsum("ij,j->i", matrix, q)


def _faiss() -> Any:
    """faiss, imported on first use of the ANN path (it takes ~0.3 s and 66 MB).

    Its OpenMP pool is kept at 1 thread outside graph builds: one-query HNSW searches do not
    use it, and idle pool threads only compete with the caller's own work for the cores.
    """
    try:
        import faiss
    except ImportError as exc:
        raise ConfigError(
            "faiss-cpu is needed to search an index past its ann_threshold",
            hint="pip install faiss-cpu==1.15.1, or raise ann_threshold to stay exact",
        ) from exc
    faiss.omp_set_num_threads(1)
    return faiss


def _normalise(matrix: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero); rejects NaN and inf. (n, dim) float32."""
    if not np.isfinite(matrix).all():
        raise ValidationError("vectors contain NaN or infinity")
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)  # (n, 1)
    return np.ascontiguousarray(matrix / np.where(norms > 0, norms, 1.0), dtype=np.float32)
