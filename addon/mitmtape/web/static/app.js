// The mitmtape page: a view of the JSON API at /api/v1, signed in by an HttpOnly cookie.
// Every value that came from traffic or a file reaches the page through text nodes
// (Node.append with a string, textContent), never as markup; the CSP forbids inline script.
"use strict";

const API = "/api/v1";
const PAGE_SIZE = 100;
const FILTER_KEYS = ["filter", "url", "method", "status_min", "status_max"];
const IMPORT_SUFFIXES = [".har", ".json"];
const HEX_PREVIEW_BYTES = 256;
const TEXT_PREVIEW_CHARS = 200_000;
const TOAST_MS = 8000;
const TIMING_PHASES = ["dns", "connect", "ssl", "send", "wait", "receive"];

const $ = (selector) => document.querySelector(selector);
const state = { sessions: [], session: null, params: new URLSearchParams(), page: null };

// Building blocks

function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  node.append(...children.filter((child) => child !== null && child !== undefined));
  return node;
}

function button(label, action, className = "") {
  const node = el("button", { type: "button", class: className }, label);
  node.addEventListener("click", action);
  return node;
}

function link(label, params) {
  const node = el("a", { href: pageUrl(params) }, label);
  node.addEventListener("click", (event) => {
    if (event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey) return;
    event.preventDefault();
    go(params);
  });
  return node;
}

