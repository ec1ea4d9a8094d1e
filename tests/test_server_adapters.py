"""Task adapters over real HTTP on the tiny model: a training job from start to a served
answer, one job at a time with generation going on, bad settings refused before any job,
failures that say how to fix them, and two keys that cannot see each other's jobs or adapters."""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from mindpilot.adapters import AdapterConfig, AdapterLibrary, Progress
from mindpilot.autopilot import Autopilot
from mindpilot.errors import ValidationError
from mindpilot.mental_process import Experience, Store
from mindpilot.server.adapter_schemas import TrainIn, job_out
from mindpilot.server.deps import TRAINING
from mindpilot.server.jobs import Job, JobError, Jobs
from mindpilot.server.keys import KeyStore
from tests.server_helpers import Served, serving
from tests.test_server_memory import error, ok

FAST = {"epochs": 3, "learning_rate": 0.005, "batch_size": 8, "rank": 4, "alpha": 8}
# Thousands of steps: still training when the test looks (the server's shutdown stops it).
SLOW = {"epochs": 100, "batch_size": 1, "rank": 4, "alpha": 8, "max_minutes": 1.0}
JOB_TIMEOUT_S = 120


def add_labelled(store: Store, namespace: str = "default", n: int = 12) -> None:
    for i in range(n):
        for text, label in ((f"a fine film {i}", "positive"), (f"a dull film {i}", "negative")):
            example = {"task": "sentiment", "situation": text, "response": label}
            store.add(Experience(namespace=namespace, **example))


def start(api: httpx.Client, body: dict[str, Any], task: str = "sentiment") -> dict[str, Any]:
    response = api.post(f"/v1/tasks/{task}/adapters", json=body)
    job: dict[str, Any] = ok(response, 202)
    assert response.headers["location"] == f"/v1/adapters/jobs/{job['id']}"
    assert job["state"] in ("queued", "running") and job["task"] == task
    return job


def finished(api: httpx.Client, job_id: str) -> dict[str, Any]:
    """Poll the job until it is done or failed (bounded)."""
    deadline = time.monotonic() + JOB_TIMEOUT_S
    while True:
        job: dict[str, Any] = ok(api.get(f"/v1/adapters/jobs/{job_id}"))
        if job["state"] in ("done", "failed"):
            return job
        assert time.monotonic() < deadline, f"job {job_id} did not end in {JOB_TIMEOUT_S} s: {job}"
        time.sleep(0.1)


def provenance_adapter(served: Served, key: str = "not-needed") -> Any:
    answer = served.client(key).chat.completions.create(
        model="sentiment", messages=[{"role": "user", "content": "a dull film?"}], max_tokens=2
    )
    return (answer.model_extra or {})["mindpilot"]["adapter"]


@pytest.fixture
def served(tiny_autopilot: Autopilot, tmp_path: Path) -> Iterator[Served]:
    with serving(tiny_autopilot, tmp_path) as served:
        yield served


@pytest.fixture
def api(served: Served) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=served.url, timeout=30) as client:
        yield client


@pytest.fixture
def keys(tmp_path: Path) -> Iterator[KeyStore]:
    store = KeyStore(tmp_path / "keys.db")
    yield store
    store.close()


def client_for(served: Served, key: str) -> httpx.Client:
    return httpx.Client(base_url=served.url, timeout=30, headers={"Authorization": f"Bearer {key}"})


# ---- the whole way: train, list, activate, answer, deactivate, delete -------------------------
def test_a_job_trains_an_adapter_that_the_task_then_answers_with(
    served: Served, api: httpx.Client, isolated_home: Path
) -> None:
    add_labelled(served.store)
    job = finished(api, start(api, {**FAST, "activate": False})["id"])
    assert job["state"] == "done" and job["error"] is None, job
    assert job["step"] == job["steps"] > 0 and job["loss"] > 0 and job["eta_s"] == 0
    assert job["started_at"] <= job["finished_at"] and job["namespace"] == "default"
    result = job["result"]
    manifest = result["adapter"]
    assert not result["activated"] and "not activated" in result["verdict"].lower()
    assert manifest["task"] == "sentiment" and manifest["kind"] == "classification"
    assert manifest["labels"] == ["negative", "positive"] and manifest["version"] == 1
    assert manifest["hyperparameters"]["rank"] == 4 and len(manifest["records"]) == 24
    adapter_id = manifest["id"]
    # in this test's own MINDPILOT_HOME, where `mindpilot adapters list` finds it too
    assert [m.id for m in AdapterLibrary(isolated_home / "adapters").list("default")] == [
        adapter_id
    ]
    assert ok(api.get("/v1/adapters/jobs"))["data"] == [job]

    listed = ok(api.get("/v1/adapters"))["data"]
    assert listed == [{**manifest, "active": False}]
    assert ok(api.get("/v1/adapters", params={"task": "other"}))["data"] == []
    assert ok(api.get(f"/v1/adapters/{adapter_id}")) == listed[0]
    assert provenance_adapter(served) is None

    activated = ok(api.post(f"/v1/adapters/{adapter_id}/activate"))
    assert activated == {"task": "sentiment", "adapter": adapter_id}
    assert ok(api.get(f"/v1/adapters/{adapter_id}"))["active"] is True
    assert ok(api.get("/v1/tasks/sentiment"))["adapter"] == adapter_id
    assert provenance_adapter(served) == {"id": adapter_id, "task": "sentiment", "version": 1}

    error(api.delete(f"/v1/adapters/{adapter_id}"), 409, "active", "sentiment")
    deactivated = ok(api.delete("/v1/tasks/sentiment/adapter"))
    assert deactivated == {"task": "sentiment", "adapter": None}
    assert ok(api.delete("/v1/tasks/sentiment/adapter")) == deactivated  # already: no change
    changes = ok(api.get("/v1/tasks/sentiment/history"))["data"]
    assert [(c["op"], c["actor"]) for c in changes] == [("add", "api"), ("update", "api")]
    assert provenance_adapter(served) is None

    assert ok(api.delete(f"/v1/adapters/{adapter_id}")) == {"deleted": adapter_id}
    error(api.get(f"/v1/adapters/{adapter_id}"), 404, adapter_id)
    error(api.delete(f"/v1/adapters/{adapter_id}"), 404)
    assert ok(api.get("/v1/adapters"))["data"] == []
    error(api.delete("/v1/tasks/no-such-task/adapter"), 404, "no-such-task")


