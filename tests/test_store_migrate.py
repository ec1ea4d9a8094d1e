"""`mindpilot memory migrate`: SQLite -> PostgreSQL -> SQLite keeps records, task profiles,
history and the journal (sessions, audit log, monitor runs) exactly (exports, histories and
journal rows compared), resumes, and refuses to merge."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from mindpilot.cli import cli
from mindpilot.mental_process import (
    Emotion,
    Experience,
    Knowledge,
    Store,
    TaskProfile,
    open_store,
)
from mindpilot.mental_process.journal import (
    AuditEntry,
    AuditFilter,
    ChatSession,
    StoredRun,
    Turn,
)
from mindpilot.types import Message, UsedRecord
from tests.mp_fixtures import PostgresDatabases


def fill(store: Store, ns: str) -> None:
    old = store.add(Knowledge(namespace=ns, domain="ml", text="old fact", tags=("t",)))
    store.supersede(ns, old.id, Knowledge(namespace=ns, domain="ml", text="new fact"))
    store.add(Emotion(namespace=ns, task="support", state="empathy", intensity=0.8))
    store.add(Emotion(namespace=ns, task="support", state="calm"))
    exp = store.add(Experience(namespace=ns, task="support", situation="s", response="r"))
    store.update(ns, exp.id, score=-0.5, note="too curt")
    store.add_many([Knowledge(namespace=ns, domain="law", text=f"rule {i}") for i in range(5)])
    gone = store.add(Knowledge(namespace=ns, domain="law", text="repealed"))
    store.delete(ns, gone.id)
    store.put_task(TaskProfile(namespace=ns, name="support", expertise=("ml",)))
    store.add(Knowledge(namespace=ns, domain="ml", text="undone"))
    store.undo(ns)


def fill_journal(store: Store, ns: str) -> None:
    """Two chat sessions with turns, two audit entries and a monitor run."""
    with store.journal() as journal:
        for n in range(2):
            sid = f"cs_{ns[:3]}00000000{n}"
            journal.add_session(ChatSession(sid, ns, "support" if n else None, 100.0 + n))
            for t, role in enumerate(("user", "assistant")):
                turn = Turn(role, f"{ns} turn {n}.{t}", None, 101.0 + n + t / 10)
                journal.add_turn(ns, sid, turn, f"{ns} chat {n}")
        for n in range(2):
            journal.add_entry(entry(ns, n))
        journal.add_run(StoredRun(f"mr_{ns[:3]}000000000", ns, None, 300.0, '{"ok": true}'))


def entry(ns: str, n: int) -> AuditEntry:
    used = (UsedRecord("r1", "knowledge", 1, 0.5, 0.4),)
    ask, seen = (Message("user", "q"),), (Message("user", "ctx q"),)
    return AuditEntry(
        f"au_{ns[:3]}00000000{n}", ns, "support", None, 200.0 + n, ask, seen, used,
        f"answer {n}", None, "m", "b", "stop", 3, 2, 1, 0.1, 0.0, 0.2, 0.3,
        experience_id=f"exp-{n}",
    )  # fmt: skip


def journal_rows(store: Store, ns: str) -> list[object]:
    with store.journal() as journal:
        sessions = journal.sessions(ns, 100, 0)
        return [
            sessions,
            [journal.turns(ns, s.id) for s in sessions],
            journal.entries(ns, AuditFilter(), 100, 0),
            journal.runs(ns, None, 100),
        ]


def snapshot(store: Store, ns: str) -> tuple[str, list[object]]:
    """The namespace's export and every item's history."""
    out = io.StringIO()
    store.export_jsonl(ns, out)
    items = [r.id for r in store.list(ns, include_superseded=True, limit=None)]
    items += [f"task:{t.name}" for t in store.list_tasks(ns)]
    return out.getvalue(), [store.history(ns, i) for i in sorted(items)]


def migrate(*args: str) -> list[dict[str, object]]:
    result = CliRunner().invoke(cli, ["memory", "migrate", *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)  # type: ignore[no-any-return]


def test_sqlite_to_postgres_and_back_round_trips(
    tmp_path: Path, postgres_databases: PostgresDatabases, hashing_env: None
) -> None:
    source = tmp_path / "source.db"
    with open_store(source) as store:
        for ns in ("alice", "bob"):
            fill(store, ns)
        fill_journal(store, "alice")
        fill_journal(store, "carol")  # a journal and no records (plain chat)
        before = {ns: snapshot(store, ns) for ns in ("alice", "bob")}
        journals = {ns: journal_rows(store, ns) for ns in ("alice", "bob", "carol")}
    name, url = postgres_databases.new()
    try:
        moved = migrate("--from", f"sqlite:///{source}", "--to", url)
        assert [(m["namespace"], m["skipped"], m["turns"], m["entries"]) for m in moved] == [
            ("alice", False, 4, 2), ("bob", False, 0, 0), ("carol", False, 4, 2)
        ]  # fmt: skip
        with open_store(url) as pg:
            assert {ns: snapshot(pg, ns) for ns in ("alice", "bob")} == before
            assert {ns: journal_rows(pg, ns) for ns in journals} == journals
            assert pg.search("alice", "new fact", k=1)[0].record.text == "new fact"  # type: ignore[attr-defined]
        # run again (as after an interruption): what is there already is skipped
        again = migrate("--from", str(source), "--to", url)
        assert all(m["skipped"] == (m["namespace"] != "carol") for m in again)
        assert sum(m["sessions"] + m["turns"] + m["entries"] + m["runs"] for m in again) == 0
        back = tmp_path / "back.db"
        migrate("--from", url, "--to", str(back))
        with open_store(back) as store, open_store(url) as pg:
            assert {ns: snapshot(store, ns) for ns in ("alice", "bob")} == before
            assert {ns: journal_rows(store, ns) for ns in journals} == journals
            # the history came along: undo reverts the same batch on both sides
            for copy in (store, pg):
                copy.undo("alice")
            assert snapshot(store, "alice")[0] == snapshot(pg, "alice")[0] != before["alice"][0]
    finally:
        postgres_databases.drop(name)


def test_migrate_refuses_to_merge_into_other_data(
    tmp_path: Path, postgres_databases: PostgresDatabases, hashing_env: None
) -> None:
    source = tmp_path / "source.db"
    with open_store(source) as store:
        fill(store, "alice")
    name, url = postgres_databases.new()
    try:
        with open_store(url) as pg:
            pg.add(Knowledge(namespace="alice", domain="d", text="already here"))
        result = CliRunner().invoke(cli, ["memory", "migrate", "--from", str(source), "--to", url])
        assert result.exit_code == 1
        assert "already holds other data" in result.output and "Traceback" not in result.output
        with open_store(url) as pg:
            assert [r.text for r in pg.list("alice")] == ["already here"]  # type: ignore[attr-defined]
    finally:
        postgres_databases.drop(name)


@pytest.mark.parametrize("flag", ["--from", "--to"])
def test_migrate_says_which_server_is_unreachable(tmp_path: Path, flag: str) -> None:
    from mindpilot.mental_process.postgres.local_server import free_port

    url = f"postgresql://me:pw-secret@127.0.0.1:{free_port()}/db"
    other = str(tmp_path / "s.db")
    args = [flag, url, "--to" if flag == "--from" else "--from", other]
    result = CliRunner().invoke(cli, ["memory", "migrate", *args])
    assert result.exit_code == 1 and "cannot connect to PostgreSQL" in result.output
    assert "pw-secret" not in result.output


def test_cli_commands_take_a_postgresql_url(
    postgres_databases: PostgresDatabases, hashing_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--store and MINDPILOT_STORE keep the URL whole (a path would fold its '//')."""
    monkeypatch.setenv("MINDPILOT_SERVER", "off")
    name, url = postgres_databases.new()
    try:
        runner = CliRunner()
        added = runner.invoke(
            cli, ["memory", "add", "Refunds take five days", "--domain", "faq", "--store", url]
        )
        assert added.exit_code == 0, added.output
        monkeypatch.setenv("MINDPILOT_STORE", url)
        listed = runner.invoke(cli, ["memory", "list", "--json"])
        assert listed.exit_code == 0, listed.output
        assert "Refunds take five days" in listed.output
    finally:
        postgres_databases.drop(name)


def test_migrate_resumes_a_journal_cut_short(tmp_path: Path, hashing_env: None) -> None:
    """A session copied with part of its turns, an entry missing: the rerun adds just those."""
    source, target = tmp_path / "a.db", tmp_path / "b.db"
    with open_store(source) as store:
        fill_journal(store, "alice")
        whole = journal_rows(store, "alice")
    with open_store(target) as store, store.journal() as journal:
        first = whole[0][-1]  # oldest session  # type: ignore[index]
        journal.add_session(first)
        journal.add_turn("alice", first.id, whole[1][-1][0], first.title)  # type: ignore[index]
    (moved,) = migrate("--from", str(source), "--to", str(target))
    assert (moved["sessions"], moved["turns"], moved["entries"], moved["runs"]) == (1, 3, 2, 1)
    with open_store(target) as store:
        assert journal_rows(store, "alice") == whole
