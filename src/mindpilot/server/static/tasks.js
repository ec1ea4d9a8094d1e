// Task profiles: persona, expertise, settings (PUT /v1/tasks/{name}); the task's emotional state
// (an emotion record); its adapters, activation and training with progress.

import { api, followJob, q } from "./api.js";
import * as chat from "./chat.js";
import { $, clear, field, fixed, guard, h, notify, options, when } from "./ui.js";

let names = [];

export function init() {
  $("#task-pick").addEventListener("change", guard(() => render($("#task-pick").value)));
  $("#task-new-form").addEventListener(
    "submit",
    guard(async () => {
      const name = $("#task-new").value.trim();
      if (!name) return notify("Type the new task's name first.");
      await api(`/v1/tasks/${encodeURIComponent(name)}`, { method: "PUT", body: {} });
      $("#task-new").value = "";
      chat.reload();
      notify(`Created task ${name}.`, "ok");
      await show(new URLSearchParams({ task: name }));
    }),
  );
}

export async function show(params) {
  const listed = await api("/v1/tasks");
  names = listed.data.map((t) => t.name);
  const chosen = params && params.get("task") ? params.get("task") : $("#task-pick").value || names[0];
  options($("#task-pick"), names.map((n) => [n, n]), chosen);
  if (!names.length) {
    clear($("#task-body"), h("p", { class: "muted" }, "No task yet: create one above."));
    return;
  }
  await render(names.includes(chosen) ? chosen : names[0]);
}

async function render(name) {
  const task = await api(`/v1/tasks/${encodeURIComponent(name)}`);
  const emotions = await api(`/v1/memory/records${q({ kind: "emotion", task: name, limit: 1 })}`);
  const adapters = await api(`/v1/adapters${q({ task: name })}`);
  clear(
    $("#task-body"),
    profileForm(task),
    emotionForm(name, emotions.data[0]),
    adapterBox(task, adapters.data),
  );
}

// ---- the profile -------------------------------------------------------------------------------
// Settings with a fixed set of values (records.py AnswerSettings); any other text is free.
const CHOICES = { "answer.mode": ["generate", "extractive"], "answer.style": ["free", "short"] };

function settingInputs(group, settings) {
  return Object.entries(settings).map(([key, value]) => {
    const id = `task-${group}-${key}`;
    const choices = CHOICES[`${group}.${key}`];
    let input;
    if (choices) input = h("select", {}, choices.map((c) => h("option", { value: c, selected: c === value }, c)));
    else if (typeof value === "boolean") input = h("input", { type: "checkbox", checked: value });
    else if (typeof value === "number") input = h("input", { type: "number", step: "any", value });
    else input = h("input", { type: "text", value: value === null ? "" : value });
    input.id = id;
    input.dataset.group = group;
    input.dataset.key = key;
    input.dataset.kind = value === null ? "null" : typeof value;
    return field(key.replaceAll("_", " "), input);
  });
}

function readSettings(form, group) {
  const out = {};
  for (const input of form.querySelectorAll(`[data-group="${group}"]`)) {
    const kind = input.dataset.kind;
    if (kind === "boolean") out[input.dataset.key] = input.checked;
    else if (kind === "number") out[input.dataset.key] = Number(input.value);
    else if (kind === "null") out[input.dataset.key] = input.value.trim() === "" ? null : input.value.trim();
    else out[input.dataset.key] = input.value;
  }
  return out;
}

function profileForm(task) {
  const text = (name, value, rows) => {
    const input = rows ? h("textarea", { rows, name }) : h("input", { name });
    input.id = `task-${name}`;
    input.value = value || "";
    return input;
  };
  const form = h(
    "form",
    { class: "card", "aria-labelledby": "task-profile-title" },
    h("h2", { id: "task-profile-title" }, `Profile of ${task.name}`),
    h("p", { class: "muted" }, `version ${task.version}, updated ${when(task.updated_at)}`),
    field("Description", text("description", task.description, 2)),
    field("Persona", text("personality", task.personality, 3)),
    field("Expertise (knowledge domains, comma-separated; empty: all)", text("expertise", task.expertise.join(", "))),
    field("Default emotion", text("default_emotion", task.default_emotion)),
    h("details", {}, h("summary", {}, "Retrieval settings"), h("div", { class: "grid" }, settingInputs("retrieval", task.retrieval))),
    h("details", {}, h("summary", {}, "Answer and decoding settings"), h("div", { class: "grid" }, settingInputs("answer", task.answer))),
    h("div", { class: "row" }, h("button", { type: "submit" }, "Save the profile")),
  );
  form.addEventListener(
    "submit",
    guard(async () => {
      const value = (name) => form.querySelector(`[name="${name}"]`).value.trim();
      const body = {
        description: value("description"),
        personality: value("personality"),
        expertise: value("expertise").split(",").map((d) => d.trim()).filter(Boolean),
        default_emotion: value("default_emotion") || null,
        adapter: task.adapter,
        retrieval: readSettings(form, "retrieval"),
        answer: readSettings(form, "answer"),
      };
      const saved = await api(`/v1/tasks/${encodeURIComponent(task.name)}`, { method: "PUT", body });
      await render(task.name);
      notify(`Saved ${saved.name} (version ${saved.version}).`, "ok");
    }),
  );
  return form;
}

