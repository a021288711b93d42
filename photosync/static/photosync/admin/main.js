/* PhotoSync admin page: the review queue, product review, push status and history, and the
   store's settings, on the versioned JSON API (/api/v1/). Native ES modules, no build step,
   no dependencies; loaded by templates/photosync/admin.html with <script type="module">.

   Three ways in, one page (data-auth on #app; see api.js): "shopify" (the embedded Shopify
   admin), "embed" (the WooCommerce plugin's iframe) and "session" (operators). */
import { api } from "./api.js";
import { el } from "./dom.js";
import { startKeys } from "./keys.js";
import { render, show, startRouter } from "./router.js";
import { startShopifyUi } from "./shopify-ui.js";
import { state } from "./state.js";
import { productView } from "./views/product.js";
import { queueView } from "./views/queue.js";
import { settingsView } from "./views/settings.js";

const ROUTES = [
  { path: /^\/products\/(\d+)\/?$/, nav: "queue", draw: (match) => productView(Number(match[1])) },
  { path: /^\/settings/, nav: "settings", draw: () => settingsView() },
  { path: /^/, nav: "queue", draw: (match, params) => queueView(params) },
];

async function start() {
  try {
    const root = await api("");
    state.stores = root.stores;
  } catch (error) {
    show(el("div", { class: "card" }, el("h1", { text: "PhotoSync" }),
      el("p", { class: "error", text: error.message })));
    return;
  }
  if (state.stores.length > 1) {
    const picker = document.getElementById("store-picker");
    picker.append(el("option", { value: "", text: "All stores" }),
      state.stores.map((s) => el("option", { value: s.id, text: s.name || s.domain })));
    picker.addEventListener("change", () => {
      if (state.unsaved && state.unsaved()
          && !window.confirm("You have unsaved changes in Settings. Leave without saving?")) {
        picker.value = state.storeId ? String(state.storeId) : "";
        return;
      }
      state.storeId = picker.value ? Number(picker.value) : null;
      render();
    });
    picker.closest("label").hidden = false;
  } else if (state.stores.length === 1) {
    state.storeId = null;  // implicit: the caller's only store
  }
  startKeys();
  startShopifyUi();  // inside the Shopify admin: its title bar, menu and save bar
  await startRouter(ROUTES);
}

if (document.getElementById("app")) start();
