"""Generations run one at a time in a worker thread, behind a bounded queue.

The event loop never decodes: a `Job` runs its whole generation in the worker thread (the
stream must be advanced, and closed, by the thread that holds the backend's lock) and hands
each piece to the loop. A job whose caller went away is cancelled: the worker closes its
stream between two pieces, which ends the backend's decoding loop, and moves on to the next.

Admission keeps its promise: a request is admitted only if it can be expected to finish in
time. Expected time = (jobs ahead / workers + 1) x the time of recent generations (the slower
of their moving mean and the latest); when it exceeds `HEADROOM` of the server's `max_wait_s`,
or of the client's own budget (the `X-Stainless-
Timeout` header the openai clients send, or `X-Mindpilot-Timeout`), the request is refused at
once with 429 and a Retry-After saying when it would fit, instead of being admitted and timed
out later. A full queue (`workers + max_waiting` admitted) is refused the same way.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Literal

from fastapi import HTTPException, Request

from mindpilot.types import Response, Stream

# How often a waiting request checks whether its client is still connected (seconds).
DISCONNECT_POLL_S = 0.2
RETRY_AFTER_S = 1
# Until generations have been timed: a default-model answer on 2 cores takes 4-6 s.
PRIOR_GENERATION_S = 5.0
MEAN_WEIGHT = 0.5  # exponential moving mean of generation times: the newest counts this much
# Admit only what is expected to finish within this share of the time allowed: generation time
# varies: in the 50-client chaos mix, admitting on the whole budget let 8 of 30 admitted chats
# time out, 0.7 of it 1 of 26, 0.5 none of 13 (fewer served: the price of the promise).
HEADROOM = 0.5
BUDGET_HEADERS = ("x-mindpilot-timeout", "x-stainless-timeout")

EventKind = Literal["started", "piece", "done", "error"]


class ClientGone(Exception):
    """The caller disconnected while its request waited or ran."""


@dataclass(frozen=True)
class QueueStats:
    """Counts since the server started, and the jobs admitted now."""

    workers: int
    max_waiting: int
    running: int
    waiting: int
    completed: int
    cancelled: int
    failed: int
    rejected: int
    mean_generation_s: float  # the moving mean admission uses


class Job:
    """One generation, seen from the event loop: await its events, or cancel it."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._events: asyncio.Queue[tuple[EventKind, Any]] = asyncio.Queue()
        self.cancelled = threading.Event()
        self._checked_at = time.monotonic()  # when the client's connection was last checked

    def cancel(self) -> None:
        """Stop the generation (it ends before its next piece), or skip it if not started."""
        self.cancelled.set()

    def emit(self, kind: EventKind, value: Any = None) -> None:
        """Called from the worker thread."""
        try:
            self._loop.call_soon_threadsafe(self._events.put_nowait, (kind, value))
        except RuntimeError:  # the loop closed (server shutting down): nobody is listening
            self.cancelled.set()

    async def next(self, request: Request | None = None) -> tuple[EventKind, Any]:
        """The next event; with `request`, raises ClientGone if its client disconnects."""
        if request is None:
            return await self._events.get()
        while True:
            # Checked by the clock, not only when no event comes: pieces may arrive faster
            # than the poll interval for the whole generation.
            if time.monotonic() - self._checked_at >= DISCONNECT_POLL_S:
                self._checked_at = time.monotonic()
                if await request.is_disconnected():
                    self.cancel()
                    raise ClientGone
            try:
                return await asyncio.wait_for(self._events.get(), DISCONNECT_POLL_S)
            except TimeoutError:
                continue

    async def started(self, request: Request) -> None:
        """Wait until the generation starts; raises what failed before it could."""
        kind, value = await self.next(request)
        if kind == "error":
            raise value
        assert kind == "started", kind  # the worker emits "started" first, or "error"

    async def result(self, request: Request) -> Response:
        """Wait for the finished Response (pieces are dropped); raises what failed."""
        while True:
            kind, value = await self.next(request)
            if kind == "error":
                raise value
            if kind == "done":
                result: Response = value
                return result


