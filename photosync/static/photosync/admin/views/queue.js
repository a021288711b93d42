/* The review queue: products by status with counts, search, and bulk approve across the
   products selected. It follows new outputs, generations and pushes live: every
   LIVE_MS it asks again with the last ETag (a 304 while nothing changed). */
import { api, watch, withStore } from "../api.js";
import { badge, el, plural, toast } from "../dom.js";
import { move, nextProduct } from "../keys.js";
import { poll, render, show } from "../router.js";
import { titleBar } from "../shopify-ui.js";
import { cfg, state } from "../state.js";

const FILTERS = [
  ["waiting", "Waiting"], ["flagged", "Flagged"], ["approved", "Approved"],
  ["pushed", "Pushed"], ["failed", "Failed"], ["all", "All"], ["deleted", "Deleted"],
];

export const LIVE_MS = 2500;  // the queue and product pages follow changes within 5 s

export async function queueView(params) {
  const status = FILTERS.some(([key]) => key === params.get("status"))
    ? params.get("status") : "waiting";
  const search = params.get("q") || "";
  const load = watch(`products/?${withStore({ status, ...(search ? { q: search } : {}) })}`);
  // The whole fragment, filter and search included: a poll of the filter left behind must
  // not draw over (and keep polling instead of) the one now shown.
  const here = location.hash || "#/";
  const away = () => (location.hash || "#/") !== here;
  const draw = (first) => drawQueue(first, status, search, () => {
    if (away()) return;
    poll(async function tick() {
      const busy = draw.busy() || document.hidden;
      const fresh = busy ? null : await load().catch(() => null);
      if (away()) return;
      if (fresh) {
        const focused = document.activeElement && document.activeElement.dataset.key;
        draw(fresh);
        const again = focused && document.querySelector(`[data-key="${CSS.escape(focused)}"]`);
        if (again) again.focus({ preventScroll: true });
      } else poll(tick, LIVE_MS);
    }, LIVE_MS);
  }, draw);
  draw(await load());
}

function drawQueue(first, status, search, live, draw) {
  const selected = new Set();
  let pages = 1;
  // Not while the merchant is selecting, typing a search or has loaded more pages.
  draw.busy = () => selected.size > 0 || pages > 1 || document.activeElement === searchBox;
  const rows = el("ul", { class: "rows", "aria-label": "Products" });
  const more = el("div", { class: "more" });
  const approveSelected = el("button", {
    class: "primary", type: "button", disabled: true, onclick: () => bulkApprove(),
  }, "Approve unflagged outputs");
  const selectAll = el("input", {
    type: "checkbox", "aria-label": "Select every product shown",
    onchange: (event) => {
      for (const box of rows.querySelectorAll("input[type=checkbox]")) {
        box.checked = event.target.checked;
        box.dispatchEvent(new Event("change"));
      }
    },
  });

  function refreshBulk() {
    approveSelected.disabled = selected.size === 0;
    approveSelected.textContent = selected.size
      ? `Approve unflagged outputs of ${plural(selected.size, "product")}`
      : "Approve unflagged outputs";
  }

  async function bulkApprove(products = [...selected]) {
    approveSelected.disabled = true;
    try {
      const result = await api("images/bulk-approve", {
        method: "POST", body: { products },
      });
      const flagged = result.skipped.filter((s) => s.reason === "flagged").length;
      toast(`Approved ${plural(result.approved.length, "output")}`
        + (flagged ? `; ${flagged} flagged left for review` : "") + ".");
      await render();
    } catch (error) {
      toast(error.message, true);
      refreshBulk();
    }
  }

  function addRows(page) {
    for (const p of page.results) rows.append(queueRow(p, selected, refreshBulk));
    more.replaceChildren();
    if (page.next) {
      more.append(el("button", {
        type: "button",
        onclick: async () => {
          const next = new URL(page.next, location.href);
          pages += 1;
          addRows(await api(next.pathname.slice(cfg.api.length) + next.search));
        },
      }, "Load more"));
    }
  }

  const counts = first.counts || {};
  const tabs = el("div", { class: "filters", role: "group", "aria-label": "Filter products" },
    FILTERS.map(([key, label]) => el("button", {
      type: "button", "aria-pressed": String(key === status), dataset: { filter: key, key: `filter-${key}` },
      onclick: () => { location.hash = `#/?status=${key}`; },
    }, label, " ", el("span", { class: "count", text: counts[key] ?? 0 }))));
  const searchBox = el("input", {
    type: "search", placeholder: "Search products", "aria-label": "Search products",
    value: search,
    onkeydown: (event) => {
      if (event.key === "Enter") {
        const q = event.target.value.trim();
        location.hash = `#/?status=${status}${q ? `&q=${encodeURIComponent(q)}` : ""}`;
      }
    },
  });
  addRows(first);
  const generating = first.generating || 0;
  const list = first.results.length ? [rows, more] : el("div", { class: "empty-state" },
    el("p", { text: status !== "waiting" ? "No products here."
      : generating ? `Making images for ${plural(generating, "product")}: they appear here `
        + "as they are made, no need to reload."
        : "Nothing is waiting for review. New images appear here as soon as they are made." }));
  show(
    el("div", { class: "page-head" }, el("h1", { text: "Review queue" }),
      el("span", { class: "muted", text: plural(counts.waiting ?? 0, "product") + " waiting" }),
      generating ? badge(`Generating ${plural(generating, "product")}`, "info busy",
        { dataset: { role: "generating" } }) : null),
    delayBanner(first.delay),
    el("div", { class: "card flush" }, tabs,
      el("div", { class: "toolbar" }, el("label", { class: "choice" }, selectAll,
        el("span", { text: "Select all" })), searchBox, approveSelected),
      list),
  );
  // Inside Shopify: the title bar's primary action approves the unflagged outputs of the
  // products selected, or of every product shown when none is (after a confirmation).
  const unflagged = first.results.filter((p) => p.waiting > p.flagged).map((p) => p.id);
  titleBar("Review queue", { primary: unflagged.length ? {
    label: "Approve all unflagged",
    onclick: () => {
      const ids = selected.size ? [...selected] : unflagged;
      if (window.confirm(`Approve the unflagged outputs of ${plural(ids.length, "product")}? `
                         + "They are pushed to your store.")) bulkApprove(ids);
    },
  } : null });
  state.queueIds = status === "waiting" ? first.results.map((p) => p.id) : null;
  const links = () => [...rows.querySelectorAll("a.title")];
  state.keys = { j: () => move(links(), 1), k: () => move(links(), -1),
                 n: () => nextProduct(null) };
  live();
}

