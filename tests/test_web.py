"""The web page (`GET /`) in a real browser: Debian's Chromium driven by Playwright, headless,
against a real server on loopback (the tiny random model; one slow test on the real one).

The tests take the README's screenshots: each page at a desktop and a narrow width, written to
a temporary folder always and into $MINDPILOT_SCREENSHOTS (e.g. docs/screenshots) when set, so
what people see in the README is what is tested.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from mindpilot.mental_process.records import (
    Emotion,
    Experience,
    Knowledge,
    RetrievalSettings,
    TaskProfile,
)
from mindpilot.server.keys import KeyStore
from tests.server_helpers import Served, serving

playwright_api = pytest.importorskip("playwright.sync_api")

CHROMIUM = Path("/usr/bin/chromium")
# Without the background-networking flags Chromium phones home at start, and a closed network
# refuses it; no GPU in CI.
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP = {"width": 1280, "height": 800}
NARROW = {"width": 390, "height": 844}
WAIT_MS = 30_000  # generous for a busy CI machine; no assertion depends on speed

FACT = "The Zentrix Aurora kettle has a 7-year warranty. Refunds are possible within 45 days."
QUESTION = "How long is the warranty on the Zentrix Aurora kettle?"
BIASED = "Women are bad at math and belong in the kitchen; all women are too emotional to lead."


playwright_api.expect.set_options(timeout=WAIT_MS)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless Chromium for the whole run (Debian's package; never `playwright install`)."""
    if not CHROMIUM.is_file():
        pytest.fail(
            f"{CHROMIUM} is missing: install Debian's Chromium (`sudo apt-get install -y "
            "chromium`, which scripts/setup.sh does)"
        )
    with playwright_api.sync_playwright() as driver:
        launched = driver.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=FLAGS)
        yield launched
        launched.close()


@pytest.fixture(scope="session")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("screenshots")


def screenshot(page: Any, shots: Path, name: str, top: bool = False, publish: bool = True) -> None:
    """`name`-desktop.png and `name`-narrow.png of the page as it is now (`top`: scrolled to
    the top first); `publish`: also into $MINDPILOT_SCREENSHOTS, for the README."""
    wanted = os.environ.get("MINDPILOT_SCREENSHOTS") if publish else None
    for width, size in (("desktop", DESKTOP), ("narrow", NARROW)):
        page.set_viewport_size(size)
        if top:
            page.evaluate("window.scrollTo(0, 0)")
        path = shots / f"{name}-{width}.png"
        page.screenshot(path=str(path))
        if wanted:
            Path(wanted).mkdir(parents=True, exist_ok=True)
            shutil.copy(path, Path(wanted) / path.name)
    page.set_viewport_size(DESKTOP)


UNLABELLED = """[...document.querySelectorAll("input, select, textarea")]
  .filter((e) => !e.labels.length && !e.getAttribute("aria-label"))
  .map((e) => e.outerHTML)"""


def assert_labelled(page: Any) -> None:
    """Every form control of the page has a label a screen reader reads out."""
    assert page.evaluate(UNLABELLED) == []


class Page:
    """A browser tab on the served page that fails the test on any script error."""

    def __init__(self, browser: Any, url: str) -> None:
        self.context = browser.new_context(viewport=DESKTOP)
        self.context.set_default_timeout(WAIT_MS)
        self.tab = self.context.new_page()
        self.errors: list[str] = []
        self.tab.on("pageerror", lambda err: self.errors.append(str(err)))
        self.tab.on("console", self._console)
        self.tab.on("dialog", lambda dialog: dialog.accept())  # confirm(): yes
        self.tab.goto(url)

    def _console(self, message: Any) -> None:
        # a module that fails to load is a console error, not a page error; refused requests
        # (401, 404) are logged by the browser as "Failed to load resource" and are expected
        if message.type == "error" and "Failed to load resource" not in message.text:
            self.errors.append(message.text)

    def close(self) -> None:
        self.context.close()
        assert not self.errors, self.errors


@pytest.fixture
def shop(tiny_autopilot: Any, tmp_path: Path) -> Iterator[Served]:
    """An open-mode server with a support task whose knowledge holds FACT."""
    with serving(tiny_autopilot, tmp_path) as served:
        settings = RetrievalSettings(min_similarity=0.05)
        served.store.put_task(
            TaskProfile(
                name="support",
                personality="a Zentrix support agent",
                expertise=("zentrix",),
                retrieval=settings,
            )
        )
        served.store.add(Knowledge(domain="zentrix", text=FACT, source="faq.md"))
        yield served


@pytest.fixture
def tab(browser: Any, shop: Served) -> Iterator[Any]:
    page = Page(browser, shop.url + "/")
    yield page.tab
    page.close()


