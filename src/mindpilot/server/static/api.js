// The page's only way to the server: the public HTTP API, with the key the person typed.
// The key lives in sessionStorage: it is gone when the browser tab closes.

const KEY = "mindpilot.apiKey";

export function apiKey() {
  return sessionStorage.getItem(KEY) || "";
}

export function setApiKey(key) {
  if (key) sessionStorage.setItem(KEY, key);
  else sessionStorage.removeItem(KEY);
}

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

// Called with the server's message whenever a request answers 401 (app.js opens the key form).
let unauthorized = () => {};
export function onUnauthorized(callback) {
  unauthorized = callback;
}

function headers(extra) {
  const all = { ...extra };
  const key = apiKey();
  if (key) all.Authorization = `Bearer ${key}`;
  return all;
}

// fetch() with the key; a JSON body for objects, text as is. Resolves to the parsed JSON (or the
// Response with `raw`), rejects with an ApiError carrying the server's own message.
export async function api(path, { method = "GET", body, raw = false, signal, type } = {}) {
  const init = { method, signal, headers: headers({}) };
  if (body !== undefined) {
    const text = typeof body === "string";
    init.body = text ? body : JSON.stringify(body);
    init.headers["Content-Type"] = type || (text ? "application/x-ndjson" : "application/json");
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (err) {
    if (err.name === "AbortError") throw err;
    throw new ApiError(0, `The server cannot be reached (${err.message}). Is mindpilot serve still running?`);
  }
  if (!response.ok) throw await errorOf(response);
  return raw ? response : response.json();
}

export async function errorOf(response) {
  let message = `${response.status} ${response.statusText}`;
  try {
    const body = await response.json();
    if (body && body.error && body.error.message) message = body.error.message;
  } catch {
    // not JSON (a proxy's page): the status line is all there is
  }
  if (response.status === 401) unauthorized(message);
  return new ApiError(response.status, message);
}

// Server-sent events of a streamed chat completion: calls onEvent(parsed JSON) per `data:` line.
export async function streamChat(request, { signal, onEvent }) {
  const response = await api("/v1/chat/completions", { method: "POST", body: request, raw: true, signal });
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value;
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const event = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      for (const line of event.split("\n")) {
        if (!line.startsWith("data: ")) continue;
        const data = line.slice(6);
        if (data === "[DONE]") return;
        const parsed = JSON.parse(data);
        if (parsed.error) throw new ApiError(parsed.error.code, parsed.error.message);
        onEvent(parsed);
      }
    }
  }
}

export const q = (params) => {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value === undefined || value === null || value === "") continue;
    for (const one of Array.isArray(value) ? value : [value]) search.append(name, one);
  }
  const text = search.toString();
  return text ? `?${text}` : "";
};

// Follow a background job (adapter training, monitor run): poll `${path}/${id}` once a second,
// one request at a time, until it is done or failed; `show` hears every state. Resolves to the
// last one.
export async function followJob(job, path, show) {
  for (;;) {
    show(job);
    if (job.state === "done" || job.state === "failed") return job;
    await new Promise((resolve) => setTimeout(resolve, 1000));
    job = await api(`${path}/${encodeURIComponent(job.id)}`);
  }
}
