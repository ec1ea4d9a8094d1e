"""The Mental Process over REST, against a real server on loopback with raw HTTP (httpx):
records, search, history and undo, tasks, export/import, the audit log and feedback."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest

from mindpilot.autopilot.model import Autopilot
from mindpilot.engine import Engine
from mindpilot.mental_process import Store
from mindpilot.monitor.audit import AuditLog
from mindpilot.server import create_app
from mindpilot.server.background import live_server


def no_model() -> Autopilot:
    raise AssertionError("no Mental Process route may load the model")


@contextmanager
def serve(store: Store, namespace: str = "default", **options: Any) -> Iterator[httpx.Client]:
    """A real server over `store` in open mode (every caller in `namespace`), and a client."""
    engine = Engine(no_model, store, AuditLog(store), model_name="base-model")
    app = create_app(engine, open_mode=True, open_namespace=namespace, **options)
    with live_server(app) as url, httpx.Client(base_url=url, timeout=30) as client:
        yield client


NDJSON = {"content-type": "application/x-ndjson"}


@pytest.fixture
def api(store: Store) -> Iterator[httpx.Client]:
    with serve(store) as client:
        yield client


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def error(response: httpx.Response, status: int, *words: str) -> str:
    """The OpenAI-style error body's message, checked to name each of `words`."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and body["error"]["code"] == status
    message: str = body["error"]["message"]
    for word in words:
        assert word in message, message
    assert "Traceback" not in message
    return message


def add(api: httpx.Client, **record: Any) -> dict[str, Any]:
    result: dict[str, Any] = ok(api.post("/v1/memory/records", json=record), 201)
    return result


def ids(listing: dict[str, Any]) -> list[str]:
    return [item["id"] for item in listing["data"]]


# ---- records ------------------------------------------------------------------------------------
def test_knowledge_create_read_update_delete_and_undo(api: httpx.Client) -> None:
    made = add(api, kind="knowledge", domain="billing", text="Refunds take five days", tags=["faq"])
    assert made["id"].startswith("kn_") and made["version"] == 1 and made["source"] == "api"
    rid = made["id"]
    assert ok(api.get(f"/v1/memory/records/{rid}")) == made
    changed = ok(api.patch(f"/v1/memory/records/{rid}", json={"text": "Refunds take ten days"}))
    assert changed["version"] == 2 and changed["text"] == "Refunds take ten days"
    assert changed["tags"] == ["faq"] and changed["created_at"] == made["created_at"]
    history = ok(api.get(f"/v1/memory/records/{rid}/history"))["data"]
    assert [c["op"] for c in history] == ["add", "update"]
    assert history[1]["before"]["text"] == "Refunds take five days"
    assert history[1]["after"]["version"] == 2 and history[1]["actor"] == "api"
    assert ok(api.delete(f"/v1/memory/records/{rid}")) == {"deleted": 1}
    error(api.get(f"/v1/memory/records/{rid}"), 404, rid)
    undone = ok(api.post("/v1/memory/undo"))["data"]
    assert [(c["op"], c["record_id"], c["undone"]) for c in undone] == [("delete", rid, True)]
    assert ok(api.get(f"/v1/memory/records/{rid}"))["text"] == "Refunds take ten days"


def test_each_kind_keeps_its_update_rule(api: httpx.Client) -> None:
    calm = add(api, kind="emotion", task="support", state="calm", intensity=0.3)
    warm = add(api, kind="emotion", task="support", state="empathy", guidance="listen first")
    assert ok(api.get(f"/v1/memory/records/{calm['id']}"))["superseded_by"] == warm["id"]
    assert ids(ok(api.get("/v1/memory/records", params={"kind": "emotion"}))) == [warm["id"]]
    every = ok(api.get("/v1/memory/records", params={"kind": "emotion", "include_superseded": 1}))
    assert set(ids(every)) == {calm["id"], warm["id"]}
    louder = ok(api.patch(f"/v1/memory/records/{warm['id']}", json={"intensity": 0.9}))
    assert louder["intensity"] == 0.9 and louder["version"] == 2

    lived = add(api, kind="experience", task="support", situation="Where is my parcel?",
                response="It ships tomorrow.")  # fmt: skip
    assert lived["score"] is None
    rated = ok(api.patch(f"/v1/memory/records/{lived['id']}", json={"score": 1, "note": "clear"}))
    assert (rated["score"], rated["note"], rated["version"]) == (1.0, "clear", 2)
    cleared = ok(api.patch(f"/v1/memory/records/{lived['id']}", json={"score": None}))
    assert cleared["score"] is None and cleared["note"] == "clear"
    rewrite = api.patch(f"/v1/memory/records/{lived['id']}", json={"text": "other"})
    error(rewrite, 422, "text", "append-only")
    error(api.patch(f"/v1/memory/records/{lived['id']}", json={"situation": "x"}), 422, "situation")
    assert ok(api.get(f"/v1/memory/records/{lived['id']}"))["situation"] == "Where is my parcel?"


