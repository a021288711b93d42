/* Inside the Shopify admin (App Bridge loaded: window.shopify), the admin's own chrome: App
   Bridge's web components draw the title bar with the screen's title and primary action
   (<ui-title-bar>), the navigation menu for Review / Settings (<ui-nav-menu>, in place of
   the page's own tabs) and the save bar for unsaved settings (<ui-save-bar>). Outside
   Shopify every function here does nothing and the page keeps its own tabs and buttons. */
import { el } from "./dom.js";
import { cfg } from "./state.js";

const SAVE_BAR = "photosync-save-bar";
let titleBarNode = null;
let saveBarNode = null;
let saveBarHandlers = null;

export const inShopify = () => cfg.auth === "shopify" && !!window.shopify;

/* Once, at start: the navigation menu replaces the page's tabs. Its links are the page's
   own fragment routes: App Bridge follows a menu item by clicking its link here. */
export function startShopifyUi() {
  if (!inShopify()) return;
  const tabs = document.querySelector("nav.tabs");
  if (tabs) tabs.hidden = true;
  document.body.append(
    el("ui-nav-menu", {},
      el("a", { href: "#/", rel: "home", text: "PhotoSync" }),
      el("a", { href: "#/", text: "Review" }),
      el("a", { href: "#/settings", text: "Settings" })),
    titleBarNode = el("ui-title-bar", { title: "PhotoSync" }),
    saveBarNode = el("ui-save-bar", { id: SAVE_BAR },
      el("button", { variant: "primary", type: "button",
                     onclick: () => saveBarHandlers && saveBarHandlers.save() }, "Save"),
      el("button", { type: "button",
                     onclick: () => saveBarHandlers && saveBarHandlers.discard() }, "Discard")));
}

/* The title bar: the screen's `title`, its `primary` action ({ label, onclick }) and a
   breadcrumb back ({ label, href }); what is not given is not drawn. */
export function titleBar(title, { primary = null, back = null } = {}) {
  if (!titleBarNode) return;
  titleBarNode.setAttribute("title", title);
  titleBarNode.replaceChildren();
  if (back) titleBarNode.append(el("a", { variant: "breadcrumb", href: back.href,
                                          text: back.label }));
  if (primary) {
    titleBarNode.append(el("button", { variant: "primary", type: "button",
                                       onclick: primary.onclick }, primary.label));
  }
}

/* The save bar of the screen drawn now: `handlers` { save, discard } (null: none). */
export function saveBarFor(handlers) {
  saveBarHandlers = handlers;
  saveBarShow(false);
}

export function saveBarShow(visible) {
  if (!saveBarNode) return;
  const bar = window.shopify.saveBar;
  if (visible) (bar ? bar.show(SAVE_BAR) : saveBarNode.show());
  else if (saveBarNode.showing !== false) (bar ? bar.hide(SAVE_BAR) : saveBarNode.hide());
}
