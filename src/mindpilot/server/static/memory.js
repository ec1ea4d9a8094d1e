// The Mental Process: search and list, add / edit / supersede / delete, a record's history with
// diffs, undo, export / import JSONL, and documents ingested by upload.

import { api, q } from "./api.js";
import { $, clear, diffView, field, fixed, guard, h, notify, when } from "./ui.js";

// Which fields each kind has, and which of them an edit may change (the store's rule).
const FIELDS = {
  knowledge: [
    ["domain", "Domain", "input"],
    ["text", "Text", "textarea"],
    ["source", "Source", "input"],
    ["tags", "Tags (comma-separated)", "tags"],
  ],
  emotion: [
    ["task", "Task", "input"],
    ["state", "State (e.g. empathy)", "input"],
    ["guidance", "Guidance", "textarea"],
    ["intensity", "Intensity (0 to 1)", "number"],
  ],
  experience: [
    ["task", "Task", "input"],
    ["situation", "Situation", "textarea"],
    ["response", "Response", "textarea"],
    ["score", "Score (-1 to 1, empty: none)", "number"],
    ["note", "Note", "input"],
  ],
};
const EDITABLE = {
  knowledge: ["domain", "text", "source", "tags"],
  emotion: ["state", "guidance", "intensity"],
  experience: ["score", "note"],
};
const SHOWN = ["domain", "task", "state", "text", "guidance", "intensity", "situation", "response", "score", "note", "source", "tags"];

let editing = null; // {mode: "add" | "edit" | "supersede", record}

export function init() {
  $("#mem-search").addEventListener("submit", guard(refresh));
  $("#mem-add").addEventListener("click", () => openEditor("add"));
  $("#mem-e-kind").addEventListener("change", () => renderFields($("#mem-e-kind").value, "add"));
  $("#mem-e-cancel").addEventListener("click", closeEditor);
  $("#mem-editor").addEventListener("submit", guard(save));
  $("#mem-undo").addEventListener("click", guard(undo));
  $("#mem-export").addEventListener("click", guard(exportJsonl));
  $("#mem-import").addEventListener("change", guard(importJsonl));
  $("#mem-ingest").addEventListener("change", guard(ingest));
  $("#mem-history-close").addEventListener("click", () => ($("#mem-history").hidden = true));
}

export async function show(params) {
  for (const name of ["kind", "domain", "task"]) if (params.has(name)) $(`#mem-${name}`).value = params.get(name);
  if (params.has("record")) {
    // a link from the log or the monitor: that one record, with its history
    const record = await api(`/v1/memory/records/${encodeURIComponent(params.get("record"))}`);
    $("#mem-count").textContent = "The linked record (Search lists the others)";
    clear($("#mem-results"), card(record));
    await history(record.id);
    return;
  }
  await refresh();
}

// ---- list and search ---------------------------------------------------------------------------
async function refresh() {
  const query = $("#mem-query").value.trim();
  const kind = $("#mem-kind").value;
  const domain = $("#mem-domain").value.trim();
  const task = $("#mem-task").value.trim();
  let rows;
  if (query) {
    const body = { query, mode: $("#mem-mode").value, top_k: 20 };
    if (kind) body.kinds = [kind];
    if (domain) body.domains = [domain];
    if (task) body.tasks = [task];
    const found = await api("/v1/memory/search", { method: "POST", body });
    rows = found.data.map((hit) => ({ record: hit.record, hit }));
    $("#mem-count").textContent = `${rows.length} best match(es) for “${query}”`;
  } else {
    const found = await api(`/v1/memory/records${q({ kind, domain, task, limit: 100 })}`);
    rows = found.data.map((record) => ({ record }));
    $("#mem-count").textContent = `${rows.length}${found.has_more ? "+" : ""} record(s), newest first`;
  }
  clear($("#mem-results"), rows.map(({ record, hit }) => card(record, hit)));
}

function summary(record) {
  const where = record.kind === "knowledge" ? record.domain : `${record.task}`;
  return `${record.kind} · ${where} · ${record.id} v${record.version}`;
}

