/* Keyboard review: `j`/`k` move between the outputs (or the queue's rows), `a` approves and
   `r` rejects the current output, `n` opens the next product waiting, `u` undoes the last
   decision while its toast shows, `?` lists the shortcuts. Nothing fires while typing in a
   field or with a modifier held; each screen says which keys it answers (state.keys). */
import { api, withStore } from "./api.js";
import { el, toast } from "./dom.js";
import { state } from "./state.js";

const SHORTCUTS = [
  ["j", "Next output (on the queue: next product)"],
  ["k", "Previous output (on the queue: previous product)"],
  ["a", "Approve the current output"],
  ["r", "Reject the current output"],
  ["o", "Open the current output large, beside its original"],
  ["u", "Undo the last approve or reject (while its message shows)"],
  ["n", "Next product waiting for review"],
  ["?", "Show these shortcuts"],
];

const typing = (target) => target instanceof HTMLElement && (target.isContentEditable
  || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName));

export function startKeys() {
  document.addEventListener("keydown", (event) => {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
    if (typing(event.target) || document.querySelector("dialog[open]")) return;
    const key = event.key;
    const screen = state.keys || {};
    const action = key === "?" ? showShortcuts : key === "u" ? state.undo : screen[key];
    if (!action) return;
    event.preventDefault();
    action();
  });
}

/* Move the current item among `items` (elements), by `step`; it takes the focus. */
export function move(items, step) {
  if (!items.length) return null;
  const at = items.findIndex((item) => item.contains(document.activeElement));
  const next = items[at < 0 ? (step > 0 ? 0 : items.length - 1)
    : Math.max(0, Math.min(items.length - 1, at + step))];
  next.focus();
  next.scrollIntoView({ block: "nearest" });
  return next;
}

/* The output tile holding the focus (the one `a` and `r` act on). */
export const currentTile = () => document.activeElement
  && document.activeElement.closest && document.activeElement.closest("article.tile");

/* Press the current tile's button named `name` ("Approve", "Reject"). */
export function press(name) {
  const tile = currentTile();
  if (!tile) {
    toast("Pick an output first: j and k move between them.");
    return;
  }
  const button = [...tile.querySelectorAll("button")].find(
    (b) => b.textContent.trim() === name && !b.disabled);
  if (button) button.click();
  else toast(`This output cannot be ${name === "Approve" ? "approved" : "rejected"} now.`);
}

/* Open the next product waiting for review after `currentId` (in the queue's order). */
export async function nextProduct(currentId) {
  let ids = state.queueIds || [];
  if (!ids.includes(currentId)) {
    const page = await api(`products/?${withStore({ status: "waiting" })}`);
    ids = page.results.map((p) => p.id);
  }
  const after = ids.slice(ids.indexOf(currentId) + 1).concat(ids)
    .find((id) => id !== currentId);
  if (after) location.hash = `#/products/${after}`;
  else toast("No other product is waiting for review.");
}

export function showShortcuts() {
  let dialog = document.getElementById("shortcuts");
  if (!dialog) {
    dialog = el("dialog", { id: "shortcuts", class: "shortcuts",
      "aria-labelledby": "shortcuts-title" },
    el("h2", { id: "shortcuts-title", text: "Keyboard shortcuts" }),
    el("dl", {}, SHORTCUTS.map(([key, text]) => [el("dt", {}, el("kbd", { text: key })),
      el("dd", { text })])),
    el("p", { class: "muted", text: "They do nothing while you type in a field." }),
    el("form", { method: "dialog" }, el("button", { class: "primary", type: "submit" },
      "Close")));
    document.body.append(dialog);
  }
  dialog.showModal();
}
