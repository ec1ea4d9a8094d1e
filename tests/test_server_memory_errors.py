"""Bad input to the Mental Process REST API: the right status, an OpenAI-style error whose
message names the problem, no traceback and nothing written. One real server for the table."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from mindpilot.mental_process import open_store
from mindpilot.mental_process.records import RECORD_TYPES, TaskProfile
from mindpilot.server import memory_schemas
from tests.test_server_memory import error, ok, serve

KN, EM, EX = "knowledge", "emotion", "experience"


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    path = tmp_path_factory.mktemp("errors") / "s.db"
    with open_store(path, embedder="hashing") as store, serve(store) as client:
        yield client


@pytest.fixture(scope="module")
def seeded(api: httpx.Client) -> dict[str, str]:
    """One record of each kind (ids by kind) and a task, before the bad requests."""
    bodies = [
        {"kind": KN, "domain": "billing", "text": "Refunds take five days"},
        {"kind": EM, "task": "support", "state": "calm"},
        {"kind": EX, "task": "support", "situation": "Where is my parcel?"},
    ]
    made = {b["kind"]: ok(api.post("/v1/memory/records", json=b), 201)["id"] for b in bodies}
    ok(api.put("/v1/tasks/support", json={}), 201)
    return made


def record(**fields: Any) -> dict[str, Any]:
    return {"kind": KN, "domain": "billing", "text": "fine", **fields}


# (method, path with {knowledge}/{emotion}/{experience} for seeded ids, json, status, words)
CASES: list[tuple[str, str, Any, int, tuple[str, ...]]] = [
    ("POST", "/v1/memory/records", {"domain": "d", "text": "t"}, 422, ("kind",)),
    ("POST", "/v1/memory/records", record(kind="mood"), 422, ("mood",)),
    ("POST", "/v1/memory/records", record(color="red"), 422, ("color",)),
    ("POST", "/v1/memory/records", record(text=""), 422, ("text",)),
    ("POST", "/v1/memory/records", record(text="   "), 422, ("text", "empty")),
    ("POST", "/v1/memory/records", record(domain="d" * 201), 422, ("domain", "200")),
    ("POST", "/v1/memory/records", record(tags=[" "]), 422, ("tag",)),
    ("POST", "/v1/memory/records", record(tags="faq"), 422, ("tags",)),
    ("POST", "/v1/memory/records", record(text="x" * 100_001), 413, ("100000",)),
    (
        "POST",
        "/v1/memory/records",
        {"kind": EM, "task": "t", "state": "s", "intensity": 2},
        422,
        ("intensity",),
    ),
    (
        "POST",
        "/v1/memory/records",
        {"kind": EX, "task": "t", "situation": "s", "score": -3},
        422,
        ("score",),
    ),
    ("POST", "/v1/memory/records", {"kind": EX, "task": "t"}, 422, ("situation",)),
    ("POST", "/v1/memory/records", [record()], 422, ()),
    ("GET", "/v1/memory/records?kind=mood", None, 422, ("kind",)),
    ("GET", "/v1/memory/records?limit=-1", None, 422, ("limit",)),
    ("GET", "/v1/memory/records?limit=100000", None, 422, ("limit",)),
    ("GET", f"/v1/memory/records?offset={10**30}", None, 422, ("offset",)),
    ("GET", "/v1/memory/records?since=nan", None, 422, ("since",)),
    ("GET", "/v1/memory/records/kn_000000000000", None, 404, ("kn_000000000000",)),
    ("GET", "/v1/memory/records/kn_000000000000/history", None, 404, ("no history",)),
    ("PATCH", "/v1/memory/records/kn_000000000000", {"text": "x"}, 404, ("kn_000000000000",)),
    ("PATCH", "/v1/memory/records/{knowledge}", {}, 422, ("nothing",)),
    ("PATCH", "/v1/memory/records/{knowledge}", {"state": "x"}, 422, ("state", "updatable")),
    ("PATCH", "/v1/memory/records/{knowledge}", {"bogus": 1}, 422, ("bogus",)),
    ("PATCH", "/v1/memory/records/{knowledge}", {"text": " "}, 422, ("text", "empty")),
    ("PATCH", "/v1/memory/records/{emotion}", {"intensity": 3}, 422, ("intensity",)),
    ("PATCH", "/v1/memory/records/{experience}", {"note": "x" * 100_001}, 413, ("100000",)),
    ("DELETE", "/v1/memory/records/kn_000000000000", None, 404, ("kn_000000000000",)),
    (
        "POST",
        "/v1/memory/records/kn_000000000000/supersede",
        {"domain": "d", "text": "t"},
        404,
        ("kn_000000000000",),
    ),
    ("POST", "/v1/memory/records/{knowledge}/supersede", {"text": "t"}, 422, ("domain",)),
    ("POST", "/v1/memory/search", {"query": "   "}, 422, ("query", "empty")),
    ("POST", "/v1/memory/search", {"query": ""}, 422, ("query",)),
    ("POST", "/v1/memory/search", {"query": "q", "top_k": 0}, 422, ("top_k",)),
    ("POST", "/v1/memory/search", {"query": "q", "top_k": 10**6}, 422, ("top_k",)),
    ("POST", "/v1/memory/search", {"query": "q", "kinds": ["mood"]}, 422, ("kinds",)),
    ("POST", "/v1/memory/search", {"query": "q", "kinds": []}, 422, ("kinds",)),
    ("POST", "/v1/memory/search", {"query": "q", "mode": "fuzzy"}, 422, ("mode",)),
    ("POST", "/v1/memory/search", {"q": "refunds"}, 422, ("q",)),
    ("PUT", "/v1/tasks/sales", {"color": "red"}, 422, ("color",)),
    ("PUT", "/v1/tasks/sales", {"expertise": "billing"}, 422, ("expertise",)),
    ("PUT", "/v1/tasks/sales", {"retrieval": {"knowledge_top_k": -1}}, 422, ("knowledge_top_k",)),
    (
        "PUT",
        "/v1/tasks/sales",
        {"retrieval": {"knowledge_top_k": 10**12}},
        422,
        ("knowledge_top_k",),
    ),
    ("PUT", "/v1/tasks/sales", {"retrieval": {"min_similarity": 5}}, 422, ("min_similarity",)),
    ("PUT", "/v1/tasks/sales", {"retrieval": {"bogus": 1}}, 422, ("bogus",)),
    ("PUT", "/v1/tasks/%20", {}, 422, ("name", "empty")),
    ("GET", "/v1/tasks/sales", None, 404, ("sales", "support")),
    ("DELETE", "/v1/tasks/sales", None, 404, ("sales",)),
    ("GET", "/v1/tasks/sales/history", None, 404, ("task:sales",)),
    ("GET", "/v1/log/au_000000000000", None, 404, ("au_000000000000",)),
    ("GET", "/v1/log?limit=-5", None, 422, ("limit",)),
    ("POST", "/v1/log/au_000000000000/feedback", {"good": True}, 404, ("au_000000000000",)),
    ("POST", "/v1/log/au_000000000000/feedback", {"good": "maybe"}, 422, ("good",)),
    ("DELETE", "/v1/memory/records?task=nobody", None, 404, ("nobody",)),
]


@pytest.mark.parametrize(("method", "path", "body", "status", "words"), CASES)
def test_bad_input_gets_a_status_and_a_message_naming_it(
    api: httpx.Client, seeded: dict[str, str], method: str, path: str, body: Any, status: int,
    words: tuple[str, ...],
) -> None:  # fmt: skip
    response = api.request(method, path.format(**seeded), json=body)
    error(response, status, *words)


@pytest.mark.parametrize(
    ("path", "content", "words"),
    [
        ("/v1/memory/records", b'{"kind": "knowledge", "domain": "d", "text": "\\ud800"}',
         ("text", "unicode")),
        ("/v1/memory/search", b'{"query": "q", "tasks": ["\\udfff"]}', ("tasks", "unicode")),
        ("/v1/memory/records", b'{"kind": "knowledge", "domain": "d",', ("JSON",)),
        ("/v1/memory/records", b"\xff\xfe", ()),
    ],
)  # fmt: skip
def test_undecodable_bodies_are_a_422(
    api: httpx.Client, seeded: dict[str, str], path: str, content: bytes, words: tuple[str, ...]
) -> None:
    response = api.post(path, content=content, headers={"content-type": "application/json"})
    error(response, 422, *words)


def test_nothing_was_written_by_the_bad_requests(api: httpx.Client, seeded: dict[str, str]) -> None:
    listed = ok(api.get("/v1/memory/records", params={"include_superseded": True}))
    assert sorted(r["id"] for r in listed["data"]) == sorted(seeded.values())
    assert all(r["version"] == 1 for r in listed["data"] if r["kind"] != "experience")
    assert [t["name"] for t in ok(api.get("/v1/tasks"))["data"]] == ["support"]


def test_response_models_mirror_the_records_field_for_field() -> None:
    """A field added to a record must be added to its response model (extra="forbid" would
    otherwise turn every read of it into a 500)."""
    for kind, cls in RECORD_TYPES.items():
        model = getattr(memory_schemas, f"{kind.capitalize()}Out")
        assert set(model.model_fields) == {f.name for f in dataclasses.fields(cls)} | {"kind"}
    task_fields = {f.name for f in dataclasses.fields(TaskProfile)} | {"kind"}
    assert set(memory_schemas.TaskOut.model_fields) == task_fields


def test_json_types_are_strict(api: httpx.Client, seeded: dict[str, str]) -> None:
    """false is not a score of 0 and 1 is not true; a whole number is a fine float."""
    path = "/v1/memory/records/{experience}".format(**seeded)
    error(api.patch(path, json={"score": False}), 422, "score")
    assert ok(api.patch(path, json={"score": 1}))["score"] == 1.0
    error(api.post("/v1/log/au_000000000000/feedback", json={"good": 1}), 422, "good")
    ndjson = {"content-type": "application/x-ndjson"}
    error(api.post("/v1/memory/import", content=b" \n", headers=ndjson), 422, "empty")
