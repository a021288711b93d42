/* Building elements, small text helpers, and toasts. */
import { cfg, state } from "./state.js";

/* `el("a", { href, class, text, dataset, onclick }, ...children)`: one element. Props that
   are null, undefined or false are left out; `on<event>` adds a listener. */
export function el(tag, props, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key in node && typeof value !== "string") node[key] = value;
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export const add = (node, ...children) => node.append(...children.flat(Infinity).filter(
  (c) => c !== null && c !== undefined && c !== false));
export const badge = (text, tone, extra) => el("span", { class: `badge ${tone || ""}`, ...extra },
  text);
export const plural = (n, one, many) => `${n} ${n === 1 ? one : many || one + "s"}`;
export const when = (iso) => (iso ? new Date(iso).toLocaleString(undefined,
  { dateStyle: "medium", timeStyle: "short" }) : "");

export function selectField(id, name, label, options, value, help) {
  return el("div", { class: "field" },
    el("label", { for: id, text: label }),
    el("select", { id, name, dataset: { field: name } },
      options.map((o) => el("option", { value: o, selected: o === value, text: o }))),
    help ? el("div", { class: "help", text: help }) : null);
}

/* What the configured scene generator does with a custom prompt (choices.custom_prompt from
   the settings API), under a prompt field whose aria-describedby is `id`. */
export function promptHelp(id, guidance) {
  if (!guidance) return null;
  return el("div", { class: "help prompt-help", id, dataset: { role: "prompt-help" } },
    el("p", { text: guidance.summary }),
    el("ul", { class: "keywords", "aria-label": "Words the scene generator understands" },
      (guidance.keywords || []).map((k) => el("li", {}, el("strong", { text: `${k.title}: ` }),
        k.words.join(", ")))));
}

let toastTimer = null;
export const UNDO_MS = 10000;

/* A message at the bottom of the page (and, in the Shopify admin, App Bridge's own toast).
   With `undo` (an async function) it offers an Undo button for UNDO_MS; `u` on the
   keyboard does the same (views/keys.js), through `state.undo`. */
export function toast(message, bad, undo) {
  if (cfg.auth === "shopify" && window.shopify && window.shopify.toast) {
    window.shopify.toast.show(message, { isError: !!bad, duration: undo ? UNDO_MS : 5000,
      ...(undo ? { action: "Undo", onAction: () => runUndo() } : {}) });
  }
  const node = document.getElementById("toast");
  clearTimeout(toastTimer);
  let done = false;
  const runUndo = async () => {
    if (done) return;
    done = true;
    state.undo = null;
    node.className = "toast";
    await undo();
  };
  state.undo = undo ? runUndo : null;
  node.replaceChildren(el("span", { text: message }));
  if (undo) {
    node.append(el("button", {
      type: "button", class: "undo", dataset: { role: "undo" }, onclick: runUndo,
    }, "Undo"));
  }
  node.className = `toast show${bad ? " bad" : ""}${undo ? " actionable" : ""}`;
  toastTimer = setTimeout(() => {
    node.className = "toast";
    if (state.undo === runUndo) state.undo = null;
  }, undo ? UNDO_MS : 4000);
}