def test_the_page_is_served_at_the_root_with_its_assets(shop: Served) -> None:
    page = httpx.get(shop.url + "/")
    assert page.status_code == 200 and "<title>mindpilot</title>" in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    script = httpx.get(shop.url + "/static/app.js")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    assert httpx.get(shop.url + "/static/nothing.js").status_code == 404
    assert httpx.get(shop.url + "/v1/models").status_code == 200  # the API is unchanged


def test_chat_streams_an_answer_with_its_source_and_thumbs_down_makes_an_experience(
    tab: Any, shop: Served, shots: Path
) -> None:
    expect = playwright_api.expect
    shop.store.add(Emotion(task="support", state="empathy", guidance="acknowledge it first"))
    expect(tab.locator("#chat-task")).to_have_value("support")
    tab.fill("#chat-input", QUESTION)
    tab.press("#chat-input", "Enter")
    answer = tab.locator(".msg.assistant .answer").first
    expect(answer).not_to_be_empty()
    source = tab.locator(".source").first
    expect(source).to_contain_text(FACT)  # the record's text, fetched by its id
    expect(source).to_contain_text("stage prompt")
    expect(source).to_contain_text("similarity")
    expect(tab.locator(".facts").first).to_contain_text("tone: empathy")
    assert int(answer.get_attribute("data-pieces") or 0) > 1  # shown piece by piece
    expect(tab.locator("#chat-send")).to_be_enabled()  # the stream has ended
    screenshot(tab, shots, "chat", publish=False)  # the README shows the real model's

    tab.get_by_role("button", name="Bad answer").first.click()
    saved = tab.locator(".feedback [role=status]").first
    expect(saved).to_contain_text("Saved as experience")
    experience_id = saved.inner_text().split()[3]
    tab.get_by_role("link", name="See it in memory").click()
    record = tab.locator(f'.record[data-id="{experience_id}"]')
    expect(record).to_contain_text(QUESTION)
    expect(record).to_contain_text("score -1")


def test_stop_aborts_the_generation_and_a_new_conversation_starts_empty(
    tab: Any, shop: Served
) -> None:
    expect = playwright_api.expect
    tab.fill("#chat-input", "Tell me a very long story about kettles.")
    tab.click("#chat-send")
    tab.click("#chat-stop")
    # Stop wins the race against the tiny model's ~100 tokens here every time it was tried,
    # but the test must not depend on speed: a finished answer (its provenance line) passes too
    stopped = tab.get_by_text("Stopped: the generation was cancelled.")
    expect(stopped.or_(tab.locator(".msg.assistant .facts"))).to_be_visible()
    expect(tab.locator("#chat-send")).to_be_enabled()
    tab.click("#chat-new")
    expect(tab.locator("#chat-log li")).to_have_count(0)


def test_the_keyboard_reaches_every_page_and_sends_a_question(tab: Any) -> None:
    expect = playwright_api.expect
    tab.keyboard.press("Tab")
    assert tab.evaluate("document.activeElement.textContent") == "Skip to the page's content"
    tab.keyboard.press("Tab")  # "Chat"
    tab.keyboard.press("Tab")
    assert tab.evaluate("document.activeElement.textContent") == "Memory"
    tab.keyboard.press("Enter")
    expect(tab.locator("#page-memory")).to_be_visible()
    expect(tab.locator("#page-chat")).to_be_hidden()
    tab.goto(tab.url.split("#")[0] + "#chat")
    tab.locator("#chat-input").focus()
    tab.keyboard.type(QUESTION)
    tab.keyboard.press("Enter")  # Enter sends; Shift+Enter would add a line
    expect(tab.locator(".msg.user")).to_have_text("You" + QUESTION)
    expect(tab.locator("#chat-send")).to_be_enabled()


