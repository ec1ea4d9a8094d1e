#!/usr/bin/env bash
# Quick start 2/2: set up (once), lint, type-check and run the whole test suite, offline.
# Extra arguments go to pytest; the default run is the fast tests, `-m slow` runs the slow ones.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
.venv/bin/ruff check src tests scripts examples
.venv/bin/ruff format --check src tests scripts examples
.venv/bin/mypy
.venv/bin/lint-imports --no-cache --no-logo  # the layers contract in pyproject.toml
exec .venv/bin/pytest "$@"
