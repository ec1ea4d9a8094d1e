"""`mindpilot memory backup|restore` and `mindpilot doctor` on real store files (issue 16)."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from mindpilot.cli import cli
from mindpilot.mental_process import Knowledge, open_store


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def texts(store: Path) -> list[str]:
    listed = run("memory", "list", "--store", str(store), "--json", "--limit", "1000")
    return sorted(r["text"] for r in json.loads(listed.stdout))


def test_backup_while_writing_then_restore(hashing_env: None, tmp_path: Path) -> None:
    db, copy = tmp_path / "live.db", tmp_path / "copy.db"
    with open_store(db, embedder="hashing") as store:
        store.add_many(
            [Knowledge(namespace="default", domain="d", text=f"fact {i}") for i in range(50)]
        )
        done = threading.Event()

        def write() -> None:  # another writer while the backup runs
            i = 0
            while not done.is_set():
                store.add(Knowledge(namespace="b", domain="d", text=f"late {i}"))
                i += 1

        writer = threading.Thread(target=write)
        writer.start()
        try:
            made = run("memory", "backup", str(copy), "--store", str(db), "--json")
        finally:
            done.set()
            writer.join()
    assert made.exit_code == 0, made.output
    checked = json.loads(made.stdout)
    assert checked["ok"] and checked["records"] >= 50 and copy.stat().st_mode & 0o777 == 0o600
    saved = texts(copy)
    assert [t for t in saved if t.startswith("fact")] == sorted(f"fact {i}" for i in range(50))

    run("memory", "add", "--domain", "d", "after the backup", "--store", str(db))
    restored = run("memory", "restore", str(copy), "--store", str(db), "--yes", "--json")
    assert restored.exit_code == 0, restored.output
    kept = Path(json.loads(restored.stdout)["kept"])
    assert texts(db) == saved  # the store is the backup again
    assert "after the backup" in texts(kept)  # and what it replaced is kept beside it

    again = run("memory", "backup", str(copy), "--store", str(db))
    assert again.exit_code == 1 and "exists already" in again.stderr


def test_a_damaged_backup_is_not_restored(hashing_env: None, tmp_path: Path) -> None:
    db, bad = tmp_path / "live.db", tmp_path / "bad.db"
    run("memory", "add", "--domain", "d", "keep me", "--store", str(db))
    bad.write_bytes(b"not a database at all" * 100)
    refused = run("memory", "restore", str(bad), "--store", str(db), "--yes")
    assert refused.exit_code == 1 and "damaged or not a mindpilot store" in refused.stderr
    assert texts(db) == ["keep me"]


def test_doctor_passes_and_then_finds_the_damage(hashing_env: None, tmp_path: Path) -> None:
    db = tmp_path / "live.db"
    run("memory", "add", "--domain", "d", "x", "--store", str(db))
    healthy = run("doctor", "--store", str(db), "--json")
    assert healthy.exit_code == 0, healthy.output
    states = {c["check"]: c["state"] for c in json.loads(healthy.stdout)}
    assert states["store"] == "ok" and states["home"] == "ok"
    db.write_bytes(db.read_bytes()[:1000])  # truncated
    for leftover in (Path(f"{db}-wal"), Path(f"{db}-shm")):
        leftover.unlink(missing_ok=True)
    sick = run("doctor", "--store", str(db), "--json")
    assert sick.exit_code == 1
    store = next(c for c in json.loads(sick.stdout) if c["check"] == "store")
    assert store["state"] == "FAIL" and "memory restore" in store["detail"]


def test_settings_come_from_flags_environment_file_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("MINDPILOT_HOME", str(home))
    for name in ("MINDPILOT_THREADS", "MINDPILOT_EMBEDDER", "MINDPILOT_SYNCHRONOUS"):
        monkeypatch.delenv(name, raising=False)
    (home / "config.toml").write_text('threads = 2\nembedder = "hashing"\n')
    monkeypatch.setenv("MINDPILOT_SYNCHRONOUS", "full")
    shown = {s["name"]: s for s in json.loads(run("config", "show", "--json").stdout)}
    assert (shown["threads"]["value"], shown["threads"]["source"]) == ("2", "config.toml")
    assert (shown["synchronous"]["value"], shown["synchronous"]["source"]) == (
        "full",
        "environment",
    )
    assert shown["debug"]["source"] == "default" and shown["home"]["value"] == str(home)
    from mindpilot import config

    assert config.default_threads() == 2 and config.embedder_name() == "hashing"
    (home / "config.toml").write_text("colour = 1\n")
    bad = run("config", "show")
    assert bad.exit_code == 1 and "unknown setting(s) colour" in bad.stderr
