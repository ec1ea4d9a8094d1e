"""Where mindpilot keeps its state, and the environment variables that move it.

MINDPILOT_HOME   the installation folder (default ~/.mindpilot): store, adapters, keys.
MINDPILOT_CACHE  converted models (default $MINDPILOT_HOME/cache).
MINDPILOT_THREADS torch threads for generation (default 1: on 2 busy cores, faster; see docs).
MINDPILOT_DEBUG  set to 1 to let the CLI show tracebacks instead of friendly errors.
MINDPILOT_MODEL  the model used when none is named (default: the bundled SmolLM2-135M).
MINDPILOT_EMBEDDER the store's embedder (default minilm; hashing: no model, for tests).
MINDPILOT_SYNCHRONOUS how hard the store flushes commits to disk: normal (default) or full.
"""

from __future__ import annotations

import os
from pathlib import Path

from mindpilot.errors import ConfigError


def home() -> Path:
    """The installation folder, created on first use, private to its owner (0700)."""
    path = Path(os.environ.get("MINDPILOT_HOME") or Path.home() / ".mindpilot").expanduser()
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
    except FileExistsError:
        pass  # a file there: said below
    except OSError as err:
        raise ConfigError(
            f"cannot create the mindpilot home {path}: {err.strerror}",
            hint="set MINDPILOT_HOME to a folder you can write",
        ) from None
    if not path.is_dir():
        raise ConfigError(
            f"MINDPILOT_HOME {path} is a file, not a folder",
            hint="point MINDPILOT_HOME at a folder (it is created if missing)",
        )
    return path


def private_file(path: Path) -> None:
    """Create `path` readable and writable by its owner only (0600) unless it exists: stores
    and key files hold private data, and SQLite gives its -wal and -shm files the same mode."""
    if path.exists():
        return
    try:
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    except OSError as err:
        raise ConfigError(
            f"cannot create {path}: {err.strerror}",
            hint="check that its folder exists and is writable, or choose another path",
        ) from None


def cache_dir() -> Path:
    """Folder for converted model weights."""
    env = os.environ.get("MINDPILOT_CACHE")
    path = Path(env).expanduser() if env else home() / "cache"
    path.mkdir(parents=True, exist_ok=True)
    return path


def default_store_path() -> Path:
    """The embedded store's SQLite file."""
    return home() / "mindpilot.db"


def default_threads() -> int:
    """Torch threads for generation, from MINDPILOT_THREADS (default 1)."""
    raw = os.environ.get("MINDPILOT_THREADS", "1")
    try:
        threads = int(raw)
    except ValueError:
        raise ConfigError(
            f"MINDPILOT_THREADS={raw!r} is not a whole number", hint="set it to e.g. 1 or 2"
        ) from None
    if threads < 1:
        raise ConfigError(f"MINDPILOT_THREADS={threads} must be at least 1")
    return threads


def default_model() -> str | None:
    """MINDPILOT_MODEL: a name, folder or .gguf file to use when no model is named."""
    return os.environ.get("MINDPILOT_MODEL") or None


def synchronous() -> str:
    """MINDPILOT_SYNCHRONOUS, SQLite's `synchronous` in WAL mode. NORMAL (default): a commit
    survives the process being killed (kill -9, a crash), but the last commits before an
    operating-system crash or power loss may be lost. FULL: those survive too, for one more
    fsync per commit (docs/operations.md has the measured cost)."""
    raw = (os.environ.get("MINDPILOT_SYNCHRONOUS") or "normal").strip().upper()
    if raw not in ("NORMAL", "FULL"):
        raise ConfigError(
            f"MINDPILOT_SYNCHRONOUS={raw.lower()!r} is not a setting", hint="use normal or full"
        )
    return raw


def debug() -> bool:
    """True when MINDPILOT_DEBUG asks for tracebacks."""
    return os.environ.get("MINDPILOT_DEBUG", "") not in ("", "0", "false")
