// Building blocks. Every value that came from traffic or a file reaches the page through text
// nodes (Node.append with a string, textContent), never as markup; the CSP forbids inline script.

const TOAST_MS = 8000;

export const $ = (selector) => document.querySelector(selector);

export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  node.append(...children.filter((child) => child !== null && child !== undefined));
  return node;
}

export function button(label, action, className = "") {
  const node = el("button", { type: "button", class: className }, label);
  node.addEventListener("click", action);
  return node;
}

export function section(title, content) {
  return el("section", {}, el("h3", {}, title), content);
}

export function toast(message, kind = "info", action = null) {
  const node = el("div", { class: `toast ${kind}`, role: kind === "error" ? "alert" : "status" });
  node.append(el("span", {}, message));
  if (action) node.append(button(action.label, () => { node.remove(); action.run(); }));
  node.append(button("×", () => node.remove(), "dismiss"));
  $("#toasts").append(node);
  setTimeout(() => node.remove(), TOAST_MS);
}

// The page's own question dialog: resolves to null (cancelled), true, or the typed text.
export function ask(text, defaultValue = null) {
  const dialog = $("#ask");
  $("#ask-text").textContent = text;
  $("#ask-field").hidden = defaultValue === null;
  $("#ask-input").value = defaultValue ?? "";
  $("#ask-input").required = defaultValue !== null;
  dialog.returnValue = "";
  dialog.showModal();
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => {
      if (dialog.returnValue !== "ok") resolve(null);
      else resolve(defaultValue === null ? true : $("#ask-input").value.trim());
    }, { once: true });
  });
}
