// Export (a download link that follows the filters), the session's workspace files and
// artifacts, and import: drop a file anywhere for a new session, or the button for the open one.

import { API, api, exists, sessionPath } from "./api.js";
import { $, ask, button, el, toast } from "./dom.js";
import { number, shortTime } from "./format.js";
import { filterQuery, go, route, state } from "./router.js";
import { loadSessions } from "./sessions.js";

const IMPORT_SUFFIXES = [".har", ".json", ".mitm"];
// The download's artifact is listed once the server has stored it; the list is read again then.
const ARTIFACT_REFRESH_MS = 1500;
const ARTIFACTS_SHOWN = 50;

export function updateExportLink() {
  const form = $("#export");
  const query = filterQuery();
  if (form.elements.redact.checked) query.set("redact", form.elements.strict.checked ? "strict" : "true");
  const format = encodeURIComponent(form.elements.format.value);
  const suffix = query.toString() ? `?${query}` : "";
  $("#download").href = `${API}${sessionPath(state.session.id)}/export/${format}${suffix}`;
}

export async function showWorkspaceLinks(session) {
  const place = $("#session-links");
  place.replaceChildren();
  const path = sessionPath(session.id);
  const files = [
    ["Report", `${path}/report`],
    ["report.md", `${path}/report`, true],
    ["PoC zip", `${path}/poc`],
  ];
  // Each address is asked once (the report is both a page and a download): a probe reads the
  // file on the server.
  const probes = new Map();
  for (const [, href] of files) if (!probes.has(href)) probes.set(href, exists(href).catch(() => false));
  const found = await Promise.all(files.map(([, href]) => probes.get(href)));
  files.forEach(([label, href, download], index) => {
    if (!found[index]) return;
    const attributes = { href: API + href, class: "button" };
    if (download) attributes.download = "";
    else attributes.target = "_blank";
    place.append(el("a", attributes, label));
  });
}

export async function showArtifacts(session) {
  const query = new URLSearchParams({ session_id: session.id, limit: ARTIFACTS_SHOWN });
  const { artifacts } = await api(`/artifacts?${query}`);
  $("#artifacts tbody").replaceChildren(...artifacts.map(artifactRow));
}

function artifactRow(artifact) {
  return el(
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
  );
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

function importable(file) {
  return IMPORT_SUFFIXES.some((suffix) => file.name.toLowerCase().endsWith(suffix));
}

async function importFile(file, intoSession = null) {
  if (!importable(file)) {
    toast(`${file.name}: only .har, .json and .mitm files can be imported`, "error");
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
  const message = `Imported ${number(result.imported)} flows into “${result.session_name}”${skipped}`;
  toast(message, "success", intoSession ? null : await compareAction(result.session));
  await route();
}

// After an import into a new session: a button comparing it with the active session.
async function compareAction(imported) {
  const active = (await loadSessions()).find((session) => session.active);
  if (!active || active.id === imported) return null;
  return { label: "Compare", run: () => go({ view: "compare", a: active.id, b: imported }) };
}

function dragsFiles(event) {
  return event.dataTransfer && Array.from(event.dataTransfer.types).includes("Files");
}

function wireDrop() {
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
}

// A file made to be shared (HAR, Postman, the report) gets redaction ticked; an archive not.
function tickRedactionForFormat() {
  const form = $("#export");
  form.elements.redact.checked = form.elements.format.selectedOptions[0]?.hasAttribute("data-shared") ?? false;
}

export function wireTransfer() {
  tickRedactionForFormat();
  $("#export").elements.format.addEventListener("change", tickRedactionForFormat);
  $("#export").addEventListener("change", updateExportLink);
  $("#export").addEventListener("submit", (event) => event.preventDefault());
  $("#download").addEventListener("click", () => setTimeout(() => showArtifacts(state.session), ARTIFACT_REFRESH_MS));
  $("#import-file").addEventListener("change", async (event) => {
    const file = event.target.files[0];
    event.target.value = "";
    if (file) await importFile(file, state.session);
  });
  wireDrop();
}
