"""Namespace isolation over REST: two servers over the same store file, each with its own
namespace, cannot see or change each other's records, tasks or audit log entries."""

from __future__ import annotations

import httpx

from mindpilot.autopilot.model import Autopilot
from mindpilot.mental_process import Store
from tests.test_server_memory import add, answer, error, ok, serve


def test_one_namespace_cannot_read_or_change_another(tiny_autopilot: Autopilot,
                                                     store: Store) -> None:  # fmt: skip
    with serve(store, "alice") as alice:
        fact = add(alice, kind="knowledge", domain="billing", text="Alice's refunds take 5 days")
        mood = add(alice, kind="emotion", task="support", state="calm")
        ok(alice.put("/v1/tasks/support", json={"personality": "Alice's agent"}), 201)
        entry_id = answer(tiny_autopilot, store, "alice", "support")
        before = alice.get("/v1/memory/export").text
    with serve(store, "bob") as bob:
        _bob_sees_nothing_of_alice(bob, fact["id"], entry_id)
        _bob_changes_nothing_of_alice(bob, fact["id"], mood["id"], entry_id)
        # Bob's own writes under the same names stay his.
        ok(bob.put("/v1/tasks/support", json={"personality": "Bob's agent"}), 201)
        add(bob, kind="knowledge", domain="billing", text="Bob's refunds take 9 days")
        assert ok(bob.delete("/v1/memory/records", params={"all": True})) == {"deleted": 2}
    with serve(store, "alice") as alice:
        assert alice.get("/v1/memory/export").text == before  # untouched, byte for byte
        assert ok(alice.get("/v1/tasks/support"))["personality"] == "Alice's agent"
        assert ok(alice.get(f"/v1/log/{entry_id}"))["experience_id"] is None


def _bob_sees_nothing_of_alice(bob: httpx.Client, fact_id: str, entry_id: str) -> None:
    error(bob.get(f"/v1/memory/records/{fact_id}"), 404, fact_id)
    error(bob.get(f"/v1/memory/records/{fact_id}/history"), 404)
    assert ok(bob.get("/v1/memory/records", params={"include_superseded": True}))["data"] == []
    assert ok(bob.post("/v1/memory/search", json={"query": "refunds days calm"}))["data"] == []
    assert ok(bob.get("/v1/tasks"))["data"] == []
    error(bob.get("/v1/tasks/support"), 404, "support")
    error(bob.get("/v1/tasks/support/history"), 404)
    assert ok(bob.get("/v1/log"))["data"] == []
    error(bob.get(f"/v1/log/{entry_id}"), 404, entry_id)
    assert bob.get("/v1/memory/export").text == ""


def _bob_changes_nothing_of_alice(
    bob: httpx.Client, fact_id: str, mood_id: str, entry_id: str
) -> None:
    error(bob.patch(f"/v1/memory/records/{fact_id}", json={"text": "Bob was here"}), 404)
    error(bob.patch(f"/v1/memory/records/{mood_id}", json={"intensity": 1}), 404)
    error(bob.delete(f"/v1/memory/records/{fact_id}"), 404)
    takeover = {"domain": "billing", "text": "Bob was here"}
    error(bob.post(f"/v1/memory/records/{fact_id}/supersede", json=takeover), 404)
    error(bob.delete("/v1/tasks/support"), 404)
    error(bob.delete("/v1/memory/records", params={"task": "support"}), 404)
    error(bob.delete("/v1/memory/records", params={"all": True}), 404)
    error(bob.post(f"/v1/log/{entry_id}/feedback", json={"good": False}), 404)
    error(bob.post("/v1/memory/undo"), 404, "nothing to undo")