def test_activating_through_the_job_when_the_adapter_is_better(
    served: Served, api: httpx.Client
) -> None:
    add_labelled(served.store)
    job = finished(api, start(api, FAST)["id"])  # activate defaults to true
    result = job["result"]
    metrics = result["adapter"]["metrics"]
    assert result["activated"] == (metrics["after"] > metrics["before"])
    active = ok(api.get("/v1/tasks/sentiment"))["adapter"] if result["activated"] else None
    assert active == (result["adapter"]["id"] if result["activated"] else None)


# ---- one job at a time; generation goes on ------------------------------------------------------
def test_one_job_at_a_time_while_generation_goes_on(
    tiny_autopilot: Autopilot, tmp_path: Path, keys: KeyStore
) -> None:
    _, alpha_key = keys.create("alpha")
    _, beta_key = keys.create("beta")
    with serving(tiny_autopilot, tmp_path, keys=keys) as served:
        add_labelled(served.store, "alpha")
        add_labelled(served.store, "beta")
        with client_for(served, alpha_key) as alpha, client_for(served, beta_key) as beta:
            job = start(alpha, SLOW)
            again = alpha.post("/v1/tasks/sentiment/adapters", json=FAST)
            error(again, 409, "already running", job["id"], "one adapter at a time")
            assert int(again.headers["retry-after"]) >= 1
            other = beta.post("/v1/tasks/sentiment/adapters", json=FAST)
            message = error(other, 409, "already running")
            assert job["id"] not in message and "sentiment" not in message  # not beta's to know
            error(beta.get(f"/v1/adapters/jobs/{job['id']}"), 404, job["id"])
            assert ok(beta.get("/v1/adapters/jobs"))["data"] == []
            assert _training(alpha, job["id"])["state"] == "running"
            assert provenance_adapter(served, alpha_key) is None  # answered while it trains
            assert _training(alpha, job["id"])["state"] == "running"
    # the server stopped: the job ended at its next step, and left nothing behind
    stopped = served.app.state.mindpilot.training.get("alpha", job["id"])
    assert stopped.state == "failed" and stopped.error is not None
    assert "server stopped" in stopped.error.message and stopped.result is None
    assert AdapterLibrary().list("alpha") == []
    leftovers = list((AdapterLibrary().root / "alpha").rglob("*"))
    assert all(p.is_dir() for p in leftovers), leftovers  # no staging files


def _training(api: httpx.Client, job_id: str) -> dict[str, Any]:
    """The job once it has done a training step (bounded wait)."""
    deadline = time.monotonic() + JOB_TIMEOUT_S
    while True:
        job: dict[str, Any] = ok(api.get(f"/v1/adapters/jobs/{job_id}"))
        if job["step"] > 0 or job["state"] != "running":
            assert job["steps"] >= job["step"] and job["eta_s"] is not None, job
            return job
        assert time.monotonic() < deadline, job
        time.sleep(0.05)


