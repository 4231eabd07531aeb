// A session's flows: the filter form, one page of rows, the pager.

import { api, sessionPath } from "./api.js";
import { $, el } from "./dom.js";
import { openFlow } from "./detail.js";
import { formatMs, humanSize, number, shortTime } from "./format.js";
import { FILTER_KEYS, filterQuery, filtered, go, show, state, withParams } from "./router.js";
import { showArtifacts, showWorkspaceLinks, updateExportLink } from "./transfer.js";

export const PAGE_SIZE = 100;

export async function showSession() {
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
  showPage(page);
  updateExportLink();
  showWorkspaceLinks(session);
  showArtifacts(session);
}

// One page of flows, or the error the API gave for the filters (a bad expression, say).
function showPage(page) {
  if (page.error) {
    state.page = null;
    $("#flows tbody").replaceChildren();
    $("#flow-count").textContent = page.error.message;
    $("#page-info").textContent = "";
    return;
  }
  state.page = page;
  $("#flows tbody").replaceChildren(...page.flows.map(flowRow));
  showCount();
}

export function showCount() {
  const page = state.page;
  const first = page.total === 0 ? 0 : page.offset + 1;
  const last = page.offset + page.flows.length;
  $("#flow-count").textContent = `${number(page.total)} ${filtered() ? "matching flows" : "flows"}`;
  $("#page-info").textContent = `${number(first)}–${number(last)} of ${number(page.total)}`;
  $("#prev").disabled = page.offset === 0;
  $("#next").disabled = last >= page.total;
}

function statusClass(status) {
  return status ? `s${String(status)[0]}xx` : "s-none";
}

export function flowRow(flow) {
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

export function wireFlows() {
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
}
