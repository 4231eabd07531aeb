// Routing: the address bar holds the view, the session and its filters, so a view can be
// bookmarked and Back works. main.js says which function draws the page for an address.

import { el, toast } from "./dom.js";

export const FILTER_KEYS = ["filter", "url", "method", "status_min", "status_max"];
export const state = { sessions: [], session: null, params: new URLSearchParams(), page: null };

let draw = async () => {};

export function onRoute(render) {
  draw = render;
}

export function pageUrl(params) {
  const query = new URLSearchParams(params).toString();
  return query ? `/?${query}` : "/";
}

export async function route() {
  state.params = new URLSearchParams(location.search);
  try {
    await draw(state.params);
  } catch (error) {
    toast(error.message, "error");
  }
}

export function go(params, replace = false) {
  history[replace ? "replaceState" : "pushState"](null, "", pageUrl(params));
  route();
}

export function show(view) {
  for (const section of document.querySelectorAll("main > section")) {
    section.hidden = section.id !== `${view}-view`;
  }
}

// A real link (it opens in a new tab too) that a plain click follows without a reload.
export function link(label, params) {
  const node = el("a", { href: pageUrl(params) }, label);
  node.addEventListener("click", (event) => {
    if (event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey) return;
    event.preventDefault();
    go(params);
  });
  return node;
}

export function withParams(changes) {
  const params = new URLSearchParams(state.params);
  for (const [key, value] of Object.entries(changes)) {
    if (value === "" || value === null || value === undefined) params.delete(key);
    else params.set(key, value);
  }
  return params;
}

export function filterQuery() {
  const query = new URLSearchParams();
  for (const key of FILTER_KEYS) {
    const value = state.params.get(key);
    if (value) query.set(key, value);
  }
  return query;
}

export const filtered = () => FILTER_KEYS.some((key) => state.params.get(key));
