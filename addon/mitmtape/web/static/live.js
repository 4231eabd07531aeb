// Live: flows recorded by the proxy (or imported) appear without a reload, by the API's
// server-sent events.

import { API } from "./api.js";
import { $ } from "./dom.js";
import { PAGE_SIZE, flowRow, showCount } from "./flows.js";
import { filtered, state } from "./router.js";
import { showArtifacts } from "./transfer.js";

function onFlowCreated(flow) {
  const session = state.sessions.find((item) => item.id === flow.session_id);
  if (session) session.flow_count += 1;
  const page = state.page;
  const open = state.params.get("session");
  if (!page || !state.session || flow.session_id !== state.session.id || !open) return;
  if (filtered()) return;
  page.total += 1;
  const body = $("#flows tbody");
  if (page.order === "desc" && !page.prev) {
    // The newest page, newest first: the new flow goes on top. No row makes way, so the
    // page's `next` still starts right after its last row.
    page.flows.unshift(flow);
    body.prepend(flowRow(flow));
  } else if (page.order !== "desc" && !page.next && page.flows.length < PAGE_SIZE) {
    // The last page, oldest first, with room: the new flow goes below.
    page.flows.push(flow);
    body.append(flowRow(flow));
  }
  showCount();
}

export function listen() {
  const events = new EventSource(`${API}/events`);
  events.addEventListener("open", () => { $("#live").hidden = false; });
  events.addEventListener("error", () => { $("#live").hidden = true; });
  events.addEventListener("flow.created", (event) => onFlowCreated(JSON.parse(event.data)));
  events.addEventListener("artifact.created", () => state.session && showArtifacts(state.session));
}
