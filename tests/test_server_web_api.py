"""The HTTP routes the web page added (issue 15), without a browser: uploading a document to
ingest, and the read-only monitor; each in the caller's namespace only."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from mindpilot.mental_process.records import Knowledge, TaskProfile
from mindpilot.monitor.runs import RunLog, run_monitor
from mindpilot.server.keys import KeyStore
from tests.server_helpers import Served, error_of, serving

DOC = b"# Descaling\n\nDescale the Aurora kettle every month with citric acid.\n"


@pytest.fixture
def keyed(tiny_autopilot: Any, tmp_path: Path) -> Iterator[tuple[Served, dict[str, str]]]:
    """A server with two namespaces' keys: {"shop": key, "other": key}."""
    keys = KeyStore(tmp_path / "keys.db")
    secrets = {name: keys.create(name)[1] for name in ("shop", "other")}
    with serving(tiny_autopilot, tmp_path, keys=keys) as served:
        yield served, secrets
    keys.close()


def client(served: Served, key: str) -> httpx.Client:
    return httpx.Client(base_url=served.url, timeout=60, headers={"Authorization": f"Bearer {key}"})


def test_an_uploaded_document_is_ingested_named_by_its_file_and_undone_whole(
    keyed: tuple[Served, dict[str, str]],
) -> None:
    served, keys = keyed
    with client(served, keys["shop"]) as shop:
        done = shop.post(
            "/v1/memory/ingest",
            params={"domain": "manuals", "filename": "C:\\Users\\me\\descaling.md"},
            content=DOC,
            headers={"Content-Type": "application/octet-stream"},
        )
        assert done.status_code == 201, done.text
        [record_id] = done.json()["ids"]
        record = shop.get(f"/v1/memory/records/{record_id}").json()
        assert record["source"].startswith("descaling.md") and "citric acid" in record["text"]
        assert record["domain"] == "manuals" and record["namespace"] == "shop"
        assert shop.post("/v1/memory/undo").status_code == 200
        assert shop.get(f"/v1/memory/records/{record_id}").status_code == 404


@pytest.mark.parametrize(
    ("filename", "body", "says"),
    [
        ("photo.png", DOC, "not a document or a transcript"),
        ("faq.md", b"  \n", "empty"),
        (".md", DOC, "cannot be used"),
        ("faq\x01.md", DOC, "cannot be used"),
        ("faq.md", b"\xff\xfe", "not UTF-8"),
    ],
)
def test_a_bad_upload_is_a_clear_422_and_writes_nothing(
    keyed: tuple[Served, dict[str, str]], filename: str, body: bytes, says: str
) -> None:
    served, keys = keyed
    with client(served, keys["shop"]) as shop:
        params = {"domain": "manuals", "filename": filename}
        octets = {"Content-Type": "application/octet-stream"}
        refused = shop.post("/v1/memory/ingest", params=params, content=body, headers=octets)
        assert refused.status_code == 422 and says in error_of(refused)["message"]
        assert shop.get("/v1/memory/records").json()["data"] == []


@pytest.mark.parametrize(
    "sent", ["text/plain", "text/plain; charset=utf-8", "application/x-www-form-urlencoded", None]
)
def test_an_upload_of_a_type_another_site_could_send_is_refused(
    keyed: tuple[Served, dict[str, str]], sent: str | None
) -> None:
    """Another web page can POST these types to a loopback `serve --open` without a CORS
    preflight; refused, such a request cannot write into the store."""
    served, keys = keyed
    with client(served, keys["shop"]) as shop:
        headers = {"Content-Type": sent} if sent else {}
        params = {"domain": "manuals", "filename": "faq.md"}
        # httpx adds no Content-Type of its own to raw bytes: None sends none
        refused = shop.post("/v1/memory/ingest", params=params, content=DOC, headers=headers)
        assert refused.status_code == 422, refused.text
        assert "application/octet-stream" in error_of(refused)["message"]
        assert shop.get("/v1/memory/records").json()["data"] == []


def test_the_monitor_routes_read_stored_runs_of_the_callers_namespace_only(
    keyed: tuple[Served, dict[str, str]],
) -> None:
    served, keys = keyed
    with client(served, keys["shop"]) as shop, client(served, keys["other"]) as other:
        missing = shop.get("/v1/monitor/report")
        assert missing.status_code == 404
        assert "mindpilot monitor run" in error_of(missing)["message"]

        served.store.put_task(TaskProfile(name="support", namespace="shop"))
        served.store.add(Knowledge(namespace="shop", domain="d", text="Women are bad at math."))
        engine = served.app.state.mindpilot.engine
        with RunLog(served.store) as runs:
            run = runs.save(run_monitor(engine, "shop", "support", quick=True))

        report = shop.get("/v1/monitor/report", params={"task": "support"}).json()
        assert report["run"]["id"] == run.id and report["run"]["task"] == "support"
        assert [c["condition"] for c in report["conditions"]] == ["base", "task", "task+adapter"]
        base = report["conditions"][0]
        assert 0 <= base["overall"]["low"] <= base["overall"]["rate"] <= base["overall"]["high"]
        assert set(base["by_set"]) == {"crows_pairs", "stereoset"}
        assert report["findings"][0]["kind"] == "stereotype"
        assert len(report["plots"]) == 2 and all(p.startswith("<svg") for p in report["plots"])
        listed = shop.get("/v1/monitor/runs").json()["data"]
        assert [r["id"] for r in listed] == [run.id] and listed[0]["findings"] == 1

        assert other.get("/v1/monitor/runs").json()["data"] == []  # another key sees nothing
        assert other.get("/v1/monitor/report").status_code == 404
        assert httpx.get(f"{served.url}/v1/monitor/runs").status_code == 401
