// The sessions list: create, rename, make active, delete.

import { api, sendJson, sessionPath } from "./api.js";
import { $, ask, button, el, toast } from "./dom.js";
import { count, humanSize, number, shortTime } from "./format.js";
import { link, route, show, state } from "./router.js";

export async function loadSessions() {
  state.sessions = (await api("/sessions")).sessions;
  return state.sessions;
}

export async function showSessions() {
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
    el("td", { class: "num" }, number(session.flow_count)),
    el("td", { class: "num" }, humanSize(session.total_size || 0)),
    el("td", {}, session.first_flow_at ? shortTime(session.first_flow_at) : "—"),
    el("td", {}, session.last_flow_at ? shortTime(session.last_flow_at) : "—"),
    actions,
  );
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
  const flows = count(session.flow_count, "flow");
  const sure = await ask(`Delete the session “${session.name}” and its ${flows}? This cannot be undone.`);
  if (!sure) return;
  const work = () => api(sessionPath(session.id), { method: "DELETE" });
  if (state.params.get("session") === session.id) history.replaceState(null, "", "/");
  await changeSessions(work, `Deleted “${session.name}”`);
}

export function wireSessions() {
  $("#new-session").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = event.target;
    const name = form.elements.name.value.trim();
    await changeSessions(() => sendJson("/sessions", "POST", { name }), `Created “${name}”`);
    form.reset();
  });
}
