/* Product review: the job banners, regenerate, each original beside its outputs, and the push
   history. The screen follows the product live: it asks again every LIVE_MS with the last
   ETag (a 304 while nothing changed), every BUSY_MS while a generation or push is under
   way, and less often in a hidden tab. */
import { api, watch } from "../api.js";
import { el, plural, toast } from "../dom.js";
import { poll, route, show, view } from "../router.js";
import { titleBar } from "../shopify-ui.js";
import { state } from "../state.js";
import { currentTile, move, nextProduct, press, showShortcuts } from "../keys.js";
import { historyCard } from "./product-history.js";
import { regenerateCard } from "./product-regenerate.js";
import { sourceCards } from "./product-tiles.js";

const BUSY_PUSH = new Set(["queued", "uploading", "processing"]);
const BUSY_JOB = new Set(["queued", "dispatched", "running"]);  // "held" waits for days
const underWay = (product) => product.pushes.some((p) => BUSY_PUSH.has(p.status))
  || product.jobs.some((j) => BUSY_JOB.has(j.status));

const BUSY_MS = 1000;
const LIVE_MS = 2500;
const HIDDEN_MS = 15000;

export async function productView(id) {
  const load = watch(`products/${id}/`);
  const product = await load();
  const choices = await storeSettings(product.store).catch(() => null);
  const parts = {
    jobs: el("div"), tiles: el("div"), history: el("div"), bulk: el("div", { class: "actions" }),
  };
  let signature = "";
  let latest = product;

  function paint(data) {
    const next = JSON.stringify([data.generated, data.jobs, data.pushes]);
    if (next === signature) return;
    signature = next;
    const focused = document.activeElement && document.activeElement.dataset.key;
    parts.jobs.replaceChildren(...jobBanners(data));
    parts.tiles.replaceChildren(...sourceCards(data, act));
    parts.history.replaceChildren(historyCard(data, act));
    const ready = data.generated.filter((g) => g.status === "ready" && !g.flags.length);
    parts.bulk.replaceChildren();  // never replaceChildren(null): that draws "null"
    const approveReady = () => act(api("images/bulk-approve", {
      method: "POST", body: { images: ready.map((g) => g.id) },
    }), `Approved ${plural(ready.length, "output")}.`);
    const label = `Approve all unflagged (${ready.length})`;
    if (ready.length) parts.bulk.append(el("button", {
      type: "button", dataset: { key: "bulk" }, onclick: approveReady }, label));
    titleBar(data.title || data.remote_id, { back: { label: "Review queue", href: "#/" },
      primary: ready.length ? { label, onclick: approveReady } : null });
    if (focused) {
      const again = view.querySelector(`[data-key="${CSS.escape(focused)}"]`);
      if (again) again.focus();
    }
  }

  const next = () => {
    const ms = document.hidden ? HIDDEN_MS : underWay(latest) ? BUSY_MS : LIVE_MS;
    poll(() => refresh().catch(() => poll(refresh, 5000)), ms);
  };

  async function refresh() {
    const data = await load();
    if (route().path !== `/products/${id}`) return;
    if (data) {
      latest = data;
      paint(data);
    }
    next();
  }

  /* `undo`: how to take the decision back (an Undo in the toast for ~10 s). */
  async function act(request, message, undo) {
    try {
      await request;
      if (message) toast(message, false, undo);
    } catch (error) {
      toast(error.message, true);
    }
    await refresh();
  }

  const tiles = () => [...view.querySelectorAll("article.tile")];
  state.keys = {
    j: () => move(tiles(), 1), k: () => move(tiles(), -1),
    a: () => press("Approve"), r: () => press("Reject"), n: () => nextProduct(id),
    o: () => { const link = currentTile() && currentTile().querySelector("[data-role=compare]");
               if (link) link.click(); },
  };
  show(
    el("div", { class: "page-head" },
      el("a", { class: "back", href: "#/", text: "← Review queue" }),
      el("h1", { text: product.title || product.remote_id }),
      el("span", { class: "muted", text: [product.store_name, product.product_type]
        .filter(Boolean).join(" · ") }),
      el("span", { class: "spacer" }),
      el("button", { type: "button", class: "plain", onclick: showShortcuts,
                     "aria-keyshortcuts": "?" }, "Keyboard shortcuts"),
      el("button", { type: "button", onclick: () => nextProduct(id),
                     "aria-keyshortcuts": "n" }, "Next product"),
      parts.bulk),
    parts.jobs,
    regenerateCard(product, choices, act),
    parts.tiles,
    parts.history,
  );
  paint(product);
  next();
}

async function storeSettings(storeId) {
  if (!state.settingsCache[storeId]) {
    state.settingsCache[storeId] = await api(`settings/?store=${storeId}`);
  }
  return state.settingsCache[storeId];
}

function jobBanners(product) {
  const banners = [];
  const latest = product.jobs[0];
  if (latest && (BUSY_JOB.has(latest.status) || latest.status === "held")) {
    const text = latest.status === "held"
      ? `Generation is on hold (${latest.hold_reason || "waiting"}).`
      : `Generating new images (${latest.status})… they appear here when ready.`;
    banners.push(el("div", { class: "banner info", role: "status" }, text));
  }
  for (const job of product.jobs.slice(0, 3)) {
    if (job.error) {
      banners.push(el("div", { class: "banner bad" },
        el("strong", { text: `Generation ${job.status}: ` }), job.error));
    }
  }
  return banners;
}
