/* Product review: the job banners, regenerate, each original beside its outputs, and the push
   history. While a generation or a push is under way the screen polls the product, slower
   while nothing changes. */
import { api } from "../api.js";
import { el, plural, toast } from "../dom.js";
import { poll, route, show, view } from "../router.js";
import { state } from "../state.js";
import { historyCard } from "./product-history.js";
import { regenerateCard } from "./product-regenerate.js";
import { sourceCards } from "./product-tiles.js";

const BUSY_PUSH = new Set(["queued", "uploading", "processing"]);
const BUSY_JOB = new Set(["queued", "dispatched", "running"]);  // "held" waits for days
const underWay = (product) => product.pushes.some((p) => BUSY_PUSH.has(p.status))
  || product.jobs.some((j) => BUSY_JOB.has(j.status));

export async function productView(id) {
  const product = await api(`products/${id}/`);
  const choices = await storeSettings(product.store).catch(() => null);
  const parts = {
    jobs: el("div"), tiles: el("div"), history: el("div"), bulk: el("div", { class: "actions" }),
  };
  let signature = "";
  let delay = 1000;  // polling slows down while nothing changes, up to 10 s

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
    if (ready.length) parts.bulk.append(el("button", {
      type: "button", dataset: { key: "bulk" },
      onclick: () => act(api("images/bulk-approve", {
        method: "POST", body: { images: ready.map((g) => g.id) },
      }), `Approved ${plural(ready.length, "output")}.`),
    }, `Approve all unflagged (${ready.length})`));
    if (focused) {
      const again = view.querySelector(`[data-key="${CSS.escape(focused)}"]`);
      if (again) again.focus();
    }
  }

  async function refresh() {
    const data = await api(`products/${id}/`);
    if (route().path !== `/products/${id}`) return;
    const before = signature;
    paint(data);
    delay = signature === before ? Math.min(10000, delay * 1.5) : 1000;
    if (underWay(data)) poll(() => refresh().catch(() => poll(refresh, 5000)), delay);
  }

  async function act(request, message) {
    try {
      await request;
      if (message) toast(message);
    } catch (error) {
      toast(error.message, true);
    }
    delay = 1000;
    await refresh();
  }

  show(
    el("div", { class: "page-head" },
      el("a", { class: "back", href: "#/", text: "← Review queue" }),
      el("h1", { text: product.title || product.remote_id }),
      el("span", { class: "muted", text: [product.store_name, product.product_type]
        .filter(Boolean).join(" · ") }),
      el("span", { class: "spacer" }), parts.bulk),
    parts.jobs,
    regenerateCard(product, choices, act),
    parts.tiles,
    parts.history,
  );
  paint(product);
  if (underWay(product)) poll(refresh, delay);
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
