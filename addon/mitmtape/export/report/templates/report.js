"use strict";
// Search, sorting and the detail panel of a mitmtape report. The rows are already in the page
// (it reads without this script); this only picks, orders and describes them. Text from traffic
// is only ever set with textContent, never parsed as HTML.
(() => {
  document.documentElement.classList.add("js");
  const data = JSON.parse(document.getElementById("flow-data").textContent);
  const text = (index) => (index < 0 ? null : data.strings[index]);
  const pairs = (flat) => {
    if (!flat) return null;
    const out = [];
    for (let i = 0; i < flat.length; i += 2) out.push([text(flat[i]), text(flat[i + 1])]);
    return out;
  };
  // The field order is report.py's flow_json.
  const flows = data.flows.map((a) => ({
    url: text(a[0]), method: text(a[1]), host: text(a[2]), path: text(a[3]), status: a[4],
    reason: text(a[5]), duration: a[6], size: a[7], requestSize: a[8], start: a[9],
    error: text(a[10]), contentType: text(a[11]), source: text(a[12]), httpVersion: text(a[13]),
    tags: a[14].map(text), requestHeaders: pairs(a[15]), responseHeaders: pairs(a[16]),
    timings: a[17], omitted: text(a[18]),
  }));
  const table = document.getElementById("flows");
  const tbody = table.tBodies[0];
  const items = Array.from(tbody.rows, (tr, index) => {
    const f = flows[index];
    const words = [f.method, f.status || "", f.host, f.url, f.tags.join(" "), f.error || "",
      f.contentType || ""];
    return { tr, index, flow: f, haystack: words.join("\n").toLowerCase() };
  });
  const count = (n) => n.toLocaleString("en-US");

  // Only a window of the rows is in the document at a time: 10,000 laid-out rows make every
  // search and sort crawl, while the rows left out cost nothing. Printing shows them all.
  const PAGE = 500;
  const search = document.getElementById("search");
  const shown = document.getElementById("shown");
  const more = document.getElementById("more");
  let ordered = items;
  let terms = [];
  let view = items;
  let limit = PAGE;
  const render = () => {
    const fragment = document.createDocumentFragment();
    for (const item of view.slice(0, limit)) fragment.appendChild(item.tr);
    tbody.replaceChildren(fragment);
    shown.textContent = terms.length
      ? `${count(view.length)} of ${count(items.length)} flows`
      : `${count(items.length)} flows`;
    more.hidden = view.length <= limit;
    more.textContent = `Show ${count(Math.min(PAGE, view.length - limit))} more · ${count(limit)} of ${count(view.length)} listed`;
  };
  const refilter = () => {
    view = terms.length
      ? ordered.filter((item) => terms.every((term) => item.haystack.includes(term)))
      : ordered;
    limit = PAGE;
    render();
  };
  search.addEventListener("input", () => {
    terms = search.value.toLowerCase().split(/\s+/).filter(Boolean);
    refilter();
  });
  more.addEventListener("click", () => {
    limit += PAGE;
    render();
  });
  window.addEventListener("beforeprint", () => {
    limit = view.length;
    render();
  });
  document.addEventListener("keydown", (event) => {
    if (event.key === "/" && document.activeElement !== search) {
      event.preventDefault();
      search.focus();
    }
  });

  // Sort keys: numbers stay numbers; a missing value (no response, no duration) sorts last.
  const KEYS = {
    time: (f) => f.start,
    method: (f) => f.method,
    status: (f) => f.status || null,
    host: (f) => f.host,
    path: (f) => f.path,
    duration: (f) => f.duration,
    size: (f) => f.size,
    tags: (f) => (f.tags.length ? f.tags.join(" ") : null),
  };
  const collator = new Intl.Collator("en", { numeric: true, sensitivity: "base" });
  const compare = (a, b) => (typeof a === "number" ? a - b : collator.compare(a, b));
  const headers = Array.from(table.tHead.rows[0].cells);
  table.tHead.addEventListener("click", (event) => {
    const th = event.target.closest("th[data-key]");
    if (!th) return;
    const direction = th.getAttribute("aria-sort") === "ascending" ? "descending" : "ascending";
    for (const other of headers) other.setAttribute("aria-sort", "none");
    th.setAttribute("aria-sort", direction);
    const key = KEYS[th.dataset.key];
    const sign = direction === "ascending" ? 1 : -1;
    ordered = items.slice().sort((a, b) => {
      const ka = key(a.flow);
      const kb = key(b.flow);
      if (ka === null || kb === null) return (ka === null) - (kb === null) || a.index - b.index;
      return sign * compare(ka, kb) || a.index - b.index;
    });
    refilter();
  });
  render();

  const dialog = document.getElementById("detail");
  const body = document.getElementById("detail-body");
  const ms = (value) => {
    if (value === null || value === undefined || value < 0) return "—";
    if (value < 10) return `${value.toFixed(1)} ms`;
    return value < 1000 ? `${Math.round(value)} ms` : `${(value / 1000).toFixed(2)} s`;
  };
  const element = (tag, className, content) => {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (content !== null && content !== undefined) node.textContent = String(content);
    return node;
  };
  const list = (title, rows) => {
    const shownRows = rows.filter(([, value]) => value !== null && value !== "");
    if (!shownRows.length) return;
    const dl = element("dl");
    for (const [name, value] of shownRows) dl.append(element("dt", null, name), element("dd", null, value));
    body.append(element("h3", null, title), dl);
  };
  const PHASES = ["dns", "connect", "ssl", "send", "wait", "receive"];
  const describe = (f) => {
    document.getElementById("detail-title").textContent = `${f.method} ${f.url}`;
    body.replaceChildren();
    if (f.error) body.append(element("p", "error", f.error));
    list("Exchange", [
      ["status", f.status ? `${f.status} ${f.reason || ""}`.trim() : "no response"],
      ["started", new Date(f.start).toISOString()],
      ["duration", ms(f.duration)],
      ["request body", `${count(f.requestSize)} B`],
      ["response body", `${count(f.size)} B`],
      ["not recorded", f.omitted],
      ["content type", f.contentType],
      ["http version", f.httpVersion],
      ["source", f.source],
      ["tags", f.tags.join(", ")],
    ]);
    if (f.timings) list("Timings", PHASES.map((phase, i) => [phase, ms(f.timings[i] / 1000)]));
    list("Request headers", f.requestHeaders || []);
    list("Response headers", f.responseHeaders || []);
  };
  const flowOfRow = new Map(items.map((item) => [item.tr, item.flow]));
  tbody.addEventListener("click", (event) => {
    const tr = event.target.closest("tr");
    // A click that ends a text selection is someone copying, not asking for details.
    if (!tr || window.getSelection().toString()) return;
    describe(flowOfRow.get(tr));
    dialog.showModal();
  });
  document.getElementById("detail-close").addEventListener("click", () => dialog.close());
  dialog.addEventListener("click", (event) => {
    if (event.target === dialog) dialog.close();
  });
})();
