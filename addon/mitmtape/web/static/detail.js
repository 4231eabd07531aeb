// A flow's detail: status, timings, headers and bodies (text, JSON, image or hex), and its code.

import { api } from "./api.js";
import { $, el, section, toast } from "./dom.js";
import { formatMs, humanSize, number, shortTime } from "./format.js";

const HEX_PREVIEW_BYTES = 256;
const TEXT_PREVIEW_CHARS = 200_000;
const TIMING_PHASES = ["dns", "connect", "ssl", "send", "wait", "receive"];

export async function openFlow(id) {
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

// Why a body was recorded without its content (the body object's `omitted`), in the words
// every door uses: the server writes mitmtape.model.OMISSIONS into the page.
function omission(reason) {
  const sentences = JSON.parse($("#flow-detail").dataset.omissions || "{}");
  return Object.hasOwn(sentences, reason) ? sentences[reason] : `not recorded (${reason})`;
}

// "Body not recorded: mitmproxy streamed it (stream_large_bodies), 200.0 MB", instead of
// showing it empty; a size of 0 is one that was not known.
function omittedView(body) {
  const size = body.size ? `, ${humanSize(body.size)}` : "";
  return el("p", { class: "hint omitted" }, `Body ${omission(body.omitted)}${size}`);
}

function bodyView(body, contentType) {
  if (body && body.omitted) return omittedView(body);
  if (!body || !body.size) return el("p", { class: "hint" }, "empty");
  if (body.data === null || body.data === undefined) return el("p", { class: "hint" }, `${humanSize(body.size)} (not kept)`);
  const type = contentType.toLowerCase();
  if (type.startsWith("image/") && !type.includes("svg")) {
    const url = URL.createObjectURL(new Blob([bodyBytes(body)], { type: type.split(";")[0] }));
    return el("img", { src: url, alt: `image body, ${humanSize(body.size)}`, class: "body-image" });
  }
  if (body.encoding === "base64") return hexView(bodyBytes(body), body.size);
  return textView(body.data, type, body.size);
}

function textView(data, type, size) {
  let text = data;
  if (type.includes("json")) {
    try {
      text = JSON.stringify(JSON.parse(text), null, 2);
    } catch {
      // not JSON after all: shown as it came
    }
  }
  const cut = text.length > TEXT_PREVIEW_CHARS;
  const view = el("pre", { class: "body" }, cut ? text.slice(0, TEXT_PREVIEW_CHARS) : text);
  if (!cut) return view;
  return el("div", {}, view, el("p", { class: "hint" }, `first ${number(TEXT_PREVIEW_CHARS)} characters of ${humanSize(size)}`));
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

async function copyAs(event) {
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
}

export function wireDetail() {
  $("#copy-buttons").addEventListener("click", copyAs);
}
