// Chat with a task through /v1/chat/completions (streamed), with each answer's provenance:
// the records it used (text, similarity, stage), the adapter and the tone; and feedback.

import { api, streamChat } from "./api.js";
import { $, clear, fixed, guard, h, notify, options } from "./ui.js";

let history = []; // this conversation's messages, sent whole with each question
let running = null; // the AbortController of the answer being streamed
let loaded = false;

export function init() {
  $("#chat-form").addEventListener("submit", guard(ask));
  $("#chat-input").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      $("#chat-form").requestSubmit();
    }
  });
  $("#chat-stop").addEventListener("click", () => running && running.abort());
  $("#chat-new").addEventListener("click", newConversation);
  $("#chat-task").addEventListener("change", newConversation);
}

export async function show() {
  if (loaded) return;
  const models = await api("/v1/models");
  const tasks = models.data.slice(1).map((m) => [m.id, m.id]);
  const base = models.data[0].id;
  const choices = [...tasks, [base, `${base} (the bare model, no memory)`]];
  options($("#chat-task"), choices, tasks.length ? tasks[0][0] : base);
  loaded = true;
}

export function reload() {
  loaded = false;
}

function newConversation() {
  if (running) running.abort();
  history = [];
  clear($("#chat-log"));
  $("#chat-input").focus();
}

async function ask() {
  const input = $("#chat-input");
  const text = input.value.trim();
  if (!text || running) return;
  input.value = "";
  history.push({ role: "user", content: text });
  $("#chat-log").append(h("li", { class: "msg user" }, h("span", { class: "who" }, "You"), h("p", {}, text)));
  const answer = h("p", { class: "answer", "aria-busy": "true" });
  const meta = h("div", { class: "meta" });
  const item = h("li", { class: "msg assistant" }, h("span", { class: "who" }, "Assistant"), answer, meta);
  $("#chat-log").append(item);
  item.scrollIntoView({ block: "end" });
  running = new AbortController();
  $("#chat-stop").disabled = false;
  $("#chat-send").disabled = true;
  let text_ = "";
  try {
    await streamChat(
      { model: $("#chat-task").value, messages: history, stream: true },
      {
        signal: running.signal,
        onEvent: (chunk) => {
          const choice = chunk.choices && chunk.choices[0];
          if (choice && choice.delta && choice.delta.content) {
            text_ += choice.delta.content;
            answer.textContent = text_;
            // pieces shown so far: the answer grew as it streamed (the tests read it)
            answer.dataset.pieces = String(Number(answer.dataset.pieces || 0) + 1);
          }
          if (chunk.mindpilot) provenance(meta, chunk.mindpilot);
        },
      },
    );
    history.push({ role: "assistant", content: text_ });
  } catch (err) {
    if (err.name === "AbortError") {
      meta.prepend(h("p", { class: "muted" }, "Stopped: the generation was cancelled."));
      history.pop(); // the question was not answered: ask it again or another one
    } else {
      history.pop();
      notify(err.message);
      meta.prepend(h("p", { class: "error-text" }, `No answer: ${err.message}`));
    }
  } finally {
    answer.removeAttribute("aria-busy");
    running = null;
    $("#chat-stop").disabled = true;
    $("#chat-send").disabled = false;
  }
}

function provenance(meta, p) {
  const facts = [];
  if (p.tone) facts.push(`tone: ${p.tone}${p.tone_use && p.tone_use.control ? ` (${p.tone_use.control})` : ""}`);
  if (p.adapter) facts.push(`adapter ${p.adapter.id} (v${p.adapter.version})`);
  if (p.abstained) facts.push("abstained");
  if (p.answer_mode !== "generate") facts.push(`answer mode: ${p.answer_mode}`);
  facts.push(`${p.used.length} record(s) used`);
  const sources = h("ol", { class: "sources" });
  for (const used of p.used) sources.append(source(used));
  meta.append(
    h("p", { class: "facts" }, facts.join(" · ")),
    p.used.length ? h("details", { class: "sources-box", open: true }, h("summary", {}, "Sources"), sources) : null,
    p.audit_id ? feedback(p.audit_id) : null,
  );
}

function source(used) {
  const text = h("p", { class: "record-text" }, "…");
  const item = h(
    "li",
    { class: "source" },
    h(
      "span",
      { class: "tag" },
      `${used.kind} ${used.id} v${used.version} · similarity ${fixed(used.similarity)} · stage ${used.stage}`,
    ),
    text,
  );
  api(`/v1/memory/records/${encodeURIComponent(used.id)}`).then(
    (record) => (text.textContent = record.text || record.guidance || `${record.situation} → ${record.response}`),
    (err) => (text.textContent = `(not readable: ${err.message})`),
  );
  return item;
}

function feedback(auditId) {
  const said = h("span", { class: "muted", role: "status" });
  const rate = (good) =>
    guard(async () => {
      const experience = await api(`/v1/log/${encodeURIComponent(auditId)}/feedback`, {
        method: "POST",
        body: { good },
      });
      clear(
        said,
        `Saved as experience ${experience.id} (score ${experience.score}). `,
        h("a", { href: `#memory?kind=experience&task=${encodeURIComponent(experience.task)}` }, "See it in memory"),
      );
    });
  return h(
    "div",
    { class: "row feedback" },
    h("button", { type: "button", class: "icon", "aria-label": "Good answer", title: "Good answer", onclick: rate(true) }, "👍 Good"),
    h("button", { type: "button", class: "icon", "aria-label": "Bad answer", title: "Bad answer", onclick: rate(false) }, "👎 Bad"),
    said,
  );
}