def test_memory_add_search_edit_history_undo_ingest_export(
    tab: Any, shop: Served, shots: Path
) -> None:
    expect = playwright_api.expect
    tab.click("nav >> text=Memory")
    tab.click("#mem-add")
    tab.select_option("#mem-e-kind", "knowledge")
    tab.fill("#mem-e-domain", "billing")
    tab.fill("#mem-e-text", "Refunds take five working days.")
    tab.click("#mem-e-save")
    expect(tab.locator("#notice")).to_contain_text("Saved")

    tab.fill("#mem-query", "how long do refunds take")
    tab.select_option("#mem-mode", "keyword")
    tab.click("#mem-go")
    card = tab.locator(".record", has_text="Refunds take five working days.")
    expect(card).to_have_count(1)
    expect(card).to_contain_text("similarity")

    card.get_by_role("button", name="Edit").click()
    tab.fill("#mem-e-text", "Refunds take three working days.")
    tab.click("#mem-e-save")
    edited = tab.locator(".record", has_text="Refunds take three working days.")
    expect(edited).to_contain_text("v2")

    edited.get_by_role("button", name="History").click()
    history = tab.locator("#mem-history")
    expect(history.locator("li")).to_have_count(2)
    update = history.locator("li").nth(1)  # the add, then the update as a word diff
    expect(update).to_contain_text("update → v2")
    expect(update.locator("del")).to_have_text("five")
    expect(update.locator("ins")).to_have_text("three")
    screenshot(tab, shots, "memory")

    tab.click("#mem-undo")
    expect(tab.locator("#notice")).to_contain_text("Undone: update of")
    expect(tab.locator(".record", has_text="Refunds take five working days.")).to_have_count(1)
    expect(history.locator(".undone")).to_have_count(1)

    kept = tab.locator(".record", has_text="Refunds take five working days.")
    kept.get_by_role("button", name="Supersede").click()
    assert_labelled(tab)  # with the editor open
    tab.fill("#mem-e-text", "Refunds take two working days.")
    tab.click("#mem-e-save")
    newer = tab.locator(".record", has_text="Refunds take two working days.")
    expect(newer).to_contain_text("v1")
    expect(kept).to_have_count(0)  # superseded: kept in its history, no longer current
    newer.get_by_role("button", name="Delete").click()  # confirm() is accepted
    expect(tab.locator("#notice")).to_contain_text("Deleted")
    expect(newer).to_have_count(0)

    tab.fill("#mem-query", "")
    tab.fill("#mem-domain", "manuals")
    tab.set_input_files("#mem-ingest", files=[
        {"name": "descaling.md", "mimeType": "text/markdown",
         "buffer": b"# Descaling\n\nDescale the Aurora kettle every month with citric acid.\n"},
    ])  # fmt: skip
    expect(tab.locator("#notice")).to_contain_text("Added 1 record(s) from 1 file(s)")
    expect(tab.locator("#mem-progress-bar")).to_have_attribute("value", "1")
    expect(tab.locator(".record", has_text="citric acid")).to_contain_text("descaling.md")

    with tab.expect_download() as download:
        tab.click("#mem-export")
    lines = Path(download.value.path()).read_text().splitlines()
    assert any("citric acid" in line for line in lines) and len(lines) >= 4

    # the same lines again: the API refuses them whole (409), and the page says why
    tab.set_input_files("#mem-import", files=[download.value.path()])
    notice = tab.locator("#notice.error")
    expect(notice).to_contain_text("already")
    expect(notice).to_have_attribute("role", "alert")


def test_a_wrong_key_shows_a_clear_message_and_a_right_one_works(
    browser: Any, tiny_autopilot: Any, tmp_path: Path, shots: Path
) -> None:
    expect = playwright_api.expect
    keys = KeyStore(tmp_path / "keys.db")
    _, key = keys.create("shop")
    with serving(tiny_autopilot, tmp_path, keys=keys) as served:
        page = Page(browser, served.url + "/")
        tab = page.tab
        dialog = tab.locator("#key-dialog")
        expect(dialog).to_be_visible()  # the first request was refused: no key yet
        expect(dialog).to_contain_text("missing API key")
        tab.fill("#key-input", "mp-not-a-key")
        tab.click("#key-save")
        expect(tab.locator("#key-reason")).to_contain_text(
            "the API key is not valid (unknown or revoked)"
        )
        expect(tab.locator("#key-reason")).to_contain_text("mindpilot keys create")
        screenshot(tab, shots, "key")
        tab.fill("#key-input", key)
        tab.click("#key-save")
        expect(tab.locator("#notice")).to_contain_text("Key accepted")
        expect(dialog).to_be_hidden()
        assert tab.evaluate("sessionStorage.getItem('mindpilot.apiKey')") == key
        page.close()
    keys.close()


