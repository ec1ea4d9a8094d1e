// The page's frame: navigation between the five pages (the URL's #fragment), the API key form,
// and the start. Each page is a module with init() (wire its controls once) and show().

import { api, apiKey, onUnauthorized, setApiKey } from "./api.js";
import * as chat from "./chat.js";
import * as log from "./log.js";
import * as memory from "./memory.js";
import * as monitor from "./monitor.js";
import * as tasks from "./tasks.js";
import { $, dismiss, guard, notify } from "./ui.js";

const PAGES = { chat, memory, tasks, log, monitor };
let current = null;

function pageOf(hash) {
  const name = (hash || "").replace(/^#/, "").split("?")[0];
  return name in PAGES ? name : "chat";
}

async function go() {
  const name = pageOf(location.hash);
  for (const other of Object.keys(PAGES)) $(`#page-${other}`).hidden = other !== name;
  for (const link of document.querySelectorAll("nav a"))
    link.toggleAttribute("aria-current", link.dataset.page === name);
  if (current !== name) dismiss();
  current = name;
  document.title = `mindpilot: ${name}`;
  try {
    await PAGES[name].show(new URLSearchParams(location.hash.split("?")[1] || ""));
  } catch (err) {
    notify(err.message);
  }
}

// ---- the API key ---------------------------------------------------------------------------
function askForKey(reason) {
  const dialog = $("#key-dialog");
  $("#key-reason").textContent = reason || "";
  $("#key-reason").hidden = !reason;
  $("#key-input").value = "";
  if (!dialog.open) dialog.showModal();
  $("#key-input").focus();
}

function keyLabel() {
  $("#key-open").textContent = apiKey() ? "API key: set" : "API key";
}

function wireKey() {
  onUnauthorized((message) => askForKey(`The server refused the request: ${message}`));
  $("#key-open").addEventListener("click", () => askForKey(""));
  $("#key-cancel").addEventListener("click", () => $("#key-dialog").close());
  $("#key-forget").addEventListener("click", () => {
    setApiKey("");
    keyLabel();
    $("#key-dialog").close();
    notify("The key is forgotten in this tab.", "ok");
  });
  $("#key-form").addEventListener(
    "submit",
    guard(async () => {
      const key = $("#key-input").value.trim();
      if (!key) {
        $("#key-reason").textContent = "Type the key first.";
        $("#key-reason").hidden = false;
        return;
      }
      setApiKey(key);
      keyLabel();
      $("#key-dialog").close();
      // check the key at once: a wrong one reopens this form with the server's reason
      const models = await api("/v1/models");
      notify(`Key accepted: ${models.data.length - 1} task(s) in its namespace.`, "ok");
      await go();
    }),
  );
}

async function start() {
  wireKey();
  keyLabel();
  for (const page of Object.values(PAGES)) page.init();
  window.addEventListener("hashchange", go);
  await go();
}

start();
