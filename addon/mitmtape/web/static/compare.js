// Compare two sessions: endpoints added, removed, with a changed status, or slower; with
// "inside responses" ticked also what changed in their responses, as a coloured diff.

import { api } from "./api.js";
import { $, el } from "./dom.js";
import { formatMs, humanSize } from "./format.js";
import { go, show, state } from "./router.js";
import { loadSessions } from "./sessions.js";

export async function showCompare() {
  show("compare");
  const sessions = await loadSessions();
  const form = $("#compare-form");
  for (const side of ["a", "b"]) {
    const options = sessions.map((session) => el("option", { value: session.id }, `${session.name} (${session.flow_count})`));
    form.elements[side].replaceChildren(...options);
    if (state.params.get(side)) form.elements[side].value = state.params.get(side);
  }
  const deep = state.params.get("deep") === "true";
  form.elements.deep.checked = deep;
  const result = $("#compare-result");
  result.replaceChildren();
  const [a, b] = [state.params.get("a"), state.params.get("b")];
  if (!a || !b) return;
  const comparison = await api(`/compare?${new URLSearchParams({ a, b, ...(deep ? { deep: "true" } : {}) })}`);
  result.append(
    el("p", {}, `A: ${comparison.a.name} — ${comparison.a.flows} flows, ${comparison.a.endpoints} endpoints`),
    el("p", {}, `B: ${comparison.b.name} — ${comparison.b.flows} flows, ${comparison.b.endpoints} endpoints`),
    compareTable("Added (only in B)", ["Endpoint", "Flows"], comparison.added.map((r) => [r.endpoint, r.flows])),
    compareTable("Removed (only in A)", ["Endpoint", "Flows"], comparison.removed.map((r) => [r.endpoint, r.flows])),
    compareTable("Status changed", ["Endpoint", "A", "B"], comparison.status_changed.map((r) => [r.endpoint, r.status_a, r.status_b])),
    compareTable("Slower", ["Endpoint", "Median A", "Median B"], comparison.slower.map((r) => [r.endpoint, formatMs(r.median_ms_a), formatMs(r.median_ms_b)])),
  );
  if (comparison.responses) result.append(responseDiff(comparison.responses));
}

// What a row of the deep compare means for people: a diff sign (its colour) and a sentence.
const RESPONSE_CHANGES = {
  field_added: ["+", (r) => `field ${r.what} (${r.b})`],
  field_removed: ["-", (r) => `field ${r.what} (${r.a})`],
  field_type_changed: ["~", (r) => `field ${r.what}: ${r.a} → ${r.b}`],
  header_added: ["+", (r) => `header ${r.what}`],
  header_removed: ["-", (r) => `header ${r.what}`],
  header_changed: ["~", (r) => `header ${r.what}: ${r.a} → ${r.b}`],
  content_type_changed: ["~", (r) => `content type: ${r.a} → ${r.b}`],
  body_size_changed: ["~", (r) => `median body size: ${humanSize(r.a)} → ${humanSize(r.b)}`],
};
const DIFF_CLASSES = { "+": "diff-added", "-": "diff-removed", "~": "diff-changed" };

function responseDiff(rows) {
  const lines = [];
  let endpoint = null;
  for (const row of rows) {
    if (row.endpoint !== endpoint) {
      endpoint = row.endpoint;
      lines.push(el("div", { class: "diff-endpoint" }, endpoint));
    }
    const [sign, say] = RESPONSE_CHANGES[row.change];
    lines.push(el("div", { class: DIFF_CLASSES[sign], "data-change": row.change }, `${sign} ${say(row)}`));
  }
  const content = rows.length ? el("pre", { class: "diff" }, ...lines) : el("p", { class: "hint" }, "none");
  return el("section", { class: "compare-part", id: "compare-responses" }, el("h2", {}, `Inside the responses: ${rows.length}`), content);
}

function compareTable(title, columns, rows) {
  const head = el("tr", {}, ...columns.map((column) => el("th", { scope: "col" }, column)));
  const body = rows.map((cells) => el("tr", {}, ...cells.map((cell) => el("td", {}, String(cell)))));
  const table = rows.length
    ? el("div", { class: "scroll" }, el("table", {}, el("thead", {}, head), el("tbody", {}, ...body)))
    : el("p", { class: "hint" }, "none");
  return el("section", { class: "compare-part" }, el("h2", {}, `${title}: ${rows.length}`), table);
}

export function wireCompare() {
  $("#compare-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const { a, b, deep } = event.target.elements;
    go({ view: "compare", a: a.value, b: b.value, ...(deep.checked ? { deep: "true" } : {}) });
  });
}