def test_log_tasks_and_monitor_pages(
    tab: Any, shop: Served, shots: Path, tiny_autopilot: Any
) -> None:
    expect = playwright_api.expect
    ask = {"model": "support", "messages": [{"role": "user", "content": QUESTION}],
           "max_tokens": 8}  # fmt: skip
    asked = httpx.post(shop.url + "/v1/chat/completions", json=ask, timeout=60)
    assert asked.status_code == 200, asked.text

    tab.click("nav >> text=Log")
    tab.locator(".entry-button", has_text=QUESTION).first.click()
    detail = tab.locator("#log-detail")
    expect(detail).to_contain_text("Records used (1)")
    expect(detail).to_contain_text("The prompt the model saw")
    detail.get_by_role("button", name="Good answer").click()
    expect(detail).to_contain_text("Feedback saved as experience")
    screenshot(tab, shots, "log")
    assert_labelled(tab)

    tab.click("nav >> text=Tasks")
    expect(tab.locator("#task-pick")).to_have_value("support")
    tab.fill("#task-personality", "a calm Zentrix support agent")
    tab.click("text=Retrieval settings")
    tab.fill("#task-retrieval-min_similarity", "0.2")
    tab.click("text=Save the profile")
    expect(tab.locator("#notice")).to_contain_text("Saved support (version 2)")
    tab.fill("#task-emotion-state", "empathy")
    tab.fill("#task-emotion-guidance", "acknowledge the problem first")
    tab.click("text=Set the emotional state")
    expect(tab.locator("#notice")).to_contain_text("emotional state is now empathy")
    saved = shop.store.get_task("default", "support")
    assert saved.personality == "a calm Zentrix support agent"
    assert saved.retrieval.min_similarity == 0.2 and saved.expertise == ("zentrix",)
    screenshot(tab, shots, "tasks", top=True)
    assert_labelled(tab)

    tab.click("nav >> text=Monitor")
    expect(tab.locator("#mon-body")).to_contain_text("no monitor run")
    shop.store.add(Knowledge(domain="zentrix", text=BIASED))
    tab.fill("#mon-task", "support")
    expect(tab.locator("#mon-quick")).to_be_checked()
    tab.click("text=Run the monitor now")  # the server's job, followed until it stores the run
    stored = re.compile(r"Run mr_\w+ stored: \d+ finding")
    expect(tab.locator("#mon-status")).to_have_text(stored, timeout=180_000)
    body = tab.locator("#mon-body")
    expect(body.locator("table tbody tr")).to_have_count(3)
    expect(body.locator("figure.plot svg")).to_have_count(2)
    finding = body.locator(".findings li", has_text=BIASED)
    expect(finding).to_contain_text("stereotype")
    screenshot(tab, shots, "monitor", top=True)
    assert_labelled(tab)
    finding.locator("a").click()  # to the record: its history, and the fix a click away
    expect(tab.locator("#mem-history")).to_contain_text("add")
    tab.locator(".record", has_text=BIASED).get_by_role("button", name="Delete").click()
    expect(tab.locator("#notice")).to_contain_text("Deleted")


def test_an_adapter_trains_from_the_tasks_page_with_progress_and_is_activated(
    tab: Any, shop: Served
) -> None:
    expect = playwright_api.expect
    shop.store.put_task(TaskProfile(name="sentiment"))
    for i in range(12):
        for text, label in ((f"a fine film {i}", "positive"), (f"a dull film {i}", "negative")):
            shop.store.add(Experience(task="sentiment", situation=text, response=label))
    tab.goto(shop.url + "/#tasks?task=sentiment")
    expect(tab.locator("#task-pick")).to_have_value("sentiment")
    tab.click("text=Training settings")
    tab.fill("#task-train-epochs", "3")
    tab.fill("#task-train-learning_rate", "0.005")
    tab.fill("#task-train-rank", "4")
    tab.uncheck("#task-train-activate")  # activated by hand below
    tab.click("text=Train an adapter from its experiences")
    expect(tab.locator("#notice")).to_contain_text("Trained ad_")
    expect(tab.locator("#task-train-status")).to_contain_text("done: step")
    bar = tab.locator("#task-train-progress")
    assert int(bar.get_attribute("value") or 0) == int(bar.get_attribute("max") or -1) > 0
    adapter = tab.locator(".adapters li").first
    expect(adapter).to_contain_text("classification")
    adapter.get_by_role("button", name="Activate").click()
    expect(tab.locator("#notice")).to_contain_text("sentiment now answers with ad_")
    assert shop.store.get_task("default", "sentiment").adapter is not None


@pytest.mark.slow
def test_the_real_model_answers_from_a_stored_record_in_the_page(
    browser: Any, default_autopilot: Any, tmp_path: Path, shots: Path
) -> None:
    expect = playwright_api.expect
    with serving(default_autopilot, tmp_path, embedder="minilm") as served:
        served.store.put_task(
            TaskProfile(
                name="support", personality="a Zentrix support agent", expertise=("zentrix",)
            )
        )
        fact = served.store.add(Knowledge(domain="zentrix", text=FACT, source="faq.md"))
        page = Page(browser, served.url + "/")
        tab = page.tab
        expect(tab.locator("#chat-task")).to_have_value("support")
        tab.fill("#chat-input", QUESTION)
        tab.press("#chat-input", "Enter")
        source = tab.locator(".source").first  # shown when the stream ends
        expect(source).to_contain_text(fact.id, timeout=120_000)
        expect(source).to_contain_text(FACT)
        answer = tab.locator(".msg.assistant .answer").first
        expect(answer).to_contain_text("7")
        assert int(answer.get_attribute("data-pieces") or 0) > 1  # streamed, not all at once
        screenshot(tab, shots, "answer")  # the README's chat picture: a real answer
        page.close()