def test_supersede_keeps_the_old_knowledge_out_of_search(api: httpx.Client) -> None:
    old = add(api, kind="knowledge", domain="billing", text="Refunds take five days")
    newer = {"domain": "billing", "text": "Refunds take ten days"}
    new = ok(api.post(f"/v1/memory/records/{old['id']}/supersede", json=newer), 201)
    assert new["id"] != old["id"] and new["version"] == 1
    assert ok(api.get(f"/v1/memory/records/{old['id']}"))["superseded_by"] == new["id"]
    hits = ok(api.post("/v1/memory/search", json={"query": "refunds days"}))["data"]
    assert [h["record"]["id"] for h in hits] == [new["id"]]
    error(api.patch(f"/v1/memory/records/{old['id']}", json={"text": "x"}), 409, "superseded")
    again = api.post(f"/v1/memory/records/{old['id']}/supersede", json={"domain": "b", "text": "y"})
    error(again, 409, "already superseded")
    mood = add(api, kind="emotion", task="support", state="calm")
    not_knowledge = api.post(f"/v1/memory/records/{mood['id']}/supersede",
                             json={"domain": "b", "text": "y"})  # fmt: skip
    error(not_knowledge, 422, "not knowledge")


def test_list_filters_and_pages(api: httpx.Client) -> None:
    made = [
        add(api, kind="knowledge", domain="billing" if i % 2 else "shipping", text=f"fact {i}",
            tags=["faq"] if i < 3 else [])
        for i in range(5)
    ]  # fmt: skip
    add(api, kind="experience", task="support", situation="a question")
    newest_first = [m["id"] for m in reversed(made)]
    knowledge = ok(api.get("/v1/memory/records", params={"kind": "knowledge"}))
    assert ids(knowledge) == newest_first and knowledge["has_more"] is False
    billing = ok(api.get("/v1/memory/records", params={"domain": "billing"}))
    assert ids(billing) == [made[3]["id"], made[1]["id"]]
    tagged = ok(api.get("/v1/memory/records", params={"tag": "faq", "domain": "shipping"}))
    assert ids(tagged) == [made[2]["id"], made[0]["id"]]
    page = ok(api.get("/v1/memory/records", params={"kind": "knowledge", "limit": 2, "offset": 2}))
    assert ids(page) == newest_first[2:4] and page["has_more"] is True
    last = ok(api.get("/v1/memory/records", params={"kind": "knowledge", "limit": 2, "offset": 4}))
    assert ids(last) == newest_first[4:] and last["has_more"] is False
    assert len(ok(api.get("/v1/memory/records", params={"task": "support"}))["data"]) == 1


def test_search_finds_what_was_added_within_kinds_and_tasks(api: httpx.Client) -> None:
    refund = add(api, kind="knowledge", domain="billing", text="Refunds reach the card in 5 days")
    add(api, kind="knowledge", domain="shipping", text="Parcels leave the warehouse daily")
    parcel = add(api, kind="experience", task="support", situation="Where is my parcel?")
    add(api, kind="experience", task="sales", situation="Is the parcel insured?")
    hits = ok(api.post("/v1/memory/search", json={"query": "refunds to my card"}))["data"]
    assert hits[0]["record"]["id"] == refund["id"]
    assert all(-1 <= h["similarity"] <= 1 for h in hits)
    scoped = {"query": "parcel", "kinds": ["experience"], "tasks": ["support"], "top_k": 3}
    found = ok(api.post("/v1/memory/search", json=scoped))["data"]
    assert [h["record"]["id"] for h in found] == [parcel["id"]]
    keyword = {"query": "warehouse", "mode": "keyword", "top_k": 1}
    (hit,) = ok(api.post("/v1/memory/search", json=keyword))["data"]
    assert hit["record"]["domain"] == "shipping" and hit["keyword_rank"] == 1


def test_delete_a_scope_and_undo_it(api: httpx.Client) -> None:
    add(api, kind="experience", task="support", situation="one")
    add(api, kind="emotion", task="support", state="calm")
    kept = add(api, kind="knowledge", domain="billing", text="stays")
    ok(api.put("/v1/tasks/support", json={"personality": "kind"}), 201)
    assert ok(api.delete("/v1/memory/records", params={"task": "support"})) == {"deleted": 3}
    assert ids(ok(api.get("/v1/memory/records"))) == [kept["id"]]
    error(api.get("/v1/tasks/support"), 404, "support")
    assert len(ok(api.post("/v1/memory/undo"))["data"]) == 3
    assert len(ok(api.get("/v1/memory/records"))["data"]) == 3
    assert ok(api.get("/v1/tasks/support"))["personality"] == "kind"
    both = api.delete("/v1/memory/records", params={"task": "support", "domain": "billing"})
    error(both, 422, "exactly one")
    error(api.delete("/v1/memory/records"), 422, "?task=", "?all=true")
    error(api.delete("/v1/memory/records", params={"domain": "nowhere"}), 404, "nowhere")


