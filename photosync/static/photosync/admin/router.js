/* Screens live in the URL's fragment: #/ (queue), #/products/<id>, #/settings. The routes
   (main.js) say which view draws which path; a screen's polling stops when the route
   changes. */
import { el } from "./dom.js";
import { saveBarFor, titleBar } from "./shopify-ui.js";
import { cfg, state } from "./state.js";

export const view = document.getElementById("view");
let routes = [];  // [{ path: RegExp, nav: "queue" | "settings", draw: (match, params) }]

export function route() {
  const hash = location.hash || cfg.initial || "#/";
  const [path, query] = hash.slice(1).split("?");
  return { path, params: new URLSearchParams(query || "") };
}

function screenFor(path) {
  for (const screen of routes) {
    const match = path.match(screen.path);
    if (match) return { screen, match };
  }
  throw new Error(`No screen for ${path}`);
}

export async function render() {
  clearTimeout(state.timer);
  state.unsaved = null;  // the screen drawn next says whether it holds unsaved changes
  state.keys = null;     // ...and which keyboard shortcuts it answers (keys.js)
  titleBar("PhotoSync"); // ...and, inside Shopify, its title bar and save bar
  saveBarFor(null);
  const { path, params } = route();
  const { screen, match } = screenFor(path);
  for (const link of document.querySelectorAll("[data-nav]")) {
    if (link.dataset.nav === screen.nav) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  try {
    await screen.draw(match, params);
  } catch (error) {
    view.replaceChildren(el("div", { class: "card" },
      el("h1", { text: error.status === 404 ? "Not found" : "Something went wrong" }),
      el("p", { class: "error", text: error.message }),
      el("p", {}, el("a", { href: "#/", text: "Back to the review queue" }))));
  }
}

/* The screen's content, in place of the last one. */
export function show(...children) {
  // Parts a screen leaves out (null, undefined, false) are not drawn as text.
  view.replaceChildren(...children.flat(Infinity).filter(
    (c) => c !== null && c !== undefined && c !== false));
}

/* Run `fn` in `ms` unless the screen changes first (one pending poll per screen). */
export function poll(fn, ms) {
  clearTimeout(state.timer);
  state.timer = setTimeout(fn, ms);
}

/* Draw the current route, and again on every change of the fragment. The last route should
   match every path. */
export function startRouter(table) {
  routes = table;
  let shown = location.hash;
  let returning = false;
  window.addEventListener("beforeunload", (event) => {
    if (state.unsaved && state.unsaved()) {
      event.preventDefault();
      event.returnValue = "";  // the browser asks "Leave site?"
    }
  });
  window.addEventListener("hashchange", () => {
    if (returning) { returning = false; return; }
    if (state.unsaved && state.unsaved()
        && !window.confirm("You have unsaved changes in Settings. Leave without saving?")) {
      returning = true;
      location.hash = shown;  // stay: the form keeps what was typed
      return;
    }
    shown = location.hash;
    // A new screen starts at its top (the queue's scroll position would land a phone
    // 600 px down a product page, below its title and original).
    window.scrollTo(0, 0);
    view.focus({ preventScroll: true });
    render().then(() => window.scrollTo(0, 0));
  });
  return render();
}
