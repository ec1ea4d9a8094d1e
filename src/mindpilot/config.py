"""Where mindpilot keeps its state, and the settings that move it.

Each setting comes from, in order: a command's flag (where it has one), the environment
(`MINDPILOT_<NAME>`), `$MINDPILOT_HOME/config.toml` (`name = value`), or its default.
`mindpilot config show` lists every setting, its value and where that came from. Only the
home itself cannot be set in the file that lives in it.
"""

from __future__ import annotations

import os
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

from mindpilot.errors import ConfigError


@dataclass(frozen=True)
class Setting:
    name: str
    default: str
    help: str


SETTINGS = (
    Setting("home", "~/.mindpilot", "the installation folder: store, adapters, keys"),
    Setting("cache", "$MINDPILOT_HOME/cache", "converted model weights"),
    Setting("model", "", "the model used when none is named (empty: the bundled SmolLM2-135M)"),
    Setting("embedder", "minilm", "the store's embedder (hashing: no model, for tests)"),
    Setting("threads", "1", "torch threads for generation (1 is faster on 2 busy cores)"),
    Setting("device", "auto", "where the local model runs: auto (CUDA when available), cpu, cuda"),
    Setting(
        "runtime",
        "torch",
        "local decoding: torch, onnx (an int8 ONNX Runtime build, ~3x faster plain decoding, "
        "perplexity +0.5%) or onnx-fp32 (torch's tokens); docs/operations.md",
    ),
    Setting("embed_runtime", "auto", "MiniLM runtime: auto (onnx, else torch), onnx or torch"),
    Setting("embed_threads", "1", "MiniLM threads for batches (ingest); queries use 1"),
    Setting(
        "store",
        "",
        "the store: a file, or a URL such as postgresql://user@host:5432/db (docs/postgres.md); "
        "empty: mindpilot.db under MINDPILOT_HOME",
    ),
    Setting("synchronous", "normal", "store durability: normal or full (docs/operations.md)"),
    Setting("debug", "0", "1: the CLI shows tracebacks instead of one-line errors"),
    Setting(
        "server",
        "http://127.0.0.1:8000",
        "a local `mindpilot serve` that `generate`, `memory add` and `memory search` use "
        "when it runs on the same store (the resident model; off: never)",
    ),
)
_KNOWN = {s.name: s for s in SETTINGS}


def setting(name: str) -> tuple[str, str]:
    """(value, source) of a setting; source is "environment", "config.toml" or "default"."""
    known = _KNOWN[name]
    env = os.environ.get(f"MINDPILOT_{name.upper()}")
    if env:
        return env, "environment"
    if name != "home":
        filed = _file_settings().get(name)
        if filed is not None:
            return filed, "config.toml"
    return known.default, "default"


def _file_settings() -> dict[str, str]:
    path = Path(setting("home")[0]).expanduser() / "config.toml"
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, OSError) as err:
        raise ConfigError(f"{path} cannot be read: {err}", hint="fix or remove it") from None
    unknown = sorted(set(data) - set(_KNOWN) | ({"home"} & set(data)))
    if unknown:
        raise ConfigError(
            f"{path}: unknown setting(s) {', '.join(unknown)}",
            hint=f"settings: {', '.join(s.name for s in SETTINGS if s.name != 'home')}",
        )
    return {key: str(value).lower() if isinstance(value, bool) else str(value)
            for key, value in data.items()}  # fmt: skip


def home() -> Path:
    """The installation folder, created on first use, private to its owner (0700)."""
    path = Path(setting("home")[0]).expanduser()
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
    value, source = setting("cache")
    path = Path(value).expanduser() if source != "default" else home() / "cache"
    path.mkdir(parents=True, exist_ok=True)
    return path


def data_dir() -> Path:
    """Packaged data read in place (lexicons, evaluation sets): what scripts/setup.sh downloads,
    $MINDPILOT_DATA or <venv>/share/mindpilot-data."""
    return Path(os.environ.get("MINDPILOT_DATA") or Path(sys.prefix) / "share" / "mindpilot-data")


def default_store_path() -> Path:
    """The embedded store's SQLite file."""
    return home() / "mindpilot.db"


def store_target() -> str:
    """The store to open when none is named: the `store` setting (MINDPILOT_STORE,
    config.toml), else the embedded store's file."""
    value = setting("store")[0]
    return value or str(default_store_path())


def store_id(path: Path | str) -> str:
    """A short name for a store file (or URL) that tells two apart without showing it (a
    resident server says which store it serves in its unauthenticated /health answer)."""
    import hashlib

    text = str(path) if "://" in str(path) else str(Path(path).expanduser().resolve())
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def default_threads() -> int:
    """Torch threads for generation, from the `threads` setting (default 1)."""
    return _whole("threads")


def device() -> str:
    """The `device` setting: auto, cpu or cuda (checked where the model loads)."""
    return setting("device")[0]


def embed_threads() -> int:
    """Threads for batch embedding (ingest), from the `embed_threads` setting (default 1)."""
    return _whole("embed_threads")


RUNTIMES = ("torch", "onnx", "onnx-fp32")


def runtime() -> str:
    """The `runtime` setting of the local backend: torch, onnx or onnx-fp32."""
    return _choice("runtime", RUNTIMES)


def embed_runtime() -> str:
    """The `embed_runtime` setting: auto, onnx or torch."""
    return _choice("embed_runtime", ("auto", "onnx", "torch"))


def _choice(name: str, choices: tuple[str, ...]) -> str:
    """A setting that must be one of `choices` (case-insensitive)."""
    value = setting(name)[0].lower()
    if value not in choices:
        env = f"MINDPILOT_{name.upper()}"
        raise ConfigError(
            f"{env}={value!r} is not one of {', '.join(choices)}",
            hint=f"set {env} (or `{name}` in config.toml) to one of them",
        )
    return value


def _whole(name: str) -> int:
    env = f"MINDPILOT_{name.upper()}"
    raw = setting(name)[0]
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(
            f"{env}={raw!r} is not a whole number", hint="set it to e.g. 1 or 2"
        ) from None
    if value < 1:
        raise ConfigError(f"{env}={value} must be at least 1")
    return value


def default_model() -> str | None:
    """The `model` setting: a name, folder or .gguf file to use when no model is named."""
    return setting("model")[0] or None


def synchronous() -> str:
    """MINDPILOT_SYNCHRONOUS, SQLite's `synchronous` in WAL mode. NORMAL (default): a commit
    survives the process being killed (kill -9, a crash), but the last commits before an
    operating-system crash or power loss may be lost. FULL: those survive too, for one more
    fsync per commit (docs/operations.md has the measured cost)."""
    raw = setting("synchronous")[0].strip().upper()
    if raw not in ("NORMAL", "FULL"):
        raise ConfigError(
            f"MINDPILOT_SYNCHRONOUS={raw.lower()!r} is not a setting", hint="use normal or full"
        )
    return raw


def debug() -> bool:
    """True when the `debug` setting asks for tracebacks (a broken config.toml is reported by
    the one-line error this reads for, so here only the environment counts then)."""
    try:
        value = setting("debug")[0]
    except ConfigError:
        value = os.environ.get("MINDPILOT_DEBUG", "")
    return value.lower() not in ("", "0", "false", "no")


def embedder_name() -> str:
    """The `embedder` setting."""
    return setting("embedder")[0]