/* "New products take about N minutes right now": only when the service's estimate
   (services.delay) is above PHOTOSYNC_DELAY_BANNER_AFTER; the API sends the words. */
function delayBanner(delay) {
  if (!delay || !delay.show || !delay.text) return null;
  return el("div", { class: "banner warn", role: "status", dataset: { role: "delay" } },
    el("strong", { text: delay.text }),
    " Their images appear here when they are made; nothing needs doing.");
}

function queueRow(p, selected, changed) {
  const box = el("input", {
    type: "checkbox", "aria-label": `Select ${p.title || p.remote_id}`,
    onchange: (event) => {
      if (event.target.checked) selected.add(p.id); else selected.delete(p.id);
      changed();
    },
  });
  const failed = p.failed_sources + p.failed_pushes + p.failed_jobs;
  const thumb = p.thumb
    ? el("img", { class: "thumb", src: p.thumb, width: 56, height: 56, loading: "lazy",
                  alt: `Newest image made for ${p.title || p.remote_id}` })
    : el("div", { class: "thumb empty", role: "img", "aria-label": "No image yet" });
  return el("li", { class: "row", dataset: { productId: p.id } }, box, thumb,
    el("div", {},
      el("a", { class: "title", href: `#/products/${p.id}`, text: p.title || p.remote_id,
                dataset: { key: `open-${p.id}` } }),
      el("div", { class: "sub", text: [state.stores.length > 1 ? p.store_name : "",
        p.product_type].filter(Boolean).join(" · ") })),
    el("div", { class: "badges" },
      p.deleted_at ? badge("Deleted on the store", "bad") : null,
      p.waiting ? badge(`${p.waiting} waiting`, "warn") : null,
      p.flagged ? badge(`${p.flagged} flagged`, "bad") : null,
      p.approved ? badge(`${p.approved} approved`, "info") : null,
      p.pushing ? badge(`${p.pushing} pushing`, "info busy") : null,
      p.pushed ? badge(`${p.pushed} pushed`, "ok") : null,
      failed ? badge(`${failed} failed`, "bad") : null));
}
