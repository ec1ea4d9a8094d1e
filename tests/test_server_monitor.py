"""Monitor runs inside `mindpilot serve` (issue 13, "Continuous"): started over HTTP and followed
to the stored run, one at a time, bad input refused at once, started by the server itself
after N memory changes, and generation answered while a run goes. A real server on the tiny
random model, real SQLite and a real HTTP client; jobs are polled until they end (generous
deadlines, no timing asserts)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from mindpilot.autopilot import Autopilot
from mindpilot.engine import Engine
from mindpilot.mental_process import Knowledge, Store, TaskProfile, open_store
from mindpilot.server.deps import ServerState
from mindpilot.server.keys import KeyStore
from mindpilot.server.monitor_jobs import MonitorSchedule, MonitorScheduler
from tests.server_helpers import serving
from tests.test_server_memory import error, ok

DEADLINE_S = 300  # for a quick run on a busy 2-core machine; they take seconds


def _fill(store: Store) -> None:
    store.add(Knowledge(domain="policy", text="The return window is 30 days."))
    store.put_task(TaskProfile(name="support", personality="a patient agent"))


@pytest.fixture
def api(tiny_autopilot: Autopilot, tmp_path: Path) -> Iterator[httpx.Client]:
    with serving(tiny_autopilot, tmp_path) as served:
        _fill(served.store)
        with httpx.Client(base_url=served.url, timeout=60) as client:
            yield client


def finished(api: httpx.Client, job_id: str) -> dict[str, Any]:
    """The job once it has ended (polled)."""
    deadline = time.monotonic() + DEADLINE_S
    while (job := ok(api.get(f"/v1/monitor/jobs/{job_id}")))["state"] in ("queued", "running"):
        assert time.monotonic() < deadline, f"the run did not end: {job}"
        time.sleep(0.05)
    return job


def running(api: httpx.Client, job_id: str) -> dict[str, Any]:
    """The job once it is scoring probe sentences (polled)."""
    deadline = time.monotonic() + DEADLINE_S
    while "sentences" not in ((job := ok(api.get(f"/v1/monitor/jobs/{job_id}")))["step"] or ""):
        assert job["state"] in ("queued", "running"), job
        assert time.monotonic() < deadline, f"the run did not start scoring: {job}"
        time.sleep(0.02)
    return job


def test_a_run_started_over_http_is_followed_to_the_stored_run(api: httpx.Client) -> None:
    started = api.post("/v1/monitor/runs", json={"task": "support", "quick": True})
    job = ok(started, 202)
    assert job["state"] == "queued" and job["task"] == "support" and job["run"] is None
    assert started.headers["location"] == f"/v1/monitor/jobs/{job['id']}"
    done = finished(api, job["id"])
    assert done["state"] == "done" and done["error"] is None, done
    run = done["run"]
    assert run["task"] == "support" and run["stereotype"]["base"] is not None
    assert run["stereotype"]["task"] is not None and run["stereotype"]["task+adapter"] is None
    # the run is stored: the read-only routes (and `mindpilot monitor list`) see it
    assert [r["id"] for r in ok(api.get("/v1/monitor/runs"))["data"]] == [run["id"]]
    assert ok(api.get("/v1/monitor/report", params={"task": "support"}))["run"] == run
    assert [j["id"] for j in ok(api.get("/v1/monitor/jobs"))["data"]] == [job["id"]]


def test_one_run_at_a_time_and_generation_goes_on_meanwhile(
    api: httpx.Client, tiny_autopilot: Autopilot
) -> None:
    first = ok(api.post("/v1/monitor/runs", json={"pairs": 0}), 202)  # every pair: minutes
    running(api, first["id"])
    again = api.post("/v1/monitor/runs", json={"quick": True})
    error(again, 409, "already running", first["id"], "one monitor run at a time")
    assert int(again.headers["retry-after"]) > 0
    chat = {"model": "support", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 4}
    answered = ok(api.post("/v1/chat/completions", json=chat))
    assert answered["choices"][0]["message"]["content"] is not None
    # answered while the run still scores: generation took turns with it, did not wait for it
    assert ok(api.get(f"/v1/monitor/jobs/{first['id']}"))["state"] == "running"
    # the server stopping ends the run at its next batch, storing nothing (the fixture stops it)


def test_bad_input_is_refused_at_once(api: httpx.Client, tiny_autopilot: Autopilot,
                                      tmp_path: Path) -> None:  # fmt: skip
    message = error(api.post("/v1/monitor/runs", json={"task": "nope"}), 404, "'nope'", "support")
    assert "task" in message
    error(api.post("/v1/monitor/runs", json={"pairs": -1}), 422)
    error(api.post("/v1/monitor/runs", json={"tasks": "support"}), 422)
    error(api.get("/v1/monitor/jobs/mon_000000000000"), 404, "mon_000000000000")
    assert ok(api.get("/v1/monitor/jobs"))["data"] == []  # nothing was started
    with serving(tiny_autopilot, tmp_path / "empty") as empty:
        refused = httpx.post(f"{empty.url}/v1/monitor/runs", json={"quick": True})
        error(refused, 422, "'default' is empty", "nothing to audit")


def test_each_key_starts_and_sees_runs_of_its_own_namespace_only(
    tiny_autopilot: Autopilot, tmp_path: Path
) -> None:
    keys = KeyStore(tmp_path / "keys.db")
    (_, alpha_key), (_, beta_key) = keys.create("alpha"), keys.create("beta")
    try:
        with serving(tiny_autopilot, tmp_path, keys=keys) as served:
            served.store.add(
                Knowledge(domain="policy", text="Refunds in 5 days.", namespace="alpha")
            )
            alpha, beta = (
                httpx.Client(base_url=served.url, timeout=60,
                             headers={"Authorization": f"Bearer {key}"})
                for key in (alpha_key, beta_key)
            )  # fmt: skip
            with alpha, beta:
                error(httpx.post(f"{served.url}/v1/monitor/runs", json={}), 401)
                error(beta.post("/v1/monitor/runs", json={}), 422, "'beta' is empty")
                job = ok(alpha.post("/v1/monitor/runs", json={"quick": True}), 202)
                assert job["namespace"] == "alpha"
                error(beta.get(f"/v1/monitor/jobs/{job['id']}"), 404)  # as if it never existed
                assert ok(beta.get("/v1/monitor/jobs"))["data"] == []
                assert finished(alpha, job["id"])["state"] == "done"
                assert ok(beta.get("/v1/monitor/runs"))["data"] == []
    finally:
        keys.close()


def test_the_server_starts_a_run_after_n_memory_changes(
    tiny_autopilot: Autopilot, tmp_path: Path
) -> None:
    schedule = MonitorSchedule(every_changes=3, quick=True, poll_s=0.05)
    with (
        serving(tiny_autopilot, tmp_path, monitor=schedule) as served,
        httpx.Client(base_url=served.url, timeout=60) as api,
    ):
        for n in range(3):
            record = {"kind": "knowledge", "domain": "policy", "text": f"Rule {n}: be kind."}
            ok(api.post("/v1/memory/records", json=record), 201)
        deadline = time.monotonic() + DEADLINE_S
        while not (jobs := ok(api.get("/v1/monitor/jobs"))["data"]):
            assert time.monotonic() < deadline, "no run was started after 3 changes"
            time.sleep(0.05)
        done = finished(api, jobs[0]["id"])
        assert done["state"] == "done" and done["namespace"] == "default", done
        assert ok(api.get("/v1/monitor/runs"))["data"][0]["id"] == done["run"]["id"]


def test_the_schedule_counts_changes_per_namespace_and_skips_while_a_run_goes(
    tiny_autopilot: Autopilot, tmp_path: Path
) -> None:
    with open_store(tmp_path / "s.db", embedder="hashing") as store:
        _fill(store)  # 2 changes before the schedule starts: not counted
        state = ServerState(engine=Engine(tiny_autopilot, store))
        scheduler = MonitorScheduler(
            state, MonitorSchedule(every_changes=2, quick=True, poll_s=3600)
        )
        scheduler.start()  # its thread waits an hour: the test looks by itself
        try:
            store.add(Knowledge(domain="policy", text="Refunds take 5 days."))
            assert scheduler.look() is None  # 1 change of 2
            store.add(Knowledge(domain="policy", text="Refunds go to the card.", namespace="b"))
            store.add(Knowledge(domain="policy", text="Exchanges are free."))
            job = scheduler.look()
            assert job is not None and job.namespace == "default"
            assert scheduler.look() is None  # "b" has 1 change; and a run goes anyway
            assert _ended(state, job.namespace, job.id) == "done"
            assert scheduler.look() is None  # counted again from the run's start
            store.add(Knowledge(domain="policy", text="Refunds are fast.", namespace="b"))
            for n in range(2):
                store.add(Knowledge(domain="policy", text=f"Rule {n}."))
            second = scheduler.look()  # both are due: "b" has waited longer
            assert second is not None and second.namespace == "b"
            assert _ended(state, "b", second.id) == "done"
        finally:
            scheduler.stop()
            state.monitoring.shutdown()


def _ended(state: ServerState, namespace: str, job_id: str) -> str:
    deadline = time.monotonic() + DEADLINE_S
    while (job := state.monitoring.get(namespace, job_id)).active:
        assert time.monotonic() < deadline, job
        time.sleep(0.05)
    return job.state


@pytest.mark.parametrize(
    ("settings", "words"),
    [
        ({"every_changes": 0}, "N >= 1"),
        ({"every_minutes": -1.0}, "M > 0"),
    ],
)
def test_a_schedule_out_of_range_names_the_flag(settings: dict[str, Any], words: str) -> None:
    from mindpilot.errors import ConfigError

    with pytest.raises(ConfigError, match=words) as caught:
        MonitorSchedule(**settings)
    assert caught.value.hint is not None and "--monitor-every" in caught.value.hint


@pytest.mark.parametrize(
    ("flags", "words"),
    [
        (["--monitor-task", "support"], "none is scheduled"),
        (["--monitor-every", "5", "--workers", "2"], "every worker"),
        (["--monitor-every-changes", "0"], "0"),
    ],
)
def test_serve_refuses_monitor_flags_that_cannot_work(flags: list[str], words: str) -> None:
    from click.testing import CliRunner

    from mindpilot.cli import cli

    result = CliRunner().invoke(cli, ["serve", "--open", *flags])
    assert result.exit_code != 0 and words in result.output, result.output
    assert "Traceback" not in result.output
