// The JSON API at /api/v1, read with the HttpOnly sign-in cookie.

export const API = "/api/v1";

export class SignedOut extends Error {}

export async function api(path, options = {}) {
  const response = await fetch(API + path, { credentials: "same-origin", ...options });
  if (response.status === 401) throw new SignedOut("Signed out: open the sign-in link mitmtape printed.");
  const type = response.headers.get("Content-Type") || "";
  const body = type.startsWith("application/json") ? await response.json() : await response.text();
  if (!response.ok) throw new Error(body && body.error ? body.error : `${response.status} ${response.statusText}`);
  return body;
}

export function sendJson(path, method, value) {
  return api(path, { method, headers: { "Content-Type": "application/json" }, body: JSON.stringify(value) });
}

// Whether a GET would succeed, without reading the answer.
export async function exists(path) {
  const response = await fetch(API + path, { credentials: "same-origin" });
  if (response.body) response.body.cancel();
  return response.ok;
}

export const sessionPath = (id) => `/sessions/${encodeURIComponent(id)}`;