# ---- tasks --------------------------------------------------------------------------------------
def test_task_profiles_put_get_list_history_and_delete(api: httpx.Client) -> None:
    profile = {
        "description": "answers customers", "personality": "a patient support agent",
        "expertise": ["billing", "shipping"], "default_emotion": "calm",
        "retrieval": {"knowledge_top_k": 2, "min_similarity": 0.4, "decode_retrievals": 0},
    }  # fmt: skip
    made = ok(api.put("/v1/tasks/support", json=profile), 201)
    assert made["version"] == 1 and made["expertise"] == ["billing", "shipping"]
    assert made["retrieval"]["knowledge_top_k"] == 2 and made["retrieval"]["experience_top_k"] == 3
    assert made["retrieval"]["decode_retrievals"] == 0
    replaced = ok(api.put("/v1/tasks/support", json={"personality": "brief"}))
    assert replaced["version"] == 2 and replaced["expertise"] == []
    assert replaced["created_at"] == made["created_at"]
    assert ok(api.get("/v1/tasks/support")) == replaced
    ok(api.put("/v1/tasks/sales", json={}), 201)
    assert [t["name"] for t in ok(api.get("/v1/tasks"))["data"]] == ["sales", "support"]
    history = ok(api.get("/v1/tasks/support/history"))["data"]
    assert [c["op"] for c in history] == ["add", "update"]
    assert history[1]["before"]["personality"] == "a patient support agent"
    assert ok(api.delete("/v1/tasks/support")) == {"deleted": 1}
    error(api.get("/v1/tasks/support"), 404, "support", "sales")
    error(api.delete("/v1/tasks/support"), 404, "support")


# ---- export / import ----------------------------------------------------------------------------
def _fill(api: httpx.Client) -> None:
    ok(api.put("/v1/tasks/support", json={"personality": "kind", "expertise": ["billing"]}), 201)
    old = add(api, kind="knowledge", domain="billing", text="Refunds take five days")
    ok(api.post(f"/v1/memory/records/{old['id']}/supersede",
                json={"domain": "billing", "text": "Refunds take ten days"}), 201)  # fmt: skip
    add(api, kind="emotion", task="support", state="empathy", guidance="listen first")
    add(api, kind="experience", task="support", situation="Where is my parcel? 📦", score=1)


def _lines(text: str) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in text.splitlines()]
    for line in lines:
        line.pop("namespace")
    return lines


def test_export_then_import_into_another_namespace_round_trips(store: Store) -> None:
    with serve(store, "alice") as alice:
        _fill(alice)
        exported = alice.get("/v1/memory/export")
        assert exported.status_code == 200
        assert exported.headers["content-type"].startswith("application/x-ndjson")
        assert exported.headers["x-mindpilot-lines"] == "5"
    with serve(store, "bob") as bob:
        imported = _import(bob, exported.content)
        assert ok(imported, 201) == {"imported": 5}
        again = bob.get("/v1/memory/export")
        assert _lines(again.text) == _lines(exported.text)  # ids, versions, timestamps kept
        query = {"query": "refunds", "kinds": ["knowledge"]}
        hits = ok(bob.post("/v1/memory/search", json=query))["data"]
        assert [h["record"]["text"] for h in hits] == ["Refunds take ten days"]
        assert hits[0]["record"]["namespace"] == "bob"
        twice = _import(bob, exported.content)
        error(twice, 409, "already exist", "nothing was imported")
        assert again.text == bob.get("/v1/memory/export").text
        assert len(ok(bob.post("/v1/memory/undo"))["data"]) == 5  # the whole import at once
        assert bob.get("/v1/memory/export").text == ""


def _import(client: httpx.Client, body: str | bytes) -> httpx.Response:
    return client.post("/v1/memory/import", content=body, headers=NDJSON)


