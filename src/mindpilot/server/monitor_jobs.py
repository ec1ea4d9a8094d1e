"""Monitor runs inside the server: started on request (POST /v1/monitor/runs) and, when
`mindpilot serve` is told to, after every N memory changes of a namespace or every M minutes.

Every run is a job of `ServerState.monitoring` (server/jobs.py, the machinery of adapter
training): one at a time, in a thread beside the generation worker, running the same core as
`mindpilot monitor run` (`applications.traffic_probe.monitor_task`) and storing the run whole
at the end. Generation is never blocked: the probes take the model's lock one batch at a time,
in turn with generations, and a scheduled run that finds a run going waits for the next look.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import HTTPException

from mindpilot.applications.traffic_probe import monitor_task
from mindpilot.errors import ConfigError, MindpilotError
from mindpilot.monitor.runs import MonitorRun, RunLog, check_scope
from mindpilot.server.deps import ServerState
from mindpilot.server.jobs import Job
from mindpilot.server.queue import GenerationQueue

log = logging.getLogger("mindpilot.server")
POLL_S = 5.0  # how often the schedule looks at the store's change counts and the clock
GIVE_WAY_S = 5.0  # the longest a run waits between batches for generations to go first


def start_run(
    state: ServerState,
    namespace: str,
    task: str | None,
    *,
    quick: bool = False,
    pairs_per_set: int | None = None,
) -> Job[str, MonitorRun]:
    """Start a monitor run of the namespace (as `task`, if named) in the background. An empty
    namespace (422) or an unknown task (404) is refused now, not minutes later as a failed
    job; a run already going is a 409."""
    engine, queue = state.engine, state.queue
    store = check_scope(state.store, namespace, task)

    def work(progress: Callable[[str], None]) -> MonitorRun:
        # the job hears every batch too: its step moves, and a stopping server stops the run
        # within a batch instead of minutes later
        run = monitor_task(
            engine, namespace, task, quick=quick, pairs_per_set=pairs_per_set, progress=progress,
            each_batch=lambda step: _turn(queue, progress, step),
        )  # fmt: skip
        with RunLog(store) as runs:  # one INSERT: a run stopped before this leaves nothing
            return runs.save(run)

    return state.monitoring.start(namespace, task, work)


def _turn(queue: GenerationQueue, progress: Callable[[str], None], step: str) -> None:
    """Report a batch done, then let generations go first: wait while one runs or waits (at
    most GIVE_WAY_S, so steady traffic slows a run down but cannot stall it). Only a pause
    helps here: the model's lock is free now, but a released threading.Lock is not handed to
    the thread waiting for it, and the run would take it back at once, batch after batch."""
    progress(step)
    deadline = time.monotonic() + GIVE_WAY_S
    while time.monotonic() < deadline:
        stats = queue.stats()
        if stats.running + stats.waiting == 0:
            return
        time.sleep(0.01)


@dataclass(frozen=True)
class MonitorSchedule:
    """When `mindpilot serve` starts monitor runs by itself (off unless a trigger is set).

    Each namespace of the store is watched on its own: it is due once `every_changes` changes
    were logged in it (`Store.change_count`; changes before the server started do not count)
    or `every_minutes` passed, both since its last run started here (or since the server
    started). Due namespaces are run one at a time; one found due while a run goes is run at a
    later look, so no trigger is lost, and several triggers met meanwhile make one run."""

    every_changes: int | None = None
    every_minutes: float | None = None
    task: str | None = None  # probe this task too, in the namespaces that have it
    quick: bool = False  # 10 probe pairs per set instead of 150
    poll_s: float = POLL_S

    def __post_init__(self) -> None:
        if self.every_changes is not None and self.every_changes < 1:
            raise ConfigError(
                f"monitor every N changes needs N >= 1, not {self.every_changes}",
                hint="e.g. --monitor-every-changes 100, or leave it out (off)",
            )
        if self.every_minutes is not None and not self.every_minutes > 0:
            raise ConfigError(
                f"monitor every M minutes needs M > 0, not {self.every_minutes}",
                hint="e.g. --monitor-every 60, or leave it out (off)",
            )
        if not self.poll_s > 0:
            raise ConfigError(f"the schedule's poll interval must be > 0 s, not {self.poll_s}")

    @property
    def on(self) -> bool:
        return self.every_changes is not None or self.every_minutes is not None


class MonitorScheduler:
    """The thread that looks every `poll_s` seconds and starts the due namespace's run."""

    def __init__(self, state: ServerState, schedule: MonitorSchedule) -> None:
        self.state, self.schedule = state, schedule
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._changes: dict[str, int] = {}  # per namespace: its change count at its last run
        self._at: dict[str, float] = {}  # per namespace: when its last run started (time())
        self._since = time.time()

    def start(self) -> None:
        store = self.state.store
        self._changes = {ns: store.change_count(ns) for ns in store.namespaces()}
        self._since = time.time()
        self._thread = threading.Thread(target=self._loop, name="mindpilot-monitor", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.schedule.poll_s + 5)

    def _loop(self) -> None:
        while not self._stop.wait(self.schedule.poll_s):
            try:
                self.look()
            except Exception:  # our bug: logged, and the next look tries again
                log.exception("the monitor schedule failed to look at the store")

    def look(self) -> Job[str, MonitorRun] | None:
        """Start the due namespace's run (none while a run goes); returns its job. The one run
        longest ago goes first, so a busy namespace cannot keep the others waiting."""
        if self.state.monitoring.busy:
            return None
        store = self.state.store
        for namespace in sorted(store.namespaces(), key=lambda ns: self._at.get(ns, 0.0)):
            count = store.change_count(namespace)
            if self._due(namespace, count):
                return self._start(namespace, count)
        return None

    def _due(self, namespace: str, count: int) -> bool:
        every_changes, every_minutes = self.schedule.every_changes, self.schedule.every_minutes
        # a namespace first seen after start-up had no change when the server started
        if every_changes is not None and count - self._changes.get(namespace, 0) >= every_changes:
            return True
        since = self._at.get(namespace, self._since)
        return every_minutes is not None and time.time() - since >= every_minutes * 60

    def _start(self, namespace: str, count: int) -> Job[str, MonitorRun] | None:
        task = self.schedule.task
        if task is not None and task not in self.state.store.task_names(namespace):
            task = None  # this namespace lacks the task: its run probes the bare base only
        try:
            job = start_run(self.state, namespace, task, quick=self.schedule.quick)
        except HTTPException:  # a run started over HTTP meanwhile: due still, at a later look
            return None
        except MindpilotError as err:  # e.g. everything was deleted: wait for the next trigger
            log.warning("scheduled monitor run of %r not started: %s", namespace, err.message)
            job = None
        self._changes[namespace], self._at[namespace] = count, time.time()
        return job
