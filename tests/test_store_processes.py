"""Several processes on one store, on every backend: what one writes the others read, two
writers lose nothing, and concurrent updates of one record are never lost (`store_url` gives
a fresh SQLite file or PostgreSQL database)."""

from __future__ import annotations

import itertools
import subprocess
import sys
import textwrap

from mindpilot.mental_process import Experience, open_store

EVERY_BACKEND = True  # store fixtures: one run per registered backend (mp_fixtures.py)


def run_python(code: str, *args: str) -> str:
    """Run code in a fresh interpreter (same environment); return its stdout."""
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def run_together(code: str, names: tuple[str, ...]) -> None:
    """Run code in one process per name (its argv[1]) at the same time; all must succeed."""
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(code), name], stderr=subprocess.PIPE, text=True
        )
        for name in names
    ]
    for worker in workers:
        _, err = worker.communicate(timeout=180)
        assert worker.returncode == 0, err


def test_persists_across_processes(store_url: str, hashing_env: None) -> None:
    written = run_python(f"""
        from mindpilot.mental_process import Knowledge, open_store
        with open_store({store_url!r}) as store:
            print(store.add(Knowledge(domain="d", text="written by another process")).id)
    """).strip()
    read = run_python(f"""
        from mindpilot.mental_process import open_store
        with open_store({store_url!r}) as store:
            print(store.search("default", "another process", k=1)[0].record.id)
    """).strip()
    assert read == written


def test_concurrent_writers_in_two_processes_lose_nothing(
    store_url: str, hashing_env: None
) -> None:
    open_store(store_url).close()  # create the file or schema first
    run_together(
        f"""
        import sys
        from mindpilot.mental_process import Knowledge, open_store
        with open_store({store_url!r}) as store:
            for i in range(40):
                store.add(Knowledge(domain="d", text=f"writer {{sys.argv[1]}} fact {{i}}"))
                store.search("default", f"fact {{i}}", k=3)
        """,
        ("a", "b"),
    )
    with open_store(store_url) as store:
        texts = {r.text for r in store.list("default", limit=None)}  # type: ignore[union-attr]
        assert len(texts) == 80
        hits = store.search("default", "writer b fact 39", mode="keyword", k=1)
        assert hits[0].record.text == "writer b fact 39"  # type: ignore[union-attr]


def test_concurrent_updates_of_one_record_are_never_lost(store_url: str, hashing_env: None) -> None:
    """Two processes update one record at once, one its score, the other its note. An update
    that raced the other (its record changed between read and write) is refused with
    ConflictError and retried, so neither change is lost: the last score and the last note
    are both there, and every change's `before` is the change before's `after`."""
    with open_store(store_url) as store:
        record = store.add(Experience(task="t", situation="shared"))
    run_together(
        f"""
        import sys
        from mindpilot.errors import ConflictError
        from mindpilot.mental_process import open_store
        field = sys.argv[1]
        with open_store({store_url!r}) as store:
            for i in range(1, 16):
                value = i / 100 if field == "score" else f"note {{i}}"
                while True:
                    try:
                        store.update("default", {record.id!r}, **{{field: value}})
                        break
                    except ConflictError:
                        continue
        """,
        ("score", "note"),
    )
    with open_store(store_url) as store:
        final = store.get("default", record.id)
        assert final.score == 0.15 and final.note == "note 15"  # type: ignore[union-attr]
        assert final.version == 31
        changes = store.history("default", record.id)
        assert len(changes) == 31
        for earlier, later in itertools.pairwise(changes):
            assert later.before == earlier.after