function humanSize(bytes) {
  const units = ["B", "KB", "MB", "GB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}

function shortTime(text) {
  return text ? text.replace("T", " ").replace(/\.\d+/, "").replace(/Z$|\+00:00$/, "") : "";
}

function formatMs(ms) {
  if (ms === null || ms === undefined) return "—";
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(1)} ms`;
}

function toast(message, kind = "info", action = null) {
  const node = el("div", { class: `toast ${kind}`, role: kind === "error" ? "alert" : "status" });
  node.append(el("span", {}, message));
  if (action) node.append(button(action.label, () => { node.remove(); action.run(); }));
  node.append(button("×", () => node.remove(), "dismiss"));
  $("#toasts").append(node);
  setTimeout(() => node.remove(), TOAST_MS);
}

// The API

class SignedOut extends Error {}

async function api(path, options = {}) {
  const response = await fetch(API + path, { credentials: "same-origin", ...options });
  if (response.status === 401) throw new SignedOut("Signed out: open the sign-in link mitmtape printed.");
  const type = response.headers.get("Content-Type") || "";
  const body = type.startsWith("application/json") ? await response.json() : await response.text();
  if (!response.ok) throw new Error(body && body.error ? body.error : `${response.status} ${response.statusText}`);
  return body;
}

function sendJson(path, method, value) {
  return api(path, { method, headers: { "Content-Type": "application/json" }, body: JSON.stringify(value) });
}

const sessionPath = (id) => `/sessions/${encodeURIComponent(id)}`;

// Routing: the address bar holds the view, the session and its filters

function pageUrl(params) {
  const query = new URLSearchParams(params).toString();
  return query ? `/?${query}` : "/";
}

function go(params, replace = false) {
  history[replace ? "replaceState" : "pushState"](null, "", pageUrl(params));
  route();
}

function show(view) {
  for (const section of document.querySelectorAll("main > section")) {
    section.hidden = section.id !== `${view}-view`;
  }
}

async function route() {
  state.params = new URLSearchParams(location.search);
  try {
    if (state.params.get("view") === "compare") await showCompare();
    else if (state.params.get("session")) await showSession();
    else await showSessions();
  } catch (error) {
    toast(error.message, "error");
  }
}

// Sessions

async function loadSessions() {
  state.sessions = (await api("/sessions")).sessions;
  return state.sessions;
}

async function showSessions() {
  show("sessions");
  const sessions = await loadSessions();
  $("#sessions tbody").replaceChildren(...sessions.map(sessionRow));
}

function sessionRow(session) {
  const name = el("td", {}, link(session.name, { session: session.id }));
  if (session.active) name.append(" ", el("span", { class: "badge" }, "active"));
  const actions = el("td", { class: "actions" }, button("Rename", () => renameSession(session)));
  if (!session.active) actions.append(button("Make active", () => activate(session)));
  actions.append(button("Delete", () => deleteSession(session), "danger"));
  return el(
    "tr",
    { class: session.active ? "active" : "", "data-id": session.id },
    name,
    el("td", { class: "num" }, session.flow_count.toLocaleString("en")),
    el("td", { class: "num" }, humanSize(session.total_size || 0)),
    el("td", {}, session.first_flow_at ? shortTime(session.first_flow_at) : "—"),
    el("td", {}, session.last_flow_at ? shortTime(session.last_flow_at) : "—"),
    actions,
  );
}

function ask(text, defaultValue = null) {
  const dialog = $("#ask");
  $("#ask-text").textContent = text;
  $("#ask-field").hidden = defaultValue === null;
  $("#ask-input").value = defaultValue ?? "";
  $("#ask-input").required = defaultValue !== null;
  dialog.returnValue = "";
  dialog.showModal();
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => {
      if (dialog.returnValue !== "ok") resolve(null);
      else resolve(defaultValue === null ? true : $("#ask-input").value.trim());
    }, { once: true });
  });
}

async function changeSessions(work, done) {
  try {
    await work();
    toast(done);
  } catch (error) {
    toast(error.message, "error");
  }
  await route();
}

async function renameSession(session) {
  const name = await ask(`Rename the session “${session.name}”`, session.name);
  if (!name || name === session.name) return;
  await changeSessions(() => sendJson(sessionPath(session.id), "PATCH", { name }), `Renamed to “${name}”`);
}

async function activate(session) {
  await changeSessions(
    () => sendJson(sessionPath(session.id), "PATCH", { active: true }),
    `“${session.name}” is the active session`,
  );
}

async function deleteSession(session) {
  const flows = session.flow_count === 1 ? "1 flow" : `${session.flow_count.toLocaleString("en")} flows`;
  const sure = await ask(`Delete the session “${session.name}” and its ${flows}? This cannot be undone.`);
  if (!sure) return;
  const work = () => api(sessionPath(session.id), { method: "DELETE" });
  if (state.params.get("session") === session.id) history.replaceState(null, "", "/");
  await changeSessions(work, `Deleted “${session.name}”`);
}

$("#new-session").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.target;
  const name = form.elements.name.value.trim();
  await changeSessions(() => sendJson("/sessions", "POST", { name }), `Created “${name}”`);
  form.reset();
});

// Flows of a session

function filterQuery() {
  const query = new URLSearchParams();
  for (const key of FILTER_KEYS) {
    const value = state.params.get(key);
    if (value) query.set(key, value);
  }
  return query;
}

async function showSession() {
  show("session");
  const id = state.params.get("session");
  const offset = Math.max(0, Number(state.params.get("offset")) || 0);
  const form = $("#filters");
  for (const key of FILTER_KEYS) form.elements[key].value = state.params.get(key) || "";
  const query = filterQuery();
  query.set("limit", PAGE_SIZE);
  query.set("offset", offset);
  $("#flow-count").textContent = "Loading…";
  const [session, page] = await Promise.all([
    api(sessionPath(id)),
    api(`${sessionPath(id)}/flows?${query}`).catch((error) => ({ error })),
  ]);
  state.session = session;
  document.title = `${session.name} — mitmtape`;
  $("#session-title").replaceChildren(session.name, session.active ? el("span", { class: "badge" }, "active") : "");
  if (page.error) {
    state.page = null;
    $("#flows tbody").replaceChildren();
    $("#flow-count").textContent = page.error.message;
    $("#page-info").textContent = "";
  } else {
    state.page = page;
    $("#flows tbody").replaceChildren(...page.flows.map(flowRow));
    showCount();
  }
  updateExportLink();
  showWorkspaceLinks(session);
  showArtifacts(session);
}

function showCount() {
  const page = state.page;
  const first = page.total === 0 ? 0 : page.offset + 1;
  const last = page.offset + page.flows.length;
  const filtered = FILTER_KEYS.some((key) => state.params.get(key));
  $("#flow-count").textContent =
    `${page.total.toLocaleString("en")} ${filtered ? "matching flows" : "flows"}`;
  $("#page-info").textContent = `${first.toLocaleString("en")}–${last.toLocaleString("en")} of ${page.total.toLocaleString("en")}`;
  $("#prev").disabled = page.offset === 0;
  $("#next").disabled = last >= page.total;
}

function statusClass(status) {
  return status ? `s${String(status)[0]}xx` : "s-none";
}

function flowRow(flow) {
  const row = el(
    "tr",
    { tabindex: "0", "data-id": flow.id },
    el("td", {}, shortTime(flow.started_at)),
    el("td", {}, flow.method),
    el("td", { class: statusClass(flow.status) }, flow.status ? String(flow.status) : "—"),
    el("td", {}, flow.host || ""),
    el("td", { class: "path", title: flow.url }, flow.path || flow.url),
    el("td", { class: "num" }, formatMs(flow.duration_ms)),
    el("td", { class: "num" }, humanSize(flow.response_size || 0)),
  );
  if (flow.error) row.classList.add("failed");
  row.addEventListener("click", () => openFlow(flow.id));
  row.addEventListener("keydown", (event) => {
    if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      openFlow(flow.id);
    }
  });
  return row;
}

function withParams(changes) {
  const params = new URLSearchParams(state.params);
  for (const [key, value] of Object.entries(changes)) {
    if (value === "" || value === null || value === undefined) params.delete(key);
    else params.set(key, value);
  }
  return params;
}

$("#filters").addEventListener("submit", (event) => {
  event.preventDefault();
  const changes = { offset: null };
  for (const key of FILTER_KEYS) changes[key] = event.target.elements[key].value.trim();
  go(withParams(changes));
});
$("#filters").addEventListener("reset", (event) => {
  event.preventDefault();
  go(withParams(Object.fromEntries([...FILTER_KEYS, "offset"].map((key) => [key, null]))));
});
$("#prev").addEventListener("click", () => {
  go(withParams({ offset: Math.max(0, state.page.offset - PAGE_SIZE) || null }));
});
$("#next").addEventListener("click", () => go(withParams({ offset: state.page.offset + PAGE_SIZE })));

// A flow's detail

async function openFlow(id) {
  let flow;
  try {
    flow = await api(`/flows/${encodeURIComponent(id)}`);
  } catch (error) {
    toast(error.message, "error");
    return;
  }
  const request = flow.request;
  const response = flow.response;
  $("#detail-title").textContent = `${request.method} ${request.url}`;
  const body = $("#detail-body");
  for (const old of body.querySelectorAll("img")) URL.revokeObjectURL(old.src);
  body.replaceChildren(
    el("p", {}, response ? `${response.status} ${response.reason || ""}` : "No response", ` · ${formatMs(flow.duration_ms)} · ${shortTime(flow.started_at)}`),
  );
  if (flow.error) body.append(el("p", { class: "error" }, flow.error));
  if (flow.timings) body.append(timingBar(flow.timings));
  body.append(section("Request headers", headerTable(request.headers)));
  body.append(section("Request body", bodyView(request.body, headerValue(request.headers, "content-type"))));
  if (response) {
    body.append(section("Response headers", headerTable(response.headers)));
    body.append(section("Response body", bodyView(response.body, headerValue(response.headers, "content-type"))));
  }
  const snippet = $("#snippet");
  snippet.hidden = true;
  snippet.textContent = "";
  $("#flow-detail").dataset.flow = flow.id;
  if (!$("#flow-detail").open) $("#flow-detail").showModal();
}

function section(title, content) {
  return el("section", {}, el("h3", {}, title), content);
}

function headerValue(headers, name) {
  const found = (headers || []).find(([key]) => key.toLowerCase() === name);
  return found ? found[1] : "";
}

function headerTable(headers) {
  if (!headers || headers.length === 0) return el("p", { class: "hint" }, "none");
  const rows = headers.map(([name, value]) => el("tr", {}, el("th", { scope: "row" }, name), el("td", {}, value)));
  return el("table", { class: "headers" }, el("tbody", {}, ...rows));
}

function bodyBytes(body) {
  if (body.encoding !== "base64") return new TextEncoder().encode(body.data);
  const raw = atob(body.data);
  return Uint8Array.from(raw, (char) => char.charCodeAt(0));
}

function bodyView(body, contentType) {
  if (!body || !body.size) return el("p", { class: "hint" }, "empty");
  if (body.data === null || body.data === undefined) return el("p", { class: "hint" }, `${humanSize(body.size)} (not kept)`);
  const type = contentType.toLowerCase();
  if (type.startsWith("image/") && !type.includes("svg")) {
    const url = URL.createObjectURL(new Blob([bodyBytes(body)], { type: type.split(";")[0] }));
    return el("img", { src: url, alt: `image body, ${humanSize(body.size)}`, class: "body-image" });
  }
  if (body.encoding === "base64") return hexView(bodyBytes(body), body.size);
  let text = body.data;
  if (type.includes("json")) {
    try {
      text = JSON.stringify(JSON.parse(text), null, 2);
    } catch {
      // not JSON after all: shown as it came
    }
  }
  const cut = text.length > TEXT_PREVIEW_CHARS;
  const view = el("pre", { class: "body" }, cut ? text.slice(0, TEXT_PREVIEW_CHARS) : text);
  return cut ? el("div", {}, view, el("p", { class: "hint" }, `first ${TEXT_PREVIEW_CHARS.toLocaleString("en")} characters of ${humanSize(body.size)}`)) : view;
}

function hexView(bytes, size) {
  const lines = [];
  const shown = bytes.slice(0, HEX_PREVIEW_BYTES);
  for (let start = 0; start < shown.length; start += 16) {
    const chunk = Array.from(shown.slice(start, start + 16));
    const hex = chunk.map((byte) => byte.toString(16).padStart(2, "0")).join(" ");
    const ascii = chunk.map((byte) => (byte >= 32 && byte < 127 ? String.fromCharCode(byte) : ".")).join("");
    lines.push(`${start.toString(16).padStart(8, "0")}  ${hex.padEnd(47)}  ${ascii}`);
  }
  return el("div", {}, el("p", {}, `binary, ${humanSize(size)}`), el("pre", { class: "hex" }, lines.join("\n")));
}

function timingBar(timings) {
  const total = TIMING_PHASES.reduce((sum, phase) => sum + Math.max(0, timings[phase] || 0), 0);
  const bar = el("div", { class: "timing-bar", role: "img" });
  const legend = el("ul", { class: "timing-legend" });
  for (const phase of TIMING_PHASES) {
    const micros = Math.max(0, timings[phase] || 0);
    if (!micros) continue;
    const part = el("span", { class: `phase ${phase}`, title: `${phase} ${formatMs(micros / 1000)}` });
    part.style.width = `${total ? (100 * micros) / total : 0}%`;
    bar.append(part);
    legend.append(el("li", { class: phase }, `${phase} ${formatMs(micros / 1000)}`));
  }
  bar.setAttribute("aria-label", `timings, ${formatMs(total / 1000)} in all`);
  return section("Timings", el("div", {}, bar, legend));
}

$("#copy-buttons").addEventListener("click", async (event) => {
  const target = event.target.closest("button")?.dataset.target;
  const flowId = $("#flow-detail").dataset.flow;
  if (!target || !flowId) return;
  try {
    const code = await api(`/flows/${encodeURIComponent(flowId)}/code/${encodeURIComponent(target)}`);
    const snippet = $("#snippet");
    snippet.textContent = code;
    snippet.hidden = false;
    await navigator.clipboard.writeText(code);
    toast(`Copied as ${target}`);
  } catch (error) {
    toast(`Shown below; copying failed: ${error.message}`, "error");
  }
});

// Export, workspace files, artifacts

function updateExportLink() {
  const form = $("#export");
  const query = filterQuery();
  if (form.elements.redact.checked) query.set("redact", "true");
  const format = encodeURIComponent(form.elements.format.value);
  const suffix = query.toString() ? `?${query}` : "";
  $("#download").href = `${API}${sessionPath(state.session.id)}/export/${format}${suffix}`;
}

$("#export").addEventListener("change", updateExportLink);
$("#export").addEventListener("submit", (event) => event.preventDefault());
$("#download").addEventListener("click", () => setTimeout(() => showArtifacts(state.session), 1500));

async function exists(path) {
  const response = await fetch(API + path, { credentials: "same-origin" });
  if (response.body) response.body.cancel();
  return response.ok;
}

async function showWorkspaceLinks(session) {
  const place = $("#session-links");
  place.replaceChildren();
  const path = sessionPath(session.id);
  const files = [
    ["Report", `${path}/report`],
    ["report.md", `${path}/report`, true],
    ["PoC zip", `${path}/poc`],
  ];
  const found = await Promise.all(files.map(([, href]) => exists(href).catch(() => false)));
  files.forEach(([label, href, download], index) => {
    if (!found[index]) return;
    const attributes = { href: API + href, class: "button" };
    if (download) attributes.download = "";
    else attributes.target = "_blank";
    place.append(el("a", attributes, label));
  });
}

async function showArtifacts(session) {
  const { artifacts } = await api(`/artifacts?session_id=${encodeURIComponent(session.id)}&limit=50`);
  const rows = artifacts.map((artifact) => el(
    "tr",
    { "data-id": artifact.id },
    el("td", {}, artifact.title),
    el("td", {}, artifact.summary || ""),
    el("td", {}, shortTime(artifact.created_at)),
    el(
      "td",
      { class: "actions" },
      el("a", { href: `${API}/artifacts/${encodeURIComponent(artifact.id)}/download`, class: "button" }, "Download"),
      button("Delete", () => deleteArtifact(artifact), "danger"),
    ),
  ));
  $("#artifacts tbody").replaceChildren(...rows);
}

async function deleteArtifact(artifact) {
  if (!(await ask(`Delete the artifact “${artifact.title}”?`))) return;
  try {
    await api(`/artifacts/${encodeURIComponent(artifact.id)}`, { method: "DELETE" });
    toast(`Deleted “${artifact.title}”`);
  } catch (error) {
    toast(error.message, "error");
  }
  await showArtifacts(state.session);
}

// Import: drop anywhere for a new session, or the button for the open one

function importable(file) {
  return IMPORT_SUFFIXES.some((suffix) => file.name.toLowerCase().endsWith(suffix));
}

async function importFile(file, intoSession = null) {
  if (!importable(file)) {
    toast(`${file.name}: only .har and .json files can be imported`, "error");
    return;
  }
  const query = new URLSearchParams({ name: file.name });
  if (intoSession) query.set("session", intoSession.id);
  toast(`Importing ${file.name}…`);
  let result;
  try {
    result = await api(`/import?${query}`, {
      method: "POST",
      headers: { "Content-Type": "application/octet-stream" },
      body: file,
    });
  } catch (error) {
    toast(`Import failed: ${error.message}`, "error");
    await route();
    return;
  }
  const skipped = result.skipped ? `, ${result.skipped} skipped` : "";
  const message = `Imported ${result.imported.toLocaleString("en")} flows into “${result.session_name}”${skipped}`;
  let action = null;
  if (!intoSession) {
    const active = (await loadSessions()).find((session) => session.active);
    if (active && active.id !== result.session) {
      action = { label: "Compare", run: () => go({ view: "compare", a: active.id, b: result.session }) };
    }
  }
  toast(message, "success", action);
  await route();
}

$("#import-file").addEventListener("change", async (event) => {
  const file = event.target.files[0];
  event.target.value = "";
  if (file) await importFile(file, state.session);
});

function dragsFiles(event) {
  return event.dataTransfer && Array.from(event.dataTransfer.types).includes("Files");
}

let dragDepth = 0;
window.addEventListener("dragenter", (event) => {
  if (!dragsFiles(event)) return;
  event.preventDefault();
  dragDepth += 1;
  $("#drop-overlay").hidden = false;
});
window.addEventListener("dragover", (event) => {
  if (!dragsFiles(event)) return;
  event.preventDefault();
  event.dataTransfer.dropEffect = "copy";
});
window.addEventListener("dragleave", () => {
  dragDepth = Math.max(0, dragDepth - 1);
  if (dragDepth === 0) $("#drop-overlay").hidden = true;
});
window.addEventListener("drop", async (event) => {
  event.preventDefault();
  dragDepth = 0;
  $("#drop-overlay").hidden = true;
  for (const file of Array.from(event.dataTransfer?.files || [])) await importFile(file);
});

// Compare

async function showCompare() {
  show("compare");
  const sessions = await loadSessions();
  const form = $("#compare-form");
  for (const side of ["a", "b"]) {
    const options = sessions.map((session) => el("option", { value: session.id }, `${session.name} (${session.flow_count})`));
    form.elements[side].replaceChildren(...options);
    if (state.params.get(side)) form.elements[side].value = state.params.get(side);
  }
  const result = $("#compare-result");
  result.replaceChildren();
  const [a, b] = [state.params.get("a"), state.params.get("b")];
  if (!a || !b) return;
  const comparison = await api(`/compare?${new URLSearchParams({ a, b })}`);
  result.append(
    el("p", {}, `A: ${comparison.a.name} — ${comparison.a.flows} flows, ${comparison.a.endpoints} endpoints`),
    el("p", {}, `B: ${comparison.b.name} — ${comparison.b.flows} flows, ${comparison.b.endpoints} endpoints`),
    compareTable("Added (only in B)", ["Endpoint", "Flows"], comparison.added.map((r) => [r.endpoint, r.flows])),
    compareTable("Removed (only in A)", ["Endpoint", "Flows"], comparison.removed.map((r) => [r.endpoint, r.flows])),
    compareTable("Status changed", ["Endpoint", "A", "B"], comparison.status_changed.map((r) => [r.endpoint, r.status_a, r.status_b])),
    compareTable("Slower", ["Endpoint", "Median A", "Median B"], comparison.slower.map((r) => [r.endpoint, formatMs(r.median_ms_a), formatMs(r.median_ms_b)])),
  );
}

function compareTable(title, columns, rows) {
  const head = el("tr", {}, ...columns.map((column) => el("th", { scope: "col" }, column)));
  const body = rows.map((cells) => el("tr", {}, ...cells.map((cell) => el("td", {}, String(cell)))));
  const table = rows.length
    ? el("div", { class: "scroll" }, el("table", {}, el("thead", {}, head), el("tbody", {}, ...body)))
    : el("p", { class: "hint" }, "none");
  return el("section", { class: "compare-part" }, el("h2", {}, `${title}: ${rows.length}`), table);
}

$("#compare-form").addEventListener("submit", (event) => {
  event.preventDefault();
  go({ view: "compare", a: event.target.elements.a.value, b: event.target.elements.b.value });
});

// Live: flows recorded by the proxy (or imported) appear without a reload

function onFlowCreated(flow) {
  const session = state.sessions.find((item) => item.id === flow.session_id);
  if (session) session.flow_count += 1;
  const page = state.page;
  const open = state.params.get("session");
  if (!page || !state.session || flow.session_id !== state.session.id || !open) return;
  if (FILTER_KEYS.some((key) => state.params.get(key))) return;
  page.total += 1;
  if (page.flows.length < PAGE_SIZE && page.offset + page.flows.length === page.total - 1) {
    page.flows.push(flow);
    $("#flows tbody").append(flowRow(flow));
  }
  showCount();
}

function listen() {
  const events = new EventSource(`${API}/events`);
  events.addEventListener("open", () => { $("#live").hidden = false; });
  events.addEventListener("error", () => { $("#live").hidden = true; });
  events.addEventListener("flow.created", (event) => onFlowCreated(JSON.parse(event.data)));
  events.addEventListener("artifact.created", () => state.session && showArtifacts(state.session));
}

window.addEventListener("popstate", route);
route();
listen();
