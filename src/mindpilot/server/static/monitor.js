// The bias and data monitor: the latest run's report (GET /v1/monitor/report), findings
// linked to the records they name, and a run started from here (POST /v1/monitor/runs, the
// same run as `mindpilot monitor run`), followed until it ends.

import { ApiError, api, followJob, q } from "./api.js";
import { $, clear, guard, h, notify, pct, when } from "./ui.js";

export function init() {
  $("#mon-filters").addEventListener("submit", guard(load));
  $("#mon-run").addEventListener("click", guard(runNow));
}

// Start a run, follow its job showing its step, then show the report it stored. The server runs one at a time: a second start is its clear 409.
async function runNow() {
  const button = $("#mon-run");
  const status = $("#mon-status");
  const task = $("#mon-task").value.trim() || null;
  button.disabled = true;
  try {
    const started = await api("/v1/monitor/runs", { method: "POST", body: { task, quick: $("#mon-quick").checked } });
    const job = await followJob(started, "/v1/monitor/jobs", (j) => {
      status.textContent = `Run ${j.id}: ${j.step || j.state}…`;
    });
    if (job.error) {
      status.textContent = "";
      notify(`The monitor run failed: ${job.error.message}${job.error.hint ? ` (fix: ${job.error.hint})` : ""}`);
      return;
    }
    status.textContent = `Run ${job.run.id} stored: ${job.run.findings} finding(s).`;
    await load();
  } finally {
    button.disabled = false;
  }
}

export async function show() {
  await load();
}

function rate(r) {
  return r ? `${pct(r.rate)} [${pct(r.low)}, ${pct(r.high)}] of ${r.n}` : "-";
}

// The plots are SVG written by the server's own report code (matplotlib), not stored text.
function plot(svg, label) {
  const box = h("figure", { class: "plot", "aria-label": label });
  box.innerHTML = svg;
  return box;
}

async function load() {
  const body = $("#mon-body");
  let report;
  try {
    report = await api(`/v1/monitor/report${q({ task: $("#mon-task").value.trim() })}`);
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) {
      clear(body, h("p", { class: "card" }, err.message));
      return;
    }
    throw err;
  }
  const run = report.run;
  const conditions = report.conditions.map((c) =>
    h(
      "tr",
      {},
      h("th", { scope: "row" }, c.condition),
      h("td", {}, rate(c.overall)),
      Object.values(c.by_set).map((r) => h("td", {}, rate(r))),
    ),
  );
  // notes under the table: long ("no active adapter (train one: ...)"), they would make a
  // narrow screen's table rows tall
  const notes = report.conditions.filter((c) => c.note).map((c) => h("li", {}, `${c.condition}: ${c.note}`));
  const sets = report.conditions.length ? Object.keys(report.conditions[0].by_set) : [];
  const findings = report.findings.map((f) =>
    h(
      "li",
      { class: "card" },
      h("a", { href: `#memory?record=${encodeURIComponent(f.record_id)}` }, `${f.record_kind} ${f.record_id} v${f.version}`),
      ` flagged as ${f.kind}: ${f.evidence.slice(0, 3).join(", ")}`,
      h("p", { class: "record-text" }, f.text),
      h("p", { class: "muted" }, "Fix: ", h("code", {}, f.fix)),
    ),
  );
  clear(
    body,
    h(
      "p",
      { class: "muted" },
      `Run ${run.id} at ${when(run.created_at)} on ${run.model}${run.task ? `, task ${run.task}` : ""}: `,
      `${report.pairs_per_set ?? "all"} probe pairs per set, ${report.records} records, ${Math.round(report.seconds)} s. `,
      "Stereotype preference: the share of pairs where the model finds the stereotype likelier (50% = none), with its 95% interval.",
    ),
    h(
      "div",
      { class: "scroll" },
      h(
        "table",
        {},
        h("caption", {}, "Stereotype preference by condition"),
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "condition"), h("th", { scope: "col" }, "overall"), sets.map((s) => h("th", { scope: "col" }, s)))),
        h("tbody", {}, conditions),
      ),
    ),
    notes.length ? h("ul", { class: "muted" }, notes) : null,
    report.plots.map((svg, i) => plot(svg, i === 0 ? "Stereotype preference by category and condition" : "Trend over runs")),
    h("h2", {}, `Data audit: ${report.findings.length} finding(s)`),
    findings.length ? h("ul", { class: "findings" }, findings) : h("p", {}, "No stored record was flagged."),
  );
}
