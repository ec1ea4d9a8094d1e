#!/usr/bin/env bash
# Quick start 1/2: set up (once) and run the demo on the bundled default model, offline.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
exec .venv/bin/mindpilot demo "$@"