// ---- the emotional state -------------------------------------------------------------------------
function emotionForm(task, current) {
  const state = h("input", { name: "state", value: current ? current.state : "" });
  const guidance = h("textarea", { name: "guidance", rows: 2 });
  guidance.value = current ? current.guidance : "";
  const intensity = h("input", { name: "intensity", type: "number", min: 0, max: 1, step: 0.1, value: current ? current.intensity : 0.5 });
  state.id = "task-emotion-state";
  guidance.id = "task-emotion-guidance";
  intensity.id = "task-emotion-intensity";
  const form = h(
    "form",
    { class: "card", "aria-labelledby": "task-emotion-title" },
    h("h2", { id: "task-emotion-title" }, "Emotional state"),
    h("p", { class: "muted" }, current ? `now: ${current.state} (${current.id} v${current.version})` : "none yet"),
    field("State (e.g. empathy, cheerful)", state),
    field("Guidance (how to act on it)", guidance),
    field("Intensity (0 to 1)", intensity),
    h("div", { class: "row" }, h("button", { type: "submit" }, "Set the emotional state")),
  );
  form.addEventListener(
    "submit",
    guard(async () => {
      const body = { kind: "emotion", task, state: state.value.trim(), guidance: guidance.value, intensity: Number(intensity.value) };
      const saved = await api("/v1/memory/records", { method: "POST", body });
      await render(task);
      notify(`The task's emotional state is now ${saved.state} (${saved.id}).`, "ok");
    }),
  );
  return form;
}

// ---- adapters ----------------------------------------------------------------------------------
function adapterBox(task, adapters) {
  const progress = h("progress", { id: "task-train-progress", max: 1, value: 0, hidden: true });
  const status = h("p", { id: "task-train-status", role: "status" });
  const rows = adapters.map((a) =>
    h(
      "li",
      {},
      h("span", { class: "tag" }, `${a.id} v${a.version} (${a.kind})`),
      ` ${a.metrics.name} ${fixed(a.metrics.before)} → ${fixed(a.metrics.after)} · ${a.train_examples} examples · ${when(a.created_at)} `,
      a.id === task.adapter
        ? h("strong", {}, "active")
        : h("button", { type: "button", class: "secondary", onclick: guard(() => activate(task.name, a.id)) }, "Activate"),
    ),
  );
  // a few of `mindpilot adapt`'s settings; left empty, the server's defaults apply
  const knobs = [
    ["epochs", "Epochs", "1"],
    ["learning_rate", "Learning rate", "any"],
    ["rank", "LoRA rank", "1"],
  ].map(([name, label, step]) => {
    const input = h("input", { type: "number", min: 0, step, name, placeholder: "default" });
    input.id = `task-train-${name}`;
    return field(label, input);
  });
  const activateIfBetter = h("input", { type: "checkbox", checked: true, name: "activate" });
  activateIfBetter.id = "task-train-activate";
  knobs.push(field("Activate it if it beats the bare model", activateIfBetter));
  const settings = h("div", { class: "grid" }, knobs);
  return h(
    "section",
    { class: "card", "aria-labelledby": "task-adapters-title" },
    h("h2", { id: "task-adapters-title" }, "Adapters"),
    h("p", { class: "muted" }, task.adapter ? `answers with ${task.adapter}` : "answers with the bare base model"),
    rows.length ? h("ul", { class: "adapters" }, rows) : h("p", {}, "No adapter trained yet."),
    h("details", {}, h("summary", {}, "Training settings"), settings),
    h(
      "div",
      { class: "row" },
      h("button", { type: "button", onclick: guard(() => train(task.name, settings, progress, status)) }, "Train an adapter from its experiences"),
      task.adapter
        ? h("button", { type: "button", class: "secondary", onclick: guard(() => deactivate(task.name)) }, "Answer without the adapter")
        : null,
    ),
    progress,
    status,
  );
}

async function activate(task, id) {
  await api(`/v1/adapters/${encodeURIComponent(id)}/activate`, { method: "POST" });
  await render(task);
  notify(`${task} now answers with ${id}.`, "ok");
}

async function deactivate(task) {
  await api(`/v1/tasks/${encodeURIComponent(task)}/adapter`, { method: "DELETE" });
  await render(task);
  notify(`${task} answers with the bare base model again.`, "ok");
}

function showJob(job, progress, status) {
  progress.hidden = false;
  progress.max = Math.max(1, job.steps);
  progress.value = job.step;
  const loss = job.loss === null ? "" : `, loss ${fixed(job.loss)}`;
  const eta = job.eta_s === null || job.state === "done" ? "" : `, about ${Math.round(job.eta_s)} s left`;
  status.textContent = `${job.state}: step ${job.step} of ${job.steps}${loss}${eta}`;
}

// Start a training job and follow it until it ends.
async function train(task, settings, progress, status) {
  const body = {};
  for (const input of settings.querySelectorAll("input")) {
    if (input.type === "checkbox") body[input.name] = input.checked;
    else if (input.value !== "") body[input.name] = Number(input.value);
  }
  const started = await api(`/v1/tasks/${encodeURIComponent(task)}/adapters`, { method: "POST", body });
  const job = await followJob(started, "/v1/adapters/jobs", (j) => showJob(j, progress, status));
  if (job.error) {
    notify(`Training failed: ${job.error.message}${job.error.hint ? ` (fix: ${job.error.hint})` : ""}`);
    return;
  }
  await render(task); // the new adapter in the list; the finished job stays shown under it
  showJob(job, $("#task-train-progress"), $("#task-train-status"));
  notify(`Trained ${job.result.adapter.id}: ${job.result.verdict}`, "ok");
}
