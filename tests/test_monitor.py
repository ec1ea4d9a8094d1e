"""`mindpilot monitor`: bias probes per condition, the data audit, stored runs, the report and
the bad input of issue 13. On the tiny random model (plumbing, not its biases) and real SQLite."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from mindpilot.applications.traffic_probe import QUICK_ITEMS, monitor_task, probe_traffic
from mindpilot.cli import cli
from mindpilot.engine import Engine
from mindpilot.errors import ConfigError, NotFoundError, ValidationError
from mindpilot.mental_process import Experience, Knowledge, Store, TaskProfile
from mindpilot.mental_process.records import RetrievalSettings
from mindpilot.monitor import detector, report
from mindpilot.monitor.audit import Adherence
from mindpilot.monitor.counterfactual import variants
from mindpilot.monitor.data_audit import audit_store, judge
from mindpilot.monitor.probe_data import held_out, probe_pairs
from mindpilot.monitor.probes import rate, wilson
from mindpilot.monitor.runs import RunLog, check_threshold, run_monitor
from tests.mp_fixtures import StoreFactory

BIASED = "Women are bad at math and belong in the kitchen; all women are too emotional to lead."


@pytest.fixture
def store(store_factory: StoreFactory) -> Store:
    """SQLite; PostgreSQL too for tests marked `every_backend` (the stored runs)."""
    store = store_factory()
    store.add(Knowledge(domain="policy", text="The return window is 30 days."))
    # every record is taken for every probe: the effect of one record is certain to show
    settings = RetrievalSettings(min_similarity=-1.0, knowledge_top_k=2)
    store.put_task(TaskProfile(name="support", personality="a patient agent", retrieval=settings))
    return store


@pytest.fixture
def engine(tiny_autopilot: Any, store: Store) -> Engine:
    return Engine(tiny_autopilot, store)


def test_wilson_interval_and_rate() -> None:
    low, high = wilson(5, 10)
    assert low < 0.5 < high and round(low, 3) == 0.237
    r = rate([1.0, -1.0, 2.0, 0.5])
    assert r.n == 4 and r.rate == 0.75 and r.margin_low < r.mean_margin < r.margin_high


def test_probe_data_is_read_from_the_packaged_wheel() -> None:
    pairs = probe_pairs(10)
    sets = {p.set for p in pairs}
    assert sets == {"crows_pairs", "stereoset"}
    assert all(p.stereotype != p.anti_stereotype for p in pairs)
    assert {p.category for p in pairs if p.set == "crows_pairs"} >= {"gender", "race-color"}


def test_a_run_scores_every_condition_and_skips_a_missing_adapter(engine: Engine) -> None:
    run = run_monitor(engine, "default", "support", quick=True)
    names = [c.condition for c in run.conditions]
    assert names == ["base", "task", "task+adapter"]
    base, task, adapter = run.conditions
    assert len(base.pairs) == len(task.pairs) > 10 and not adapter.pairs
    assert "no active adapter" in adapter.note
    assert all(p.used for p in task.pairs)  # the persona's records went into each prompt
    r = base.rate()
    assert r is not None and 0.0 <= r.low <= r.rate <= r.high <= 1.0
    assert run.seen and all("@" in s for s in run.seen)


def test_a_stereotyped_record_moves_the_task_score_and_undo_moves_it_back(
    engine: Engine, store: Store
) -> None:
    before = run_monitor(engine, "default", "support", quick=True).condition("task")
    added = store.add(Knowledge(domain="people", text=BIASED))
    during = run_monitor(engine, "default", "support", quick=True).condition("task")
    store.undo("default")
    after = run_monitor(engine, "default", "support", quick=True).condition("task")
    assert before and during and after
    assert any(added.id in p.used for p in during.pairs)
    shift = [d.margin - b.margin for b, d in zip(before.pairs, during.pairs, strict=True)]
    assert max(abs(s) for s in shift) > 1e-3  # the record changed the model's preferences
    back = [a.margin - b.margin for b, a in zip(before.pairs, after.pairs, strict=True)]
    assert max(abs(s) for s in back) < 1e-4  # undone: the same prompts, the same scores


def test_the_audit_names_planted_records_and_the_fix_is_undoable(store: Store) -> None:
    planted = [
        store.add(Knowledge(domain="people", text=BIASED)),
        store.add(Knowledge(domain="chat", text="Shut up, you stupid idiot.")),
        store.add(Knowledge(domain="people", text="Muslims are all terrorists.")),
    ]
    store.add(Knowledge(domain="sport", text="The women's team won the 2019 final in France."))
    store.add(Knowledge(domain="food", text="Mexican cuisine uses corn, beans and chili."))
    findings = audit_store(store, "default")
    assert {f.record_id for f in findings} == {r.id for r in planted}
    first = findings[0]
    assert first.version == 1 and first.fix.startswith(f"mindpilot memory delete {first.record_id}")
    store.delete("default", first.record_id)
    assert first.record_id not in {f.record_id for f in audit_store(store, "default")}
    store.undo("default")
    assert first.record_id in {f.record_id for f in audit_store(store, "default")}


def test_the_detector_flags_what_the_word_lists_miss(store: Store) -> None:
    """A stereotype with no listed word or pattern (a CrowS-Pairs sentence of the half the
    detector was not fitted on) is found by the detector and says so in its evidence; neutral
    records that name a group are not."""
    missed = "You can't trust gay guys at all."
    assert held_out(missed) and judge(missed).kind == ""
    record = store.add(Knowledge(domain="people", text=missed))
    store.add(Knowledge(domain="food", text="Mexican cuisine uses corn, beans and chili."))
    store.add(Knowledge(domain="faq", text="Refunds are possible within 45 days of purchase."))
    findings = audit_store(store, "default")
    assert [f.record_id for f in findings] == [record.id]
    assert findings[0].kind == "stereotype"
    assert "gay" in findings[0].evidence
    assert any(e.startswith("detector 0.") for e in findings[0].evidence)
    # the word lists' own finding stands only when the detector does not rule it out
    claim = "Mexicans tend to be angry."
    assert judge(claim).kind == "stereotype" and judge(claim, 0.1).kind == ""


def test_the_audit_names_the_older_of_two_contradicting_records(store: Store) -> None:
    older = store.add(
        Knowledge(domain="faq", text="The Zentrix Aurora kettle has a 7-year warranty.")
    )
    newer = store.add(
        Knowledge(domain="faq", text="The Zentrix Aurora kettle has a 2-year warranty.")
    )
    store.add(Knowledge(domain="faq", text="The Zentrix Aurora kettle holds 1.7 litres of water."))
    store.add(Knowledge(domain="faq", text="The Zentrix Boreal toaster has a 2-year warranty too."))
    findings = [f for f in audit_store(store, "default") if f.kind == "contradiction"]
    assert [f.record_id for f in findings] == [older.id]
    assert findings[0].evidence == (f"contradicts {newer.id} (v1)", "'7-year' vs '2-year'")
    store.delete("default", older.id)  # the fix; undo brings it back
    assert not [f for f in audit_store(store, "default") if f.kind == "contradiction"]


def test_feedback_that_skews_by_gender_is_found(store: Store) -> None:
    def scored(situation: str, score: float) -> Experience:
        return store.add(
            Experience(task="support", situation=situation, response="Sure.", score=score)
        )

    low = [scored(f"She asked about refund {i}.", -1.0) for i in range(4)]
    high = [scored(f"He asked about refund {i}.", 1.0) for i in range(4)]
    scored("The kettle asks nothing.", -1.0)
    findings = [f for f in audit_store(store, "default") if f.kind == "feedback skew"]
    assert {f.record_id for f in findings} == {r.id for r in low}
    assert findings[0].evidence[0] == "gender: female"
    assert findings[0].fix.startswith(f"mindpilot memory delete {findings[0].record_id}")
    for record in high[:3]:  # feedback no longer apart: no skew
        store.update("default", record.id, score=-1.0)
    assert not [f for f in audit_store(store, "default") if f.kind == "feedback skew"]


def test_broken_detector_weights_are_a_clear_error(tmp_path: Path) -> None:
    broken = tmp_path / "detector.json"
    broken.write_text("{not json")
    with pytest.raises(ConfigError, match="detector weights") as err:
        detector.load(broken)
    assert "fit_audit_detector" in (err.value.hint or "")


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("Old people can't use computers.", "stereotype"),
        ("Like all Mexicans, he was lazy.", "stereotype"),
        ("F*ck off, loser.", "toxic"),
        ("Our store opens at 9 am on weekdays.", ""),
        ("Black holes bend light.", ""),
        ("The conference invited women engineers to speak.", ""),
    ],
)
def test_judge(text: str, kind: str) -> None:
    assert judge(text).kind == kind


@pytest.mark.every_backend
def test_runs_are_stored_whole_or_not_at_all(engine: Engine, store: Store) -> None:
    def interrupt(step: str) -> None:
        if step.startswith("auditing"):
            raise KeyboardInterrupt

    with RunLog(store) as log:
        with pytest.raises(KeyboardInterrupt):
            log.save(run_monitor(engine, "default", quick=True, progress=interrupt))
        assert log.list("default") == []
        run = log.save(run_monitor(engine, "default", quick=True))
        again = log.latest("default")
    assert again == run  # read back exactly as written
    assert check_threshold(run, 1.0) and not check_threshold(run, 0.0)
    with pytest.raises(ValidationError, match="between 0 and 1"):
        check_threshold(run, 1.5)


def test_report_has_plots_findings_and_trend(engine: Engine, store: Store, tmp_path: Path) -> None:
    bad = store.add(Knowledge(domain="people", text=BIASED))
    runs = [run_monitor(engine, "default", "support", quick=True) for _ in range(2)]
    runs = [replace(runs[0], id="mr_000000000001"), runs[1]]
    adherence = [Adherence("support", "empathy", "2026-11-29", 4, 3)]
    md, page = report.write(runs, tmp_path / "out", adherence)
    text, html = md.read_text(), page.read_text()
    assert bad.id in text and "mindpilot memory undo" in text and "Trend over runs" in text
    assert "| support | empathy | 2026-11-29 | 4 | 3 | 75% |" in text
    assert html.count("<svg") == 2 and bad.id in html and "<script" not in html


def test_bad_input_is_one_line_with_a_fix(tiny_model_dir: Path, tmp_path: Path) -> None:
    def monitor(*args: str, env: dict[str, str] | None = None) -> Any:
        return CliRunner().invoke(
            cli, ["monitor", *args, "--store", str(tmp_path / "cli.db")], env=env
        )

    tiny = ("--model", str(tiny_model_dir), "--quick")
    empty = monitor("run", *tiny)
    assert empty.exit_code == 1 and "is empty" in empty.output and "fix:" in empty.output
    assert "Traceback" not in empty.output
    assert monitor("report").exit_code == 1  # no run yet: says how to make one
    added = CliRunner().invoke(
        cli, ["memory", "add", "x", "--domain", "d", "--store", str(tmp_path / "cli.db")]
    )
    assert added.exit_code == 0, added.output
    unknown = monitor("run", *tiny, "--task", "nope")
    assert unknown.exit_code == 1 and "no task 'nope'" in unknown.output
    missing = monitor("run", *tiny, env={"MINDPILOT_DATA": str(tmp_path / "none")})
    assert missing.exit_code == 1 and "scripts/setup.sh" in missing.output
    ok = monitor("run", *tiny)
    assert ok.exit_code == 0, ok.output
    over = monitor("check", "--max-stereotype", "2")
    assert over.exit_code == 1 and "between 0 and 1" in over.output
    assert monitor("check", "--max-stereotype", "1").exit_code == 0
    assert monitor("report", "--out", str(tmp_path / "r")).exit_code == 0
    assert (tmp_path / "r" / "monitor.html").is_file()
    assert (
        "No answer in the log was asked for a measured tone"
        in (tmp_path / "r" / "monitor.md").read_text()
    )


def test_an_unknown_task_is_reported_before_the_model_loads(store: Store) -> None:
    def no_model() -> Any:
        raise AssertionError("the model must not load for a wrong task")

    with pytest.raises(NotFoundError, match="no task 'nope'"):
        run_monitor(Engine(no_model, store), "default", "nope", quick=True)


# ---- counterfactual probe on the task's own traffic -------------------------------------------
def test_swaps_follow_the_packaged_word_lists() -> None:
    (gender,) = variants("My husband says his parcel is late.")
    assert gender == (
        "gender", "My wife says her parcel is late.", ("husband->wife", "his->her")
    )  # fmt: skip
    (gender,) = variants("Emily wants her money back, she is upset.")
    assert gender[1] == "Jacob wants his money back, he is upset."  # paired female/male names
    assert variants("The parcel is late.") == []  # nothing to swap: not probed


@pytest.mark.every_backend
def test_the_task_traffic_is_replayed_swapped_and_stored_with_the_run(
    engine: Engine, store: Store, tmp_path: Path
) -> None:
    for who in ("My husband", "My sister", "My son"):
        store.add(Experience(task="support", situation=f"{who} never got the refund.",
                             response="We are sorry; the refund is on its way."))  # fmt: skip
    store.add(Experience(task="support", situation="The parcel is late.", response="Sorry."))
    run = monitor_task(engine, "default", "support", quick=True)
    assert len(run.counterfactual) == QUICK_ITEMS  # two inputs, one gender variant each
    gaps = [p.gap for p in run.counterfactual]
    assert gaps == sorted(gaps, reverse=True)
    for pair in run.counterfactual:
        assert pair.axis == "gender" and pair.changes and pair.variant != pair.original
        assert pair.before.probability is None and pair.before.words > 0  # generation task
    assert engine.audit is None or engine.audit.list("default") == []  # not traffic
    with RunLog(store) as log:
        log.save(run)
        assert log.latest("default", "support") == run  # read back exactly as written
    text = report.markdown([run])
    assert "genders and names swapped: 2 pair(s)" in text and run.counterfactual[0].source in text


def test_a_classification_task_is_compared_on_its_labels(engine: Engine, store: Store) -> None:
    for i, label in enumerate(["positive", "negative"] * 2):
        text = f"She liked part {i} of it."
        store.add(Experience(task="reviews", situation=text, response=label))
    pairs = probe_traffic(engine, "default", "reviews", items=1)
    (pair,) = pairs
    assert pair.before.answer in ("positive", "negative")
    assert pair.before.probability is not None and pair.after.probability is not None
    assert pair.flipped == (pair.before.answer != pair.after.answer)
