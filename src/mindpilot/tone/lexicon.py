"""The VADER sentiment lexicon (Hutto & Gilbert 2014: ~7,500 words and emoticons, each with
the mean valence, -4..4, that ten raters gave it), read from the vaderSentiment sdist that
scripts/setup.sh downloads into the data folder; the package itself is never installed."""

from __future__ import annotations

import functools
import tarfile

from mindpilot import config
from mindpilot.errors import NotFoundError

VADER_SDIST = "vaderSentiment-3.3.2.tar.gz"
_MEMBER = "vaderSentiment-3.3.2/vaderSentiment/vader_lexicon.txt"


def available() -> bool:
    """Whether the lexicon's sdist is in the data folder."""
    return (config.data_dir() / VADER_SDIST).is_file()


@functools.cache
def vader_valences() -> dict[str, float]:
    """token (lower case) -> mean valence, -4 (most negative) .. 4 (most positive)."""
    path = config.data_dir() / VADER_SDIST
    if not path.is_file():
        raise NotFoundError(
            f"the VADER lexicon ({path}) is missing, so tone cannot be measured",
            hint="run `bash scripts/setup.sh`, or set MINDPILOT_DATA to the folder holding "
            f"{VADER_SDIST}",
        )
    with tarfile.open(path) as sdist:
        raw = sdist.extractfile(_MEMBER).read().decode("utf-8")  # type: ignore[union-attr]
    valences = {}
    for line in raw.splitlines():
        parts = line.split("\t")
        if len(parts) >= 2:
            valences[parts[0]] = float(parts[1])
    return valences
