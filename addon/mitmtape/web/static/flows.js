// A session's flows: the filter form, one page of rows, the pager. Pages move by the API's
// cursors (`next`, `prev`), so the millionth flow costs what the first does; `order=desc` shows
// the newest flows first, and `n` (the page's number) only labels where the reader is.

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
  const form = $("#filters");
  for (const key of FILTER_KEYS) form.elements[key].value = state.params.get(key) || "";
  const query = filterQuery();
  query.set("limit", PAGE_SIZE);
  const cursor = state.params.get("cursor");
  if (cursor) query.set("cursor", cursor);
  else if (state.params.get("order") === "desc") query.set("order", "desc");
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

// The page's number in the address (1 without one): where its rows sit in the order shown.
function pageNumber() {
  return Math.max(1, Number(state.params.get("n")) || 1);
}

export function showCount() {
  const page = state.page;
  const about = page.total_estimated ? "about " : "";
  const first = page.flows.length === 0 ? 0 : (pageNumber() - 1) * PAGE_SIZE + 1;
  const last = first === 0 ? 0 : first + page.flows.length - 1;
  const noun = filtered() ? "matching flows" : "flows";
  $("#flow-count").textContent = `${about}${number(page.total)} ${noun}`;
  const order = page.order === "desc" ? ", newest first" : "";
  $("#page-info").textContent = `${number(first)}–${number(last)} of ${about}${number(page.total)}${order}`;
  $("#prev").disabled = !page.prev;
  $("#next").disabled = !page.next;
}

// The address of another page: a cursor and the page's number, filters and order kept.
function pageParams(cursor, number) {
  return withParams({ cursor, n: number > 1 ? number : null });
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
    const changes = { cursor: null, n: null };
    for (const key of FILTER_KEYS) changes[key] = event.target.elements[key].value.trim();
    go(withParams(changes));
  });
  $("#filters").addEventListener("reset", (event) => {
    event.preventDefault();
    go(withParams(Object.fromEntries([...FILTER_KEYS, "cursor", "n"].map((key) => [key, null]))));
  });
  $("#prev").addEventListener("click", () => go(pageParams(state.page.prev, pageNumber() - 1)));
  $("#next").addEventListener("click", () => go(pageParams(state.page.next, pageNumber() + 1)));
  $("#oldest").addEventListener("click", () => go(withParams({ cursor: null, n: null, order: null })));
  $("#newest").addEventListener("click", () => go(withParams({ cursor: null, n: null, order: "desc" })));
}
