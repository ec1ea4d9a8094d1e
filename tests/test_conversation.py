"""Chat transcripts into the Mental Process, and time-aware retrieval over them (issue 20)."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from mindpilot.autopilot import Autopilot
from mindpilot.cli import cli
from mindpilot.engine import Engine
from mindpilot.errors import ConfigError, ValidationError
from mindpilot.mental_process import Store, open_store
from mindpilot.mental_process.conversation import (
    conversation_records,
    ingest_records,
    read_transcript,
)
from mindpilot.mental_process.records import AnswerSettings, RetrievalSettings, TaskProfile
from mindpilot.mental_process.timeparse import find_times, parse_date, parse_when, when_of
from mindpilot.self_taking.retrieve import find_knowledge, question_names, without_times

pytest_plugins = ["tests.mp_fixtures"]


def last_may(today: date) -> date:
    """A day of the latest May before this month (what "last May" means on `today`)."""
    return date(today.year if today.month > 5 else today.year - 1, 5, 14)


def anna_transcript(path: Path, today: date) -> Path:
    may, march = last_may(today), last_may(today) - timedelta(days=60)
    rows = [
        ("Anna", "Work is busy, I barely sleep.", str(march), "1"),
        ("Bob", "How was your trip to Oslo?", None, "1"),
        ("Anna", "The Oslo trip was cold and grey.", None, "1"),
        ("Bob", "Did you finally travel?", f"{may}T18:05", "2"),
        ("Anna", "Yes! My trip to Lisbon was wonderful, the tiles and the sea.", None, "2"),
        ("Bob", "I stayed home and painted the kitchen.", None, "2"),
    ]
    turns = [
        {"speaker": who, "text": text, "session": session, **({"time": time} if time else {})}
        for who, text, time, session in rows
    ]
    path.write_text("\n".join(json.dumps(t) for t in turns) + "\n", encoding="utf-8")
    return path


# ---- time expressions ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("her trip last May?", ["2023-05"]),
        ("In May 1983, she married", ["1983-05"]),
        ("I went to Rome last week", ["2023-05-22..2023-05-28"]),
        ("two days ago and yesterday", ["2023-05-31", "2023-06-01"]),
        ("on 8 May, 2023 or May 9, 2023 or 2023-05-10", ["2023-05-08", "2023-05-09", "2023-05-10"]),
        ("in 1994 she hosted a show", ["1994"]),
        ("this may be nothing; 2023-13-45 is no date", []),
    ],
)
def test_time_expressions_resolve_against_the_anchor(text: str, expected: list[str]) -> None:
    found = find_times(text, date(2023, 6, 2))
    assert [f.span.canonical() for f in found] == expected


def test_dates_given_as_values_and_when_fields() -> None:
    assert parse_date("1:56 pm on 8 May, 2023") == date(2023, 5, 8)
    assert parse_date("2023-05-08T10:00:00Z") == date(2023, 5, 8)
    assert parse_date("the day after the wedding") is None
    assert when_of("My trip last May was great", date(2023, 6, 2)) == "2023-06-02; 2023-05"
    assert [s.canonical() for s in parse_when("2023-05; not a date; 2023-05-01..2023-05-07")] == [
        "2023-05",
        "2023-05-01..2023-05-07",
    ]


def test_question_words_without_times_and_names() -> None:
    question = "what did Anna say about her trip last May?"
    assert without_times(question) == "what did Anna say about her trip?"
    assert question_names(question) == ["Anna"]


# ---- reading transcripts ------------------------------------------------------------------------
def test_turns_keep_speaker_session_and_time_in_windows(tmp_path: Path) -> None:
    turns = read_transcript(anna_transcript(tmp_path / "chat.jsonl", date(2023, 6, 2)))
    assert [t.speaker for t in turns[:3]] == ["Anna", "Bob", "Anna"]
    assert turns[1].time == turns[0].time  # a turn without a time takes its session's last one
    records = conversation_records(
        turns, namespace="default", domain="chats", source="chat.jsonl", window=2, overlap=0
    )
    assert [r.session for r in records] == ["1", "1", "2", "2"]  # windows stay in a session
    lisbon = records[2]
    assert lisbon.text.splitlines() == [
        "[2023-05-14, session 2]",
        "Bob: Did you finally travel?",
        "Anna: Yes! My trip to Lisbon was wonderful, the tiles and the sea.",
    ]
    assert (lisbon.speaker, lisbon.when, lisbon.source) == (
        "Bob, Anna",
        "2023-05-14",
        "chat.jsonl#L4-5",
    )


def test_openai_message_lists(tmp_path: Path) -> None:
    session = {"time": "2024-01-02", "session": "a", "messages": [
        {"role": "system", "content": "be nice"},
        {"role": "user", "name": "Anna", "content": "I moved to Porto yesterday."},
        {"role": "assistant", "content": "Congratulations!"},
    ]}  # fmt: skip
    (tmp_path / "one.json").write_text(json.dumps(session["messages"]), encoding="utf-8")
    (tmp_path / "many.jsonl").write_text(json.dumps(session) + "\n", encoding="utf-8")
    turns = read_transcript(tmp_path / "many.jsonl")
    assert [(t.speaker, t.session, t.day) for t in turns] == [
        ("Anna", "a", date(2024, 1, 2)),
        ("assistant", "a", date(2024, 1, 2)),
    ]
    with pytest.raises(ValidationError, match="no time") as caught:
        read_transcript(tmp_path / "one.json")
    assert "--time" in (caught.value.hint or "")
    assert read_transcript(tmp_path / "one.json", default_time="2024-01-02")[0].text.startswith("I")
    records = ingest_records(tmp_path / "many.jsonl", namespace="default", domain="d")
    assert records[0].when == "2024-01-02; 2024-01-01"  # "yesterday", said on 2 January


@pytest.mark.parametrize(
    ("line", "error"),
    [
        ('{"text": "hi", "time": "2023-01-01"}', 'line 2 of .*no "speaker"'),
        ('{"speaker": "Bob", "text": "hi", "session": "new"}', "line 2 of .*no time"),
        ('{"speaker": "Bob", "text": "hi"', "line 2 of .*not valid JSON"),
        ('["Bob", "hi"]', "line 2 of .*expected an object"),
        ('{"speaker": "Bob", "text": {"a": 1}}', 'line 2 of .*"text" must be text'),
    ],
)
def test_bad_lines_are_named_and_nothing_is_written(
    tmp_path: Path, line: str, error: str, hashing_env: None
) -> None:
    good = '{"speaker": "Anna", "text": "hello", "time": "2023-01-01"}'
    path = tmp_path / "chat.jsonl"
    path.write_text(f"{good}\n{line}\n", encoding="utf-8")
    with pytest.raises(ValidationError, match=error):
        read_transcript(path)
    store = tmp_path / "s.db"
    result = CliRunner().invoke(
        cli, ["memory", "ingest", str(path), "--domain", "chats", "--store", str(store)]
    )
    assert result.exit_code != 0 and "line 2" in result.output
    listed = CliRunner().invoke(cli, ["memory", "list", "--store", str(store), "--json"])
    assert listed.exit_code != 0 or json.loads(listed.output) == []


def test_unparseable_times_are_kept_as_text(tmp_path: Path) -> None:
    path = tmp_path / "chat.jsonl"
    path.write_text('{"speaker": "Anna", "text": "hi", "time": "the day after the wedding"}\n')
    (record,) = ingest_records(path, namespace="default", domain="d")
    assert record.when == "the day after the wedding"
    assert record.text.startswith("[the day after the wedding]")


def test_bad_window_settings(tmp_path: Path) -> None:
    path = anna_transcript(tmp_path / "chat.jsonl", date(2023, 6, 2))
    with pytest.raises(ConfigError, match="overlap"):
        ingest_records(path, namespace="default", domain="d", turns=2, turn_overlap=2)


# ---- the user story ----------------------------------------------------------------------------
def test_what_did_anna_say_about_her_trip_last_may(
    tiny_autopilot: Autopilot, tmp_path: Path, hashing_env: None
) -> None:
    """Ingest a chat transcript with the CLI, ask about "last May", and the answer cites the
    turn where Anna spoke of that trip (not her earlier Oslo trip)."""
    path = anna_transcript(tmp_path / "chat.jsonl", date.today())
    store_path = tmp_path / "s.db"
    ingest = CliRunner().invoke(
        cli, ["memory", "ingest", str(path), "--domain", "chats", "--turns", "2",
              "--turn-overlap", "0", "--store", str(store_path)],
    )  # fmt: skip
    assert ingest.exit_code == 0, ingest.output
    with open_store(store_path) as store, Engine(tiny_autopilot, store) as engine:
        store.put_task(TaskProfile(
            name="friend", retrieval=RetrievalSettings(knowledge_top_k=1, min_similarity=-1.0),
            answer=AnswerSettings(mode="extractive"),
        ))  # fmt: skip
        response = engine.respond(
            "What did Anna say about her trip last May?", task="friend", max_new_tokens=8
        )
        (lisbon,) = [r for r in store.list("default") if "Lisbon" in r.text]
    assert response.used_ids == [lisbon.id]
    assert response.citations and response.citations[0].record_id == lisbon.id


def test_time_aware_ranking_and_its_switch(store: Store, tmp_path: Path) -> None:
    today = date(2023, 6, 2)
    path = anna_transcript(tmp_path / "chat.jsonl", today)
    store.add_many(
        ingest_records(path, namespace="default", domain="chats", turns=2, turn_overlap=0)
    )
    question = "What did Anna say about her trip last May?"
    on = find_knowledge(store, "default", question, RetrievalSettings(), today=today)
    assert "Lisbon" in on.hits[0].record.search_text and on.hits[0].time_match is True
    assert on.times and on.times[0].canonical() == "2023-05"
    off = find_knowledge(
        store, "default", question, RetrievalSettings(time_aware=False), today=today
    )
    assert off.times == () and all(h.time_match is None for h in off.hits)


# ---- reranking and hops ------------------------------------------------------------------------
def test_reranking_keeps_both_scores_and_remote_backends_say_why(
    tiny_autopilot: Autopilot, store: Store, tmp_path: Path
) -> None:
    path = anna_transcript(tmp_path / "chat.jsonl", date(2023, 6, 2))
    store.add_many(
        ingest_records(path, namespace="default", domain="chats", turns=1, turn_overlap=0)
    )
    settings = RetrievalSettings(rerank_depth=4, rerank_tokens=8, time_aware=False)
    plain = find_knowledge(store, "default", "Anna trip", RetrievalSettings(time_aware=False))
    found = find_knowledge(store, "default", "Anna trip", settings, scorer=tiny_autopilot.backend)
    assert found.reranked == 4
    head = found.hits[:4]
    assert all(h.rerank_score is not None for h in head)
    assert {h.record.id for h in head} == {h.record.id for h in plain.hits[:4]}
    assert [h.score for h in found.hits[4:]] == [h.score for h in plain.hits[4:]]
    from mindpilot.autopilot.openai_backend import OpenAIBackend

    remote = OpenAIBackend("m", base_url="http://127.0.0.1:9/v1")
    with pytest.raises(ConfigError, match="cannot rerank"):
        find_knowledge(store, "default", "Anna trip", settings, scorer=remote)


def test_a_second_search_finds_a_missing_name(store: Store) -> None:
    from mindpilot.mental_process.records import Knowledge

    store.add_many([
        Knowledge(domain="d", text="Anna met a sailor at the harbour."),
        Knowledge(domain="d", text="Tomas is the sailor Anna met; he sails to Bergen."),
        *(Knowledge(domain="d", text=f"Anna likes harbour topic number {i}.") for i in range(6)),
    ])  # fmt: skip
    question = "Did Anna meet Tomas at the harbour?"
    settings = RetrievalSettings(knowledge_top_k=1, multi_hop=2)
    first = find_knowledge(store, "default", question, RetrievalSettings(knowledge_top_k=1))
    found = find_knowledge(store, "default", question, settings)
    assert first.hops == 0 and first.hop_ids == ()  # off by default
    if "Tomas" in first.hits[0].record.text:  # nothing missing: no second search
        assert found.hops == 0
    else:
        assert found.hops == 1 and "Tomas" in found.hits[1].record.text
        assert found.hop_ids == (found.hits[1].record.id,)