class GenerationQueue:
    """Admits at most `workers + max_waiting` jobs; runs `workers` of them at a time."""

    def __init__(self, max_waiting: int = 16, workers: int = 1, max_wait_s: float = 120.0) -> None:
        if max_waiting < 0 or workers < 1 or max_wait_s <= 0:
            raise ValueError(
                f"max_waiting={max_waiting} must be >= 0, workers={workers} >= 1, "
                f"max_wait_s={max_wait_s} > 0"
            )
        self.max_waiting = max_waiting
        self.workers = workers
        self.max_wait_s = max_wait_s
        self._mean_s = self._last_s = PRIOR_GENERATION_S
        self._executor = ThreadPoolExecutor(workers, thread_name_prefix="mindpilot-generate")
        self._lock = threading.Lock()
        self._admitted = self._running = 0
        self._counts = {"completed": 0, "cancelled": 0, "failed": 0, "rejected": 0}

    def submit(self, start: Callable[[], Stream[Response]], budget_s: float | None = None) -> Job:
        """Queue a generation; `start` runs in the worker and returns its stream. Raises 429
        (with Retry-After) when the queue is full or the request would not finish within
        `budget_s` (the client's) or `max_wait_s` (the server's)."""
        with self._lock:
            limit = min(self.max_wait_s, budget_s) if budget_s else self.max_wait_s
            # the slower of the moving mean and the latest: a machine getting busier shows at once
            per_job = max(self._mean_s, self._last_s)
            expected = (self._admitted / self.workers + 1) * per_job
            full = self._admitted >= self.workers + self.max_waiting
            if full or expected > HEADROOM * limit:
                self._counts["rejected"] += 1
                raise self._refusal(full, expected, limit)
            self._admitted += 1
        job = Job(asyncio.get_running_loop())
        self._executor.submit(self._run, job, start)
        return job

    def _refusal(self, full: bool, expected: float, limit: float) -> HTTPException:
        ahead = (
            f"{self._running} generation(s) running and {self._admitted - self._running} waiting"
        )
        if full:
            why = f"the server is busy: {ahead} (queue size {self.max_waiting})"
            retry = max(RETRY_AFTER_S, math.ceil(self._mean_s))
        else:
            why = (
                f"the server is busy: {ahead}, so this request would take about {expected:.0f} s, "
                f"over the {limit:.0f} s it may take"
            )
            retry = max(RETRY_AFTER_S, math.ceil(expected - limit))
        return HTTPException(429, f"{why}; retry in {retry} s", headers={"Retry-After": str(retry)})

    def _run(self, job: Job, start: Callable[[], Stream[Response]]) -> None:
        outcome = "cancelled"
        try:
            if not job.cancelled.is_set():
                with self._lock:
                    self._running += 1
                began = time.monotonic()
                try:
                    outcome = self._generate(job, start)
                finally:
                    with self._lock:
                        self._running -= 1
                        if outcome == "completed":
                            took = time.monotonic() - began
                            self._mean_s += MEAN_WEIGHT * (took - self._mean_s)
                            self._last_s = took
        finally:
            with self._lock:
                self._admitted -= 1
                self._counts[outcome] += 1

    @staticmethod
    def _generate(job: Job, start: Callable[[], Stream[Response]]) -> str:
        try:
            stream = start()
            job.emit("started")
            for piece in stream:
                if job.cancelled.is_set():
                    stream.close()  # ends the backend's decoding loop and frees its lock
                    return "cancelled"
                job.emit("piece", piece)
            job.emit("done", stream.result)
            return "completed"
        except Exception as err:  # handed to the request, which answers with it
            job.emit("error", err)
            return "failed"

    def stats(self) -> QueueStats:
        with self._lock:
            return QueueStats(
                workers=self.workers,
                max_waiting=self.max_waiting,
                running=self._running,
                waiting=self._admitted - self._running,
                **self._counts,
                mean_generation_s=self._mean_s,
            )

    @staticmethod
    def budget(request: Request) -> float | None:
        """The client's time budget in seconds, from its headers (None: it gave none)."""
        for name in BUDGET_HEADERS:
            raw = request.headers.get(name)
            if raw:
                try:
                    value = float(raw)
                except ValueError:
                    continue
                if math.isfinite(value) and value > 0:
                    return value
        return None

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