function mainText(record) {
  if (record.kind === "knowledge") return record.text;
  if (record.kind === "emotion") return `${record.state}: ${record.guidance}`;
  const score = record.score === null ? "" : ` (score ${record.score})`;
  return `${record.situation} → ${record.response}${score}`;
}

function card(record, hit) {
  const actions = h(
    "div",
    { class: "row actions" },
    h("button", { type: "button", class: "secondary", onclick: () => openEditor("edit", record) }, "Edit"),
    record.kind === "knowledge"
      ? h("button", { type: "button", class: "secondary", onclick: () => openEditor("supersede", record) }, "Supersede")
      : null,
    h("button", { type: "button", class: "secondary", onclick: guard(() => history(record.id)) }, "History"),
    h("button", { type: "button", class: "danger", onclick: guard(() => remove(record)) }, "Delete"),
  );
  return h(
    "li",
    { class: "card record", "data-id": record.id },
    h("div", { class: "tag" }, summary(record), hit ? ` · similarity ${fixed(hit.similarity)}` : ""),
    h("p", { class: "record-text" }, mainText(record)),
    record.tags && record.tags.length ? h("div", { class: "muted" }, `tags: ${record.tags.join(", ")}`) : null,
    h("div", { class: "muted" }, `updated ${when(record.updated_at)}`, record.source ? ` · source ${record.source}` : ""),
    actions,
  );
}

// ---- add / edit / supersede --------------------------------------------------------------------
function openEditor(mode, record) {
  editing = { mode, record };
  const kind = record ? record.kind : $("#mem-e-kind").value;
  $("#mem-editor-title").textContent =
    mode === "add" ? "Add a record" : mode === "edit" ? `Edit ${record.id}` : `Supersede ${record.id} by a new record`;
  $("#mem-e-kind-field").hidden = mode !== "add";
  renderFields(kind, mode, record);
  $("#mem-editor").hidden = false;
  const first = $("#mem-e-fields textarea, #mem-e-fields input");
  if (first) first.focus();
}

function closeEditor() {
  $("#mem-editor").hidden = true;
  editing = null;
}

function renderFields(kind, mode, record) {
  const allowed = mode === "edit" ? EDITABLE[kind] : FIELDS[kind].map(([name]) => name);
  const inputs = FIELDS[kind]
    .filter(([name]) => allowed.includes(name))
    .map(([name, label, type]) => {
      const input =
        type === "textarea"
          ? h("textarea", { rows: 4, name })
          : h("input", { name, type: type === "number" ? "number" : "text", step: type === "number" ? "any" : null });
      input.id = `mem-e-${name}`;
      input.dataset.type = type;
      const value = record ? record[name] : undefined;
      if (value !== undefined && value !== null) input.value = type === "tags" ? value.join(", ") : String(value);
      return field(label, input);
    });
  clear($("#mem-e-fields"), inputs);
}

function values() {
  const out = {};
  for (const input of document.querySelectorAll("#mem-e-fields [name]")) {
    const type = input.dataset.type;
    const raw = input.value.trim();
    if (type === "tags") out[input.name] = raw ? raw.split(",").map((t) => t.trim()).filter(Boolean) : [];
    else if (type === "number") out[input.name] = raw === "" ? null : Number(raw);
    else out[input.name] = input.tagName === "TEXTAREA" ? input.value : raw;
  }
  return out;
}

async function save() {
  const { mode, record } = editing || { mode: "add" };
  const given = values();
  let saved;
  if (mode === "add") {
    const body = { kind: $("#mem-e-kind").value };
    for (const [name, value] of Object.entries(given)) if (value !== null && value !== "") body[name] = value;
    if (body.kind === "knowledge" && !body.source) delete body.source;
    saved = await api("/v1/memory/records", { method: "POST", body });
  } else if (mode === "edit") {
    const changes = {};
    for (const [name, value] of Object.entries(given))
      if (JSON.stringify(value) !== JSON.stringify(record[name])) changes[name] = value;
    if (!Object.keys(changes).length) return notify("Nothing changed.", "ok");
    saved = await api(`/v1/memory/records/${encodeURIComponent(record.id)}`, { method: "PATCH", body: changes });
  } else {
    saved = await api(`/v1/memory/records/${encodeURIComponent(record.id)}/supersede`, { method: "POST", body: given });
  }
  closeEditor();
  await refresh();
  notify(`Saved ${saved.id} (version ${saved.version}).`, "ok");
}