# ---- isolation between keys ---------------------------------------------------------------------
def test_another_key_cannot_see_or_touch_the_jobs_or_adapters(
    tiny_autopilot: Autopilot, tmp_path: Path, keys: KeyStore
) -> None:
    _, alpha_key = keys.create("alpha")
    _, beta_key = keys.create("beta")
    with serving(tiny_autopilot, tmp_path, keys=keys) as served:
        add_labelled(served.store, "alpha")
        with client_for(served, alpha_key) as alpha, client_for(served, beta_key) as beta:
            job = finished(alpha, start(alpha, {**FAST, "activate": False})["id"])
            adapter_id = job["result"]["adapter"]["id"]
            ok(alpha.post(f"/v1/adapters/{adapter_id}/activate"))
            assert job["namespace"] == "alpha"
            error(beta.get(f"/v1/adapters/jobs/{job['id']}"), 404, job["id"])
            assert ok(beta.get("/v1/adapters/jobs"))["data"] == []
            assert ok(beta.get("/v1/adapters"))["data"] == []
            error(beta.get(f"/v1/adapters/{adapter_id}"), 404, adapter_id, "'beta'")
            error(beta.post(f"/v1/adapters/{adapter_id}/activate"), 404)
            error(beta.delete(f"/v1/adapters/{adapter_id}"), 404)
            error(beta.delete("/v1/tasks/sentiment/adapter"), 404)
            # beta's own task of the same name has too few examples: its job fails, on its own
            failed = finished(beta, start(beta, FAST)["id"])
            assert failed["state"] == "failed" and failed["namespace"] == "beta"
            # alpha's is untouched
            assert ok(alpha.get(f"/v1/adapters/{adapter_id}"))["active"] is True
            assert ok(alpha.get("/v1/adapters/jobs"))["data"] == [job]
            assert provenance_adapter(served, alpha_key)["id"] == adapter_id


# ---- bad input ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ({"rank": 0}, 400, ("rank=0", "1 to 256")),
        ({"learning_rate": 5.0}, 400, ("learning_rate=5.0",)),
        ({"target_modules": []}, 400, ("target_modules",)),
        ({"rank": "4"}, 422, ("rank",)),
        ({"epochs": 2.5}, 422, ("epochs",)),
        ({"activate": "yes"}, 422, ("activate",)),
        ('{"dropout": NaN}', 422, ("dropout",)),  # Python's JSON reads NaN; refused
        ({"ranks": 4}, 422, ("ranks", "unknown field")),
        ({"labels": ["good", "good"]}, 422, ("two distinct",)),
    ],
)
def test_bad_settings_are_refused_before_a_job_starts(
    served: Served, api: httpx.Client, body: Any, status: int, words: tuple[str, ...]
) -> None:
    add_labelled(served.store)
    raw = {"content": body, "headers": {"content-type": "application/json"}}
    sent = raw if isinstance(body, str) else {"json": body}
    error(api.post("/v1/tasks/sentiment/adapters", **sent), status, *words)
    assert ok(api.get("/v1/adapters/jobs"))["data"] == []


def test_too_few_examples_end_the_job_failed_with_the_counts(
    served: Served, api: httpx.Client
) -> None:
    for i in range(3):
        served.store.add(Experience(task="tiny", situation=f"q{i}", response="a"))
    served.store.add(Experience(task="tiny", situation="bad", response="b", score=-1.0))
    job = finished(api, start(api, FAST, task="tiny")["id"])
    assert job["state"] == "failed" and job["result"] is None and job["finished_at"]
    message = job["error"]["message"]
    assert "3 usable examples" in message and "of 4 experiences" in message
    assert "at least 8" in message and "--task tiny" in job["error"]["hint"]
    assert ok(api.get("/v1/adapters"))["data"] == []
    second = finished(api, start(api, FAST, task="tiny")["id"])  # the server takes the next one
    assert second["state"] == "failed" and second["id"] != job["id"]
    assert [j["id"] for j in ok(api.get("/v1/adapters/jobs"))["data"]] == [second["id"], job["id"]]


# ---- the request and the job keeper, without a server -------------------------------------------
def test_the_request_has_adapter_configs_fields_and_defaults() -> None:
    settings = set(TrainIn.model_fields) - {"labels", "activate"}
    assert settings == {f.name for f in dataclasses.fields(AdapterConfig)}
    assert TrainIn().config() == AdapterConfig()
    assert TrainIn(labels=["a", "b"]).checked_labels() == ("a", "b")
    progress = Progress(step=3, steps=9, epoch=1, loss=float("nan"), elapsed_s=1.0)
    diverged: Job[Any, Any] = Job("job_1", "ns", "t", 0.0, state="running", progress=progress)
    assert job_out(diverged).loss is None  # JSON has no NaN: null, not a 500


def _wait(jobs: Jobs[Any, Any], job_id: str) -> Any:
    deadline = time.monotonic() + 10
    while (job := jobs.get("ns", job_id)).active:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    return job


def test_a_bug_in_a_job_fails_it_with_a_generic_message_and_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    jobs: Jobs[Any, Any] = Jobs(TRAINING, keep=2)

    def bug(progress: Any) -> Any:
        raise RuntimeError("secret internals")

    def mistake(progress: Any) -> Any:
        raise ValidationError("too few", hint="add more")

    with caplog.at_level(logging.ERROR, logger="mindpilot.server"):
        failed = _wait(jobs, jobs.start("ns", "t", bug).id)
    assert failed.state == "failed" and failed.error is not None
    assert "internal error (RuntimeError)" in failed.error.message
    assert "secret internals" not in failed.error.message
    assert "secret internals" in caplog.text  # the traceback is in the server's log
    told = _wait(jobs, jobs.start("ns", "t", mistake).id)
    assert told.error == JobError("too few", "add more")
    third = _wait(jobs, jobs.start("ns", "t", mistake).id)
    # only the newest `keep` jobs are remembered
    assert [j.id for j in jobs.list("ns")] == [third.id, told.id]
    assert jobs.list("other") == []
