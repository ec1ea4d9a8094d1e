"""API keys (hashed, per namespace), the 401s, isolation between two keys, open mode, and the
`mindpilot keys` / `mindpilot serve` commands."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest
from click.testing import CliRunner

from mindpilot.autopilot import Autopilot
from mindpilot.cli import cli
from mindpilot.cli.serve_cmds import is_loopback
from mindpilot.errors import NotFoundError, ValidationError
from mindpilot.mental_process.records import Knowledge, TaskProfile
from mindpilot.server.keys import KeyStore
from tests.server_helpers import USER, Served, error_of, serving


@pytest.fixture
def keys(tmp_path: Path) -> Iterator[KeyStore]:
    store = KeyStore(tmp_path / "keys.db")
    yield store
    store.close()


def test_a_key_is_stored_only_as_its_hash(keys: KeyStore, tmp_path: Path) -> None:
    key, secret = keys.create("alpha", "laptop")
    assert secret.startswith("mp-") and len(secret) > 40
    assert keys.lookup(secret) == "alpha" and keys.lookup(secret + "x") is None
    raw = (tmp_path / "keys.db").read_bytes()
    assert secret.encode() not in raw
    assert hashlib.sha256(secret.encode()).hexdigest().encode() in raw
    assert [k.id for k in keys.list()] == [key.id] and keys.list()[0].label == "laptop"
    assert keys.revoke(key.id).revoked_at is not None
    assert keys.lookup(secret) is None and not keys.has_active()
    with pytest.raises(NotFoundError, match="no API key"):
        keys.revoke("key_000000000000")
    with pytest.raises(ValidationError, match="namespace"):
        keys.create("two words")


def test_keys_commands(isolated_home: Path) -> None:
    runner = CliRunner()
    created = runner.invoke(cli, ["keys", "create", "--namespace", "alpha", "--name", "ci"])
    assert created.exit_code == 0, created.output
    secret = created.stdout.strip()
    assert KeyStore.default().lookup(secret) == "alpha"
    listed = runner.invoke(cli, ["keys", "list"])
    key_id = listed.stdout.split()[0]
    assert "alpha  active" in listed.stdout and "ci" in listed.stdout
    assert secret not in listed.stdout
    revoked = runner.invoke(cli, ["keys", "revoke", key_id, "--json"])
    assert json.loads(revoked.stdout) == {"id": key_id, "namespace": "alpha", "active": False}
    assert "alpha  revoked" in runner.invoke(cli, ["keys", "list"]).stdout
    missing = runner.invoke(cli, ["keys", "revoke", "key_nope"])
    assert missing.exit_code == 1 and "no API key 'key_nope'" in missing.output


@pytest.fixture
def two_tenants(
    tiny_autopilot: Autopilot, tmp_path: Path, keys: KeyStore
) -> Iterator[tuple[Served, str, str]]:
    """A server with keys; namespace alpha has a task with a fact, beta has nothing."""
    _, alpha = keys.create("alpha")
    _, beta = keys.create("beta")
    with serving(tiny_autopilot, tmp_path, keys=keys) as served:
        served.store.put_task(TaskProfile(name="secret-task", namespace="alpha"))
        served.store.add(Knowledge(namespace="alpha", domain="d", text="the vault code is 7"))
        yield served, alpha, beta


def test_requests_without_a_working_key_get_401(
    two_tenants: tuple[Served, str, str], keys: KeyStore
) -> None:
    served, alpha, _ = two_tenants
    url = f"{served.url}/v1/models"
    missing = httpx.get(url)
    assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Bearer"
    assert "mindpilot keys create" in error_of(missing)["message"]
    wrong = httpx.get(url, headers={"Authorization": "Bearer mp-not-a-key"})
    assert wrong.status_code == 401 and "unknown or revoked" in error_of(wrong)["message"]
    basic = httpx.get(url, headers={"Authorization": "Basic abc"})
    assert basic.status_code == 401 and "Bearer <key>" in error_of(basic)["message"]
    assert httpx.get(url, headers={"Authorization": f"Bearer {alpha}"}).status_code == 200
    keys.revoke(keys.list()[0].id)  # alpha's key stops working at once
    assert httpx.get(url, headers={"Authorization": f"Bearer {alpha}"}).status_code == 401
    assert httpx.get(f"{served.url}/health").status_code == 200  # no key needed
    with pytest.raises(openai.AuthenticationError, match="unknown or revoked"):
        served.client(alpha).models.list()


def test_oversize_headers_get_431(two_tenants: tuple[Served, str, str]) -> None:
    served, alpha, _ = two_tenants
    url = f"{served.url}/v1/models"
    huge = httpx.get(url, headers={"Authorization": "Bearer " + "a" * 100_000})
    assert huge.status_code == 431 and "over this server's limit" in error_of(huge)["message"]
    assert httpx.get(url, headers={"Authorization": f"Bearer {alpha}"}).status_code == 200


def test_one_key_cannot_see_or_use_another_namespace(
    two_tenants: tuple[Served, str, str], tiny_autopilot: Autopilot
) -> None:
    served, alpha, beta = two_tenants
    base = tiny_autopilot.model_name
    assert [m.id for m in served.client(alpha).models.list()] == [base, "secret-task"]
    assert [m.id for m in served.client(beta).models.list()] == [base]
    messages = [{"role": "user", "content": "What is the vault code?"}]
    with pytest.raises(openai.NotFoundError, match="namespace 'beta'"):
        served.client(beta).chat.completions.create(model="secret-task", messages=messages)
    answer = served.client(alpha).chat.completions.create(
        model="secret-task", messages=messages, max_tokens=4
    )
    extra = (answer.model_extra or {})["mindpilot"]
    assert extra["namespace"] == "alpha" and len(extra["used"]) == 1
    # beta's own task of the same name sees none of alpha's records
    served.store.put_task(TaskProfile(name="secret-task", namespace="beta"))
    other = served.client(beta).chat.completions.create(
        model="secret-task", messages=messages, max_tokens=4
    )
    assert (other.model_extra or {})["mindpilot"]["used"] == []
    # and the Mental Process REST answers a record of another namespace as if it did not exist
    record_id = extra["used"][0]["id"]
    path = f"{served.url}/v1/memory/records/{record_id}"
    assert httpx.get(path, headers={"Authorization": f"Bearer {alpha}"}).status_code == 200
    assert httpx.get(path, headers={"Authorization": f"Bearer {beta}"}).status_code == 404


def test_knowledge_added_over_rest_is_used_by_the_next_answer(
    two_tenants: tuple[Served, str, str],
) -> None:
    served, _, beta = two_tenants
    headers = {"Authorization": f"Bearer {beta}"}
    served.store.put_task(TaskProfile(name="helpdesk", namespace="beta"))
    client = served.client(beta)
    messages = [{"role": "user", "content": USER}]
    before = client.chat.completions.create(model="helpdesk", messages=messages, max_tokens=4)
    assert (before.model_extra or {})["mindpilot"]["used"] == []
    fact = {"kind": "knowledge", "domain": "routers", "text": "The Zorblat 9 router is blue."}
    created = httpx.post(f"{served.url}/v1/memory/records", json=fact, headers=headers)
    assert created.status_code == 201, created.text
    after = client.chat.completions.create(model="helpdesk", messages=messages, max_tokens=4)
    used = (after.model_extra or {})["mindpilot"]["used"]
    assert [u["id"] for u in used] == [created.json()["id"]]


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("127.0.0.2", True), ("::1", True), ("localhost", True),
     ("0.0.0.0", False), ("192.168.1.5", False), ("example.com", False)],
)  # fmt: skip
def test_loopback_addresses(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_open_mode_is_refused_beyond_loopback() -> None:
    result = CliRunner().invoke(cli, ["serve", "--open", "--host", "0.0.0.0"])
    assert result.exit_code == 1
    assert "only binds loopback addresses, not '0.0.0.0'" in result.output
    assert "mindpilot keys create" in result.output