async function remove(record) {
  if (!confirm(`Delete ${record.id}? Undo brings it back.`)) return;
  await api(`/v1/memory/records/${encodeURIComponent(record.id)}`, { method: "DELETE" });
  await refresh();
  notify(`Deleted ${record.id}. “Undo the latest change” brings it back.`, "ok");
}

// ---- history and undo --------------------------------------------------------------------------
async function history(id) {
  const changes = await api(`/v1/memory/records/${encodeURIComponent(id)}/history`);
  $("#mem-history-title").textContent = `History of ${id}`;
  clear($("#mem-history-list"), changes.data.map(change));
  $("#mem-history").hidden = false;
  $("#mem-history").scrollIntoView({ block: "nearest" });
  $("#mem-history-title").setAttribute("tabindex", "-1");
  $("#mem-history-title").focus();
}

function change(c) {
  const lines = [];
  const before = c.before || {};
  const after = c.after || {};
  for (const name of SHOWN) {
    const a = before[name];
    const b = after[name];
    if (a === undefined && b === undefined) continue;
    const text = (v) => (v === undefined || v === null ? "" : Array.isArray(v) ? v.join(", ") : String(v));
    if (text(a) === text(b)) continue; // unchanged, or empty on both sides
    lines.push(h("div", { class: "change-field" }, h("span", { class: "muted" }, `${name}: `), diffView(text(a), text(b))));
  }
  const version = c.after ? ` → v${c.after.version}` : "";
  return h(
    "li",
    { class: c.undone ? "undone" : "" },
    h("div", { class: "tag" }, `#${c.seq} ${c.op}${version} by ${c.actor}, ${when(c.at)}${c.undone ? " (undone)" : ""}`),
    lines,
  );
}

async function undo() {
  const reverted = await api("/v1/memory/undo", { method: "POST" });
  const what = reverted.data.map((c) => `${c.op} of ${c.record_id}`).join(", ");
  await refresh();
  if (!$("#mem-history").hidden && reverted.data.length) {
    const open = $("#mem-history-title").textContent.replace("History of ", "");
    await history(open).catch(() => ($("#mem-history").hidden = true));
  }
  notify(`Undone: ${what}.`, "ok");
}

// ---- export, import, ingest --------------------------------------------------------------------
async function exportJsonl() {
  const response = await api("/v1/memory/export", { raw: true });
  const blob = await response.blob();
  const link = h("a", { href: URL.createObjectURL(blob), download: "mindpilot-export.jsonl" });
  document.body.append(link);
  link.click();
  link.remove();
  notify(`Exported ${response.headers.get("X-Mindpilot-Lines")} line(s).`, "ok");
}

async function importJsonl(event) {
  const file = event.target.files[0];
  event.target.value = "";
  if (!file) return;
  const done = await api("/v1/memory/import", { method: "POST", body: await file.text() });
  await refresh();
  notify(`Imported ${done.imported} line(s) from ${file.name}.`, "ok");
}

async function ingest(event) {
  const files = [...event.target.files];
  event.target.value = "";
  if (!files.length) return;
  const domain = $("#mem-domain").value.trim() || prompt("Domain of the knowledge in these files?", "docs");
  if (!domain) return;
  const bar = $("#mem-progress-bar");
  bar.max = files.length;
  bar.value = 0;
  $("#mem-progress").hidden = false;
  let added = 0;
  try {
    for (const file of files) {
      $("#mem-progress-label").textContent = `Ingesting ${file.name} (${bar.value + 1} of ${files.length})`;
      const url = `/v1/memory/ingest${q({ domain, filename: file.name })}`;
      const done = await api(url, { method: "POST", body: await file.text(), type: "application/octet-stream" });
      added += done.added;
      bar.value += 1;
    }
  } finally {
    $("#mem-progress-label").textContent = `Ingested ${bar.value} of ${files.length} file(s)`;
  }
  await refresh();
  notify(`Added ${added} record(s) from ${files.length} file(s) to domain ${domain}.`, "ok");
}
