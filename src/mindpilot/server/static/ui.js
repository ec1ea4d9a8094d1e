// Small DOM helpers. Text from the server (records, answers, prompts) always goes in as text
// nodes, never as HTML: stored text cannot run script in the page.

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
    else if (name === "class") el.className = value;
    else if (value === true) el.setAttribute(name, "");
    else el.setAttribute(name, String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function $(selector, root = document) {
  return root.querySelector(selector);
}

export function clear(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

// The one place errors and confirmations are shown: a live region screen readers announce.
export function notify(message, kind = "error") {
  const box = $("#notice");
  clear(
    box,
    h("span", {}, message),
    h("button", { type: "button", class: "link", "aria-label": "Dismiss", onclick: () => (box.hidden = true) }, "×"),
  );
  box.className = `notice ${kind}`;
  box.setAttribute("role", kind === "error" ? "alert" : "status");
  box.hidden = false;
}

export function dismiss() {
  $("#notice").hidden = true;
}

// Wrap an async event handler: its errors become a readable notice, not a console trace.
export function guard(fn) {
  return async (event) => {
    if (event && event.type === "submit") event.preventDefault();
    try {
      await fn(event);
    } catch (err) {
      if (err.name === "AbortError") return;
      notify(err.message || String(err));
    }
  };
}

export function when(seconds) {
  return new Date(seconds * 1000).toLocaleString();
}

export function fixed(value, digits = 3) {
  return value === null || value === undefined ? "-" : Number(value).toFixed(digits);
}

export function pct(value) {
  return value === null || value === undefined ? "-" : `${(value * 100).toFixed(1)}%`;
}

// Word-level diff (longest common subsequence): [{op: "same"|"del"|"ins", text}].
export function diffWords(before, after) {
  const a = before.split(/(\s+)/).filter((t) => t !== "");
  const b = after.split(/(\s+)/).filter((t) => t !== "");
  if (a.length * b.length > 4e6) return [{ op: "del", text: before }, { op: "ins", text: after }];
  const n = a.length;
  const m = b.length;
  const lcs = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
  for (let i = n - 1; i >= 0; i--)
    for (let j = m - 1; j >= 0; j--)
      lcs[i][j] = a[i] === b[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
  const out = [];
  const push = (op, text) => {
    const last = out[out.length - 1];
    if (last && last.op === op) last.text += text;
    else out.push({ op, text });
  };
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (a[i] === b[j]) {
      push("same", a[i]);
      i++;
      j++;
    } else if (lcs[i + 1][j] >= lcs[i][j + 1]) {
      push("del", a[i++]);
    } else {
      push("ins", b[j++]);
    }
  }
  while (i < n) push("del", a[i++]);
  while (j < m) push("ins", b[j++]);
  return out;
}

export function diffView(before, after) {
  return h(
    "span",
    { class: "diff" },
    diffWords(before, after).map((part) =>
      part.op === "same" ? part.text : h(part.op, {}, part.text),
    ),
  );
}

export function field(label, input, hint) {
  const id = input.id || `f-${Math.random().toString(36).slice(2, 9)}`;
  input.id = id;
  return h("div", { class: "field" }, h("label", { for: id }, label), input, hint ? h("small", {}, hint) : null);
}

export function options(select, values, selected) {
  clear(select, values.map(([value, label]) => h("option", { value, selected: value === selected }, label)));
}
