// The audit log: every answer with its prompt, provenance and feedback (GET /v1/log).

import { api, q } from "./api.js";
import { $, clear, fixed, guard, h, notify, when } from "./ui.js";

const PAGE = 30;
let offset = 0;

export function init() {
  $("#log-filters").addEventListener("submit", guard(() => load(true)));
  $("#log-more").addEventListener("click", guard(() => load(false)));
}

export async function show(params) {
  if (params.has("task")) $("#log-task").value = params.get("task");
  await load(true);
  if (params.has("entry")) await detail(params.get("entry"));
}

function lastUser(entry) {
  const asked = entry.request.filter((m) => m.role === "user");
  return asked.length ? asked[asked.length - 1].content : "(no user message)";
}

async function load(fresh) {
  if (fresh) offset = 0;
  const params = { task: $("#log-task").value.trim(), session_id: $("#log-session").value.trim(), limit: PAGE, offset };
  const page = await api(`/v1/log${q(params)}`);
  const items = page.data.map((entry) =>
    h(
      "li",
      { class: "entry" },
      h(
        "button",
        { type: "button", class: "entry-button", onclick: guard(() => detail(entry.id)) },
        h("span", { class: "tag" }, `${when(entry.created_at)} · ${entry.task || "base model"}${entry.experience_id ? " · rated" : ""}`),
        h("span", { class: "question" }, lastUser(entry)),
        h("span", { class: "muted" }, entry.response.slice(0, 160)),
      ),
    ),
  );
  if (fresh) clear($("#log-list"), items.length ? items : h("li", { class: "muted" }, "No answer logged yet."));
  else $("#log-list").append(...items);
  offset += page.data.length;
  $("#log-more").hidden = !page.has_more;
}

function messages(title, list) {
  return h(
    "details",
    {},
    h("summary", {}, `${title} (${list.length} message(s))`),
    h("ol", { class: "messages" }, list.map((m) => h("li", {}, h("span", { class: "tag" }, m.role), h("pre", {}, m.content)))),
  );
}

async function detail(id) {
  const entry = await api(`/v1/log/${encodeURIComponent(id)}`);
  const box = $("#log-detail");
  const used = entry.used.map((u) =>
    h(
      "li",
      {},
      h("a", { href: `#memory?record=${encodeURIComponent(u.id)}` }, `${u.kind} ${u.id} v${u.version}`),
      ` · similarity ${fixed(u.similarity)} · stage ${u.stage}`,
    ),
  );
  const rated = h("p", { role: "status" }, entry.experience_id ? `Feedback saved as experience ${entry.experience_id}.` : "No feedback yet.");
  const rate = (good) =>
    guard(async () => {
      const experience = await api(`/v1/log/${encodeURIComponent(entry.id)}/feedback`, { method: "POST", body: { good } });
      rated.textContent = `Feedback saved as experience ${experience.id} (score ${experience.score}).`;
      notify(`Saved as experience ${experience.id}.`, "ok");
    });
  clear(
    box,
    h("h2", {}, `Answer ${entry.id}`),
    h(
      "p",
      { class: "muted" },
      `${when(entry.created_at)} · task ${entry.task || "none"} · ${entry.model} (${entry.backend}) · ${entry.prompt_tokens}+${entry.completion_tokens} tokens, ${entry.memory_tokens} from memory · finish ${entry.finish_reason}`,
      entry.tone ? ` · tone ${entry.tone}` : "",
      entry.adapter ? ` · adapter ${entry.adapter.id}` : "",
      entry.session_id ? ` · session ${entry.session_id}` : "",
    ),
    h("h3", {}, "Question"),
    h("pre", {}, lastUser(entry)),
    h("h3", {}, "Answer"),
    h("pre", {}, entry.response),
    h("h3", {}, `Records used (${used.length})`),
    used.length ? h("ul", {}, used) : h("p", { class: "muted" }, "none"),
    messages("The caller's messages", entry.request),
    messages("The prompt the model saw", entry.prompt),
    h("h3", {}, "Feedback"),
    rated,
    entry.task
      ? h(
          "div",
          { class: "row" },
          h("button", { type: "button", class: "icon", "aria-label": "Good answer", onclick: rate(true) }, "👍 Good"),
          h("button", { type: "button", class: "icon", "aria-label": "Bad answer", onclick: rate(false) }, "👎 Bad"),
        )
      : h("p", { class: "muted" }, "Answers of the bare model have no task to learn from."),
  );
  box.hidden = false;
  box.scrollIntoView({ block: "nearest" });
}
