"""Sentiment analysis on the engine: likelihood-scored labels, examples from experiences."""

from __future__ import annotations

import pytest

from mindpilot.applications import classify
from mindpilot.autopilot import Autopilot
from mindpilot.bench.datasets import balanced_sample, vader_movie_reviews
from mindpilot.engine import Engine
from mindpilot.errors import ConfigError, ValidationError
from mindpilot.mental_process import Experience, Store


def test_probabilities_and_examples(tiny_autopilot: Autopilot, store: Store) -> None:
    example = store.add(
        Experience(task="sentiment", situation="A wonderful, moving film.", response="positive")
    )
    result = classify(Engine(tiny_autopilot, store), "A wonderful film.", examples=1)
    assert result.label in ("positive", "negative")
    assert sum(p for _, p in result.probabilities) == pytest.approx(1.0)
    assert [u.id for u in result.used] == [example.id]
    assert classify(Engine(tiny_autopilot, store), "A film.", examples=0).used == ()


def test_bad_input(tiny_autopilot: Autopilot, store: Store) -> None:
    engine = Engine(tiny_autopilot, store)
    with pytest.raises(ValidationError, match="empty"):
        classify(engine, "  ")
    with pytest.raises(ValidationError, match="two distinct"):
        classify(engine, "fine", labels=("yes", "yes"))


def test_remote_backends_cannot_score(store: Store) -> None:
    remote = Autopilot.load("m", backend="openai", base_url="http://127.0.0.1:9/v1")
    with pytest.raises(ConfigError, match="in-process"):
        classify(Engine(remote, store), "fine")


@pytest.mark.slow
def test_beats_chance_clearly_on_rated_movie_reviews(
    default_autopilot: Autopilot, store: Store
) -> None:
    """VADER's human-rated movie-review sentences (Hutto & Gilbert 2014), from its sdist."""
    test_items = balanced_sample(vader_movie_reviews(), 60, seed=7)
    engine = Engine(default_autopilot, store)
    correct = sum(classify(engine, x.text, examples=0).label == x.label for x in test_items)
    # chance is 0.5 on this balanced sample; 0.65 is ~2.3 standard errors above it
    assert correct / len(test_items) >= 0.65, correct
