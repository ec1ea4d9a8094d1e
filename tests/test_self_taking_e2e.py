"""Self-taking end to end on the real bundled model and the real MiniLM embedder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mindpilot.autopilot import Autopilot
from mindpilot.engine import Engine
from mindpilot.mental_process import MentalProcess, TaskProfile

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parent.parent
FACT = "The Zentrix Aurora kettle has a 7-year warranty. Refunds are possible within 45 days."
QUESTION = "How long is the warranty on the Zentrix Aurora kettle?"


@pytest.fixture
def support(default_autopilot: Autopilot, tmp_path: Path) -> tuple[Engine, MentalProcess]:
    mp = MentalProcess(tmp_path / "store.db", namespace="shop", embedder="minilm")
    mp.put_task(
        TaskProfile(
            name="support",
            namespace="shop",
            expertise=("zentrix",),
            personality="a friendly support agent for Zentrix",
        )
    )
    mp.update_domain_knowledge("zentrix", FACT)
    mp.update_domain_knowledge("zentrix", "Support is open Monday to Friday, 8am to 6pm.")
    mp.update_domain_knowledge("cooking", "Pasta is cooked in plenty of salted boiling water.")
    return Engine(default_autopilot, mp.store), mp


def test_a_stored_fact_is_answered_only_with_the_mental_process(
    support: tuple[Engine, MentalProcess],
) -> None:
    engine, mp = support
    with_memory = engine.respond(QUESTION, task="support", namespace="shop", max_new_tokens=40)
    without = engine.respond(
        QUESTION, task="support", namespace="shop", use_memory=False, max_new_tokens=40
    )
    assert "7" in with_memory.text, with_memory.text
    assert "7" not in without.text, without.text
    [fact] = [r for r in mp.list(kind="knowledge") if r.text == FACT]  # type: ignore[union-attr]
    assert with_memory.used[0].id == fact.id and with_memory.used[0].similarity > 0.5


def test_an_unrelated_question_injects_nothing(support: tuple[Engine, MentalProcess]) -> None:
    engine, _ = support
    response = engine.respond(
        "What is the capital of France?", task="support", namespace="shop", max_new_tokens=30
    )
    assert response.used == ()
    assert "Reference information" not in response.prompt[-1].content


def test_the_emotional_state_reaches_prompt_and_provenance(
    support: tuple[Engine, MentalProcess],
) -> None:
    engine, mp = support
    before = engine.respond(QUESTION, task="support", namespace="shop", max_new_tokens=5)
    emotion = mp.update_emotional_states("support", "Empathy")
    after = engine.respond(QUESTION, task="support", namespace="shop", max_new_tokens=5)
    assert "empathy" not in before.prompt[0].content
    assert "Respond with empathy." in after.prompt[0].content
    assert emotion.id in after.used_ids and emotion.id not in before.used_ids


def test_the_proposals_example_runs_unchanged(
    default_autopilot: Autopilot, isolated_home: Path, session_cache: Path
) -> None:
    env = {
        **os.environ,
        "MINDPILOT_HOME": str(isolated_home),
        "MINDPILOT_CACHE": str(session_cache),
    }
    run = [sys.executable, str(ROOT / "examples" / "proposal.py")]
    done = subprocess.run(run, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "label" in done.stdout.lower() or "supervised" in done.stdout.lower(), done.stdout
    again = subprocess.run(run, env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr  # the Mental Process survived the restart
    mp = MentalProcess()
    assert len(mp.domain_knowledge["Machine Learning"]) == 2