def test_import_refuses_what_another_site_could_send(store: Store) -> None:
    """A page on another site can POST text/plain, a form, or a typeless blob to a loopback
    server without asking it first: import must not take them (open mode has no key)."""
    good = json.dumps({"kind": "knowledge", "domain": "billing", "text": "fine"})
    with serve(store, "bob") as bob:
        for sent in ("text/plain;charset=UTF-8", "application/x-www-form-urlencoded", None):
            headers = {"content-type": sent} if sent else {}
            refused = bob.post("/v1/memory/import", content=good, headers=headers)
            error(refused, 422, "application/x-ndjson")
        assert bob.get("/v1/memory/export").text == ""
        assert ok(_import(bob, good), 201) == {"imported": 1}


def test_import_is_all_or_nothing(store: Store) -> None:
    good = json.dumps({"kind": "knowledge", "domain": "billing", "text": "fine"})
    with serve(store, "bob", max_body_bytes=4096) as bob:
        bad_line = "\n".join([good, good.replace("fine", "also fine"), '{"kind": "knowledge"'])
        error(_import(bob, bad_line), 422, "line 3", "nothing")
        no_domain = json.dumps({"kind": "knowledge", "text": "no domain"})
        error(_import(bob, f"{good}\n{no_domain}"), 422, "line 2")
        unknown = json.dumps({"kind": "mood", "state": "x"})
        error(_import(bob, unknown), 422, "line 1", "mood")
        error(_import(bob, b"\xff\xfe"), 422, "UTF-8")
        surrogate = good.replace("fine", "\\ud800")  # valid JSON, not storable as UTF-8
        error(_import(bob, f"{good}\n{surrogate}"), 422, "nothing")
        huge = json.dumps({"kind": "knowledge", "domain": "d", "text": "t", "version": 2**70})
        error(_import(bob, huge), 422, "nothing")
        error(_import(bob, "[" * 3000), 422)
        error(_import(bob, "\n".join([good] * 100)), 413, "limit")
        assert bob.get("/v1/memory/export").text == ""
        error(bob.post("/v1/memory/undo"), 404, "nothing to undo")


# ---- audit log and feedback ---------------------------------------------------------------------
def answer(tiny_autopilot: Autopilot, store: Store, namespace: str, task: str | None) -> str:
    """A real answer through the engine (tiny model), recorded in the store's audit log."""
    with AuditLog(store) as audit:
        response = Engine(tiny_autopilot, store, audit).respond(
            "How long do refunds take?", task=task, namespace=namespace, max_new_tokens=3
        )
    assert response.audit_id is not None
    return response.audit_id


def test_feedback_on_an_answer_becomes_an_experience(tiny_autopilot: Autopilot, api: httpx.Client,
                                                     store: Store) -> None:  # fmt: skip
    fact = add(api, kind="knowledge", domain="billing", text="Refunds take five days")
    ok(api.put("/v1/tasks/support", json={"retrieval": {"min_similarity": -1.0}}), 201)
    entry_id = answer(tiny_autopilot, store, "default", "support")
    listed = ok(api.get("/v1/log", params={"task": "support"}))
    assert ids(listed) == [entry_id] and listed["has_more"] is False
    entry = ok(api.get(f"/v1/log/{entry_id}"))
    assert entry["request"] == [{"role": "user", "content": "How long do refunds take?"}]
    assert [u["id"] for u in entry["used"]] == [fact["id"]] and entry["completion_tokens"] == 3
    assert "Refunds take five days" in entry["prompt"][-1]["content"]

    good = ok(api.post(f"/v1/log/{entry_id}/feedback", json={"good": True, "note": "right"}))
    assert good["kind"] == "experience" and good["task"] == "support"
    assert (good["score"], good["note"]) == (1.0, "right")
    assert good["situation"] == "How long do refunds take?"
    assert ok(api.get(f"/v1/log/{entry_id}"))["experience_id"] == good["id"]
    bad = ok(api.post(f"/v1/log/{entry_id}/feedback", json={"good": False}))
    assert bad["id"] == good["id"] and bad["score"] == -1.0 and bad["version"] == 2
    assert ok(api.get(f"/v1/memory/records/{good['id']}"))["score"] == -1.0

    untasked = answer(tiny_autopilot, store, "default", None)
    error(api.post(f"/v1/log/{untasked}/feedback", json={"good": True}), 422, "without a task")
    error(api.post("/v1/log/au_000000000000/feedback", json={"good": True}), 404, "au_0000")
    error(api.post(f"/v1/log/{entry_id}/feedback", json={"note": "x"}), 422, "good")
    assert ids(ok(api.get("/v1/log", params={"limit": 1}))) == [untasked]


def test_models_are_listed_without_loading_the_model(api: httpx.Client) -> None:
    """The server's engine is lazy: `no_model` fails the test if anything loads the model."""
    ok(api.put("/v1/tasks/support", json={"description": "answers customers"}), 201)
    cards = ok(api.get("/v1/models"))["data"]
    assert [c["id"] for c in cards] == ["base-model", "support"]
