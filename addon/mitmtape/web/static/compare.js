// Compare two sessions: endpoints added, removed, with a changed status, or slower.

import { api } from "./api.js";
import { $, el } from "./dom.js";
import { formatMs } from "./format.js";
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

export function wireCompare() {
  $("#compare-form").addEventListener("submit", (event) => {
    event.preventDefault();
    go({ view: "compare", a: event.target.elements.a.value, b: event.target.elements.b.value });
  });
}
