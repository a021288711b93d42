/* PhotoSync admin page: the review queue, product review, push status and history, and the
   store's settings, on the versioned JSON API (/api/v1/). No build step, no dependencies.

   Three ways in, one page (data-auth on #app):
   - "shopify": inside the Shopify admin. No cookies: every request carries
     `Authorization: Bearer <App Bridge ID token>`; a 401 with
     X-Shopify-Retry-Invalid-Session-Request is retried once with a fresh token.
   - "embed": inside the WooCommerce plugin's iframe, where the browser sends no cookie of
     ours: every request carries `Authorization: PhotoSync <page token>` from the page.
   - "session": operators (Django login); the CSRF token goes with every change.
   Screens live in the URL's fragment: #/ (queue), #/products/<id>, #/settings. */
(() => {
  "use strict";

  const app = document.getElementById("app");
  if (!app) return;
  const view = document.getElementById("view");
  const cfg = {
    auth: app.dataset.auth || "session",
    api: app.dataset.api || "/api/v1/",
    csrf: app.dataset.csrf || "",
    token: app.dataset.token || "",  // "embed": the WooCommerce iframe's page token
    initial: app.dataset.initial || "",
  };
  const state = {
    stores: [],
    storeId: null,       // the store picked (operators with several stores)
    drafts: {},          // image id -> {alt, featured} typed but not sent yet
    originals: {},       // source id -> signed link (links are signed per request)
    timer: null,
    settingsCache: {},   // store id -> settings answer (choices for regenerate)
  };

  // --- small DOM helper ------------------------------------------------------------------
  function h(tag, props, ...children) {
    const el = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") el.className = value;
      else if (key === "text") el.textContent = value;
      else if (key === "dataset") Object.assign(el.dataset, value);
      else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
      else if (key in el && typeof value !== "string") el[key] = value;
      else el.setAttribute(key, value === true ? "" : value);
    }
    for (const child of children.flat(Infinity)) {
      if (child === null || child === undefined || child === false) continue;
      el.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return el;
  }
  const add = (el, ...children) => el.append(...children.flat(Infinity).filter(
    (c) => c !== null && c !== undefined && c !== false));
  const badge = (text, tone, extra) => h("span", { class: `badge ${tone || ""}`, ...extra }, text);
  const plural = (n, one, many) => `${n} ${n === 1 ? one : many || one + "s"}`;
  const when = (iso) => (iso ? new Date(iso).toLocaleString(undefined,
    { dateStyle: "medium", timeStyle: "short" }) : "");

  function toast(message, bad) {
    if (cfg.auth === "shopify" && window.shopify && window.shopify.toast) {
      window.shopify.toast.show(message, { isError: !!bad });
    }
    const el = document.getElementById("toast");
    el.textContent = message;
    el.className = `toast show${bad ? " bad" : ""}`;
    clearTimeout(toast.timer);
    toast.timer = setTimeout(() => { el.className = "toast"; }, 4000);
  }

  // --- the API ---------------------------------------------------------------------------
  class ApiError extends Error {
    constructor(status, body) {
      super(ApiError.text(status, body));
      this.status = status;
      this.body = body || {};
    }
    static text(status, body) {
      if (body && typeof body.detail === "string") return body.detail;
      if (body && typeof body === "object") {
        const first = Object.entries(body)[0];
        if (first) return `${first[0]}: ${[].concat(first[1]).join(" ")}`;
      }
      return status === 404 ? "Not found." : `The server answered ${status}.`;
    }
  }

  async function authHeaders() {
    if (cfg.auth === "embed") return { Authorization: `PhotoSync ${cfg.token}` };
    if (cfg.auth !== "shopify") return {};
    if (!window.shopify || !window.shopify.idToken) {
      throw new ApiError(401, { detail: "Open PhotoSync from your Shopify admin." });
    }
    return { Authorization: `Bearer ${await window.shopify.idToken()}` };
  }

  async function api(path, { method = "GET", body } = {}, retried = false) {
    const url = /^https?:/.test(path) ? path : cfg.api + path;
    const headers = { Accept: "application/json", ...(await authHeaders()) };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const cookieless = cfg.auth === "shopify" || cfg.auth === "embed";
    if (!cookieless && method !== "GET") headers["X-CSRFToken"] = cfg.csrf;
    const response = await fetch(url, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body),
      credentials: cookieless ? "omit" : "same-origin",
    });
    if (response.status === 401 && !retried
        && response.headers.get("X-Shopify-Retry-Invalid-Session-Request") === "1") {
      return api(path, { method, body }, true);  // a stale ID token: once more, fresh
    }
    const data = await response.json().catch(() => null);
    if (!response.ok) throw new ApiError(response.status, data);
    return data;
  }

  const withStore = (params) => {
    const query = new URLSearchParams(params || {});
    if (state.storeId) query.set("store", state.storeId);
    return query.toString();
  };

  // --- routing ---------------------------------------------------------------------------
  function route() {
    const hash = location.hash || cfg.initial || "#/";
    const [path, query] = hash.slice(1).split("?");
    return { path, params: new URLSearchParams(query || "") };
  }

  async function render() {
    clearTimeout(state.timer);
    const { path, params } = route();
    const product = path.match(/^\/products\/(\d+)\/?$/);
    for (const link of document.querySelectorAll("[data-nav]")) {
      const on = link.dataset.nav === (path.startsWith("/settings") ? "settings" : "queue");
      if (on) link.setAttribute("aria-current", "page");
      else link.removeAttribute("aria-current");
    }
    try {
      if (product) await productView(Number(product[1]));
      else if (path.startsWith("/settings")) await settingsView();
      else await queueView(params);
    } catch (error) {
      view.replaceChildren(h("div", { class: "card" },
        h("h1", { text: error.status === 404 ? "Not found" : "Something went wrong" }),
        h("p", { class: "error", text: error.message }),
        h("p", {}, h("a", { href: "#/", text: "Back to the review queue" }))));
    }
  }

  function show(...children) {
    view.replaceChildren(...children);
  }

  function poll(fn, ms) {
    clearTimeout(state.timer);
    state.timer = setTimeout(fn, ms);
  }

  // --- the review queue ------------------------------------------------------------------
  const FILTERS = [
    ["waiting", "Waiting"], ["flagged", "Flagged"], ["approved", "Approved"],
    ["pushed", "Pushed"], ["failed", "Failed"], ["all", "All"],
  ];

  async function queueView(params) {
    const status = FILTERS.some(([key]) => key === params.get("status"))
      ? params.get("status") : "waiting";
    const search = params.get("q") || "";
    const first = await api(`products/?${withStore({ status, ...(search ? { q: search } : {}) })}`);
    const selected = new Set();
    const rows = h("ul", { class: "rows", "aria-label": "Products" });
    const more = h("div", { class: "more" });
    const approveSelected = h("button", {
      class: "primary", type: "button", disabled: true, onclick: () => bulkApprove(),
    }, "Approve unflagged outputs");
    const selectAll = h("input", {
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

    async function bulkApprove() {
      approveSelected.disabled = true;
      try {
        const result = await api("images/bulk-approve", {
          method: "POST", body: { products: [...selected] },
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
        more.append(h("button", {
          type: "button",
          onclick: async () => {
            const next = new URL(page.next, location.href);
            addRows(await api(next.pathname.slice(cfg.api.length) + next.search));
          },
        }, "Load more"));
      }
    }

    const counts = first.counts || {};
    const tabs = h("div", { class: "filters", role: "group", "aria-label": "Filter products" },
      FILTERS.map(([key, label]) => h("button", {
        type: "button", "aria-pressed": String(key === status), dataset: { filter: key },
        onclick: () => { location.hash = `#/?status=${key}`; },
      }, label, " ", h("span", { class: "count", text: counts[key] ?? 0 }))));
    const searchBox = h("input", {
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
    const list = first.results.length ? [rows, more] : h("div", { class: "empty-state" },
      h("p", { text: status === "waiting"
        ? "Nothing is waiting for review. New images appear here as soon as they are made."
        : "No products here." }));
    show(
      h("div", { class: "page-head" }, h("h1", { text: "Review queue" }),
        h("span", { class: "muted", text: plural(counts.waiting ?? 0, "product") + " waiting" })),
      h("div", { class: "card flush" }, tabs,
        h("div", { class: "toolbar" }, h("label", { class: "choice" }, selectAll,
          h("span", { text: "Select all" })), searchBox, approveSelected),
        list),
    );
    // Pushes in flight: refresh the counts, unless the merchant is busy selecting or typing.
    const tick = () => (selected.size || document.activeElement === searchBox
      ? poll(tick, 3000) : render());
    if (first.results.some((p) => p.pushing > 0)) poll(tick, 3000);
  }

  function queueRow(p, selected, changed) {
    const box = h("input", {
      type: "checkbox", "aria-label": `Select ${p.title || p.remote_id}`,
      onchange: (event) => {
        if (event.target.checked) selected.add(p.id); else selected.delete(p.id);
        changed();
      },
    });
    const failed = p.failed_sources + p.failed_pushes + p.failed_jobs;
    const thumb = p.thumb
      ? h("img", { class: "thumb", src: p.thumb, width: 56, height: 56, loading: "lazy",
                   alt: `Newest image made for ${p.title || p.remote_id}` })
      : h("div", { class: "thumb empty", role: "img", "aria-label": "No image yet" });
    return h("li", { class: "row", dataset: { productId: p.id } }, box, thumb,
      h("div", {},
        h("a", { class: "title", href: `#/products/${p.id}`, text: p.title || p.remote_id }),
        h("div", { class: "sub", text: [state.stores.length > 1 ? p.store_name : "",
          p.product_type].filter(Boolean).join(" · ") })),
      h("div", { class: "badges" },
        p.waiting ? badge(`${p.waiting} waiting`, "warn") : null,
        p.flagged ? badge(`${p.flagged} flagged`, "bad") : null,
        p.approved ? badge(`${p.approved} approved`, "info") : null,
        p.pushing ? badge(`${p.pushing} pushing`, "info busy") : null,
        p.pushed ? badge(`${p.pushed} pushed`, "ok") : null,
        failed ? badge(`${failed} failed`, "bad") : null));
  }

  // --- product review --------------------------------------------------------------------
  const IMAGE_STATUS = {
    ready: ["Waiting", "warn"], approved: ["Approved", "info"], pushed: ["Pushed", "ok"],
    rejected: ["Rejected", ""], failed: ["Failed", "bad"],
  };
  const PUSH_STATUS = {
    queued: ["Queued", "info busy"], uploading: ["Uploading", "info busy"],
    processing: ["Processing on the store", "info busy"], live: ["Live on the store", "ok"],
    failed: ["Push failed", "bad"], rolled_back: ["Rolled back", ""],
  };
  const BUSY_PUSH = new Set(["queued", "uploading", "processing"]);
  const BUSY_JOB = new Set(["queued", "dispatched", "running"]);  // "held" waits for days
  const METRICS = {
    product_max_abs_diff: ["Product pixels changed, max", (v) => `${v} / 255`],
    product_mean_abs_diff: ["Product pixels changed, mean", (v) => Number(v).toFixed(3)],
    delta_e_mean: ["Colour drift ΔE, mean", (v) => Number(v).toFixed(1)],
    delta_e_p95: ["Colour drift ΔE, 95th percentile", (v) => Number(v).toFixed(1)],
    background_purity: ["Pure white background", (v) => `${(v * 100).toFixed(1)}%`],
    background_purity_outside_shadow: ["Pure white outside the shadow",
      (v) => `${(v * 100).toFixed(1)}%`],
    fill_ratio: ["Product fills the frame", (v) => `${(v * 100).toFixed(0)}%`],
    product_scale: ["Enlarged", (v) => `${Number(v).toFixed(1)}×`],
    mask_area_fraction: ["Cutout area", (v) => `${(v * 100).toFixed(1)}%`],
    mask_components: ["Cutout parts", (v) => String(v)],
    mask_border_contact: ["Cutout touching the photo's edge", (v) => `${(v * 100).toFixed(1)}%`],
  };

  async function productView(id) {
    const product = await api(`products/${id}/`);
    const choices = await storeSettings(product.store).catch(() => null);
    const parts = {
      jobs: h("div"), tiles: h("div"), history: h("div"), bulk: h("div", { class: "actions" }),
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
      parts.bulk.replaceChildren(ready.length ? h("button", {
        type: "button", dataset: { key: "bulk" },
        onclick: () => act(api("images/bulk-approve", {
          method: "POST", body: { images: ready.map((g) => g.id) },
        }), `Approved ${plural(ready.length, "output")}.`),
      }, `Approve all unflagged (${ready.length})`) : null);
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
      const busy = data.pushes.some((p) => BUSY_PUSH.has(p.status))
        || data.jobs.some((j) => BUSY_JOB.has(j.status));
      if (busy) poll(() => refresh().catch(() => poll(refresh, 5000)), delay);
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
      h("div", { class: "page-head" },
        h("a", { class: "back", href: "#/", text: "← Review queue" }),
        h("h1", { text: product.title || product.remote_id }),
        h("span", { class: "muted", text: [product.store_name, product.product_type]
          .filter(Boolean).join(" · ") }),
        h("span", { class: "spacer" }), parts.bulk),
      parts.jobs,
      regenerateCard(product, choices, act),
      parts.tiles,
      parts.history,
    );
    paint(product);
    const busy = product.pushes.some((p) => BUSY_PUSH.has(p.status))
      || product.jobs.some((j) => BUSY_JOB.has(j.status));
    if (busy) poll(refresh, delay);
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
      banners.push(h("div", { class: "banner info", role: "status" }, text));
    }
    for (const job of product.jobs.slice(0, 3)) {
      if (job.error) {
        banners.push(h("div", { class: "banner bad" },
          h("strong", { text: `Generation ${job.status}: ` }), job.error));
      }
    }
    return banners;
  }

  function sourceCards(product, act) {
    const pushes = {};
    for (const push of product.pushes) if (!pushes[push.image]) pushes[push.image] = push;
    const featured = product.generated.find((g) => g.featured && g.status !== "rejected");
    return product.sources.map((source, index) => {
      if (source.original && !state.originals[source.id]) {
        state.originals[source.id] = [source.original, source.original_full];
      }
      const [original, originalFull] = state.originals[source.id] || [];
      const outputs = product.generated.filter((g) => g.source === source.id);
      const name = source.alt || source.remote_id.split("/").pop();
      return h("section", { class: "card", "aria-label": `Photo ${index + 1}` },
        h("div", { class: "card-head" },
          h("h2", { text: `Photo ${index + 1}: ${name}` }),
          source.status === "failed" ? badge("Could not be processed", "bad") : null,
          h("span", { class: "muted", text: plural(outputs.length, "output") })),
        source.error ? h("p", { class: "error", text: source.error }) : null,
        h("div", { class: "tiles" },
          h("figure", { class: "tile original", style: "margin:0" },
            h("div", { class: "frame" }, original
              ? h("a", { href: originalFull, target: "_blank", rel: "noopener" },
                h("img", { src: original, loading: "lazy",
                           alt: `Your original photo: ${name}` }))
              : h("div", { class: "muted", style: "padding:16px", text: "Not available" })),
            h("figcaption", {}, h("strong", { text: "Original" }),
              h("div", { class: "meta", text: "Kept as it is on your store" }))),
          outputs.map((g) => outputTile(g, pushes[g.id], featured, product, act))));
    });
  }

  function outputTile(g, push, featured, product, act) {
    const [statusText, tone] = IMAGE_STATUS[g.status] || [g.status, ""];
    const draft = state.drafts[g.id] || (state.drafts[g.id] = {
      alt: g.alt_text, featured: featured ? featured.id === g.id : false,
    });
    const label = `${g.kind === "framed" ? "Cutout" : "Scene"} · ${g.preset}`;
    const meta = [g.generator, g.seed !== null ? `seed ${g.seed}` : "",
      `${g.width}×${g.height}`].filter(Boolean).join(" · ");
    const tile = h("article", {
      class: "tile", dataset: { imageId: g.id, status: g.status },
      "aria-label": `${label} (${statusText})`,
    });
    const pushBadge = push ? badge(...(PUSH_STATUS[push.status] || [push.status, ""])) : null;
    add(tile, 
      h("div", { class: "frame" },
        h("a", { href: g.full, target: "_blank", rel: "noopener" },
          h("img", { src: g.thumb, srcset: `${g.thumb} 1x, ${g.thumb_2x} 2x`, loading: "lazy",
                     width: 320, height: 320, alt: g.alt_text || `${label} of ${product.title}` }))),
      h("div", {}, h("strong", { text: label }), h("div", { class: "meta", text: meta })),
      h("div", { class: "badges" }, badge(statusText, tone, { dataset: { role: "status" } }),
        fidelityBadge(g), pushBadge, g.featured && g.status !== "ready"
          ? badge("Featured", "info") : null),
      g.flags.length ? h("ul", { class: "flags", "aria-label": "Why this needs a look" },
        g.flags.map((f) => h("li", { text: f }))) : null,
    );
    if (push && push.status === "failed") {
      add(tile, h("p", { class: "push-error", text: push.error || "The push failed." }),
        h("div", { class: "actions" }, h("button", {
          type: "button", dataset: { key: `retry-${push.id}` },
          onclick: () => act(api(`pushes/${push.id}/retry`, { method: "POST" }),
            "Sending it again."),
        }, "Retry")));
    }
    if (g.status === "ready") {
      const altId = `alt-${g.id}`;
      add(tile, h("div", { class: "decide" },
        h("div", {},
          h("label", { for: altId, text: "Alt text", style: "font-weight:550" }),
          h("input", { id: altId, type: "text", value: draft.alt, maxlength: 512,
                       dataset: { key: altId },
                       oninput: (event) => { draft.alt = event.target.value; } })),
        h("label", { class: "choice" },
          h("input", { type: "radio", name: `featured-${product.id}`, checked: draft.featured,
                       dataset: { key: `featured-${g.id}` },
                       onchange: () => {
                         for (const other of Object.values(state.drafts)) other.featured = false;
                         draft.featured = true;
                       } }),
          h("span", { text: "Make this the featured image" })),
        h("div", { class: "actions" },
          h("button", {
            class: "primary", type: "button", dataset: { key: `approve-${g.id}` },
            onclick: (event) => {
              event.target.disabled = true;
              act(api(`images/${g.id}/approve`, {
                method: "POST", body: { alt_text: draft.alt, featured: draft.featured },
              }), "Approved: sending it to your store.");
            },
          }, "Approve"),
          h("button", {
            type: "button", class: "critical", dataset: { key: `reject-${g.id}` },
            onclick: (event) => {
              event.target.disabled = true;
              act(api(`images/${g.id}/reject`, { method: "POST" }), "Rejected.");
            },
          }, "Reject"))));
    } else if (g.alt_text) {
      add(tile, h("p", { class: "meta" }, h("strong", { text: "Alt text: " }), g.alt_text));
    }
    return tile;
  }

  function fidelityBadge(g) {
    const numbers = Object.entries(g.fidelity.numbers)
      .filter(([key]) => METRICS[key])
      .map(([key, value]) => `${METRICS[key][0]}: ${METRICS[key][1](value)}`);
    const text = g.fidelity.passed ? "Fidelity OK" : "Fidelity: check";
    const details = h("ul", { class: "meta", hidden: true, style: "margin:4px 0;padding-left:16px" },
      numbers.map((n) => h("li", { text: n })));
    const button = h("button", {
      type: "button", class: `badge ${g.fidelity.passed ? "ok" : "warn"}`,
      title: numbers.join("\n") || "No numbers recorded", "aria-expanded": "false",
      style: "border:0;box-shadow:none;min-height:0", dataset: { key: `fid-${g.id}` },
      onclick: () => {
        details.hidden = !details.hidden;
        button.setAttribute("aria-expanded", String(!details.hidden));
      },
    }, text);
    return h("span", { style: "display:contents" }, button, details);
  }

  function historyCard(product, act) {
    if (!product.pushes.length) {
      return h("section", { class: "card", "aria-label": "History" },
        h("h2", { text: "History" }),
        h("p", { class: "muted", text: "Nothing has been sent to the store yet." }));
    }
    return h("section", { class: "card", "aria-label": "History" },
      h("h2", { text: "History" }),
      h("table", { class: "history" },
        h("thead", {}, h("tr", {}, ["Image", "What", "When", "By", "Status", ""].map(
          (t) => h("th", { scope: "col", text: t })))),
        h("tbody", {}, product.pushes.map((p) => h("tr", { dataset: { pushId: p.id } },
          h("td", {}, h("img", { class: "thumb", src: p.thumb, width: 40, height: 40,
                                 alt: p.alt_text || `${p.kind} ${p.preset}` })),
          h("td", {}, `${p.kind === "framed" ? "Cutout" : "Scene"} · ${p.preset}`,
            h("div", { class: "meta muted", text: [p.generator,
              p.seed !== null ? `seed ${p.seed}` : ""].filter(Boolean).join(" · ") })),
          h("td", {}, when(p.pushed_at || p.created_at)),
          h("td", {}, p.requested_by || "Automatic"),
          h("td", {}, badge(...(PUSH_STATUS[p.status] || [p.status, ""])),
            p.error ? h("div", { class: "push-error", text: p.error }) : null),
          h("td", { class: "actions" },
            p.can_rollback ? h("button", {
              type: "button", dataset: { key: `rollback-${p.id}` },
              onclick: (event) => {
                event.target.disabled = true;
                act(api(`pushes/${p.id}/rollback`, { method: "POST" }),
                  "Rolled back: the product's images are as they were.");
              },
            }, "Roll back") : null,
            p.can_retry ? h("button", {
              type: "button", dataset: { key: `history-retry-${p.id}` },
              onclick: () => act(api(`pushes/${p.id}/retry`, { method: "POST" }),
                "Sending it again."),
            }, p.status === "rolled_back" ? "Push again" : "Retry") : null))))));
  }

  function regenerateCard(product, answer, act) {
    if (!answer) return null;
    const values = answer.settings;
    const choices = answer.choices;
    const form = h("form", {
      onsubmit: (event) => {
        event.preventDefault();
        const data = new FormData(form);
        const body = {
          frame_preset: data.get("frame_preset"),
          shadow: data.get("shadow"),
          scene_presets: data.getAll("scene_presets"),
          variations: Number(data.get("variations")),
          custom_prompt: String(data.get("custom_prompt") || "").trim(),
        };
        act(api(`products/${product.id}/regenerate`, { method: "POST", body }),
          "Regenerating: new images appear here when they are ready.");
      },
    },
    h("div", { class: "form-grid" },
      selectField("regen-frame", "frame_preset", "Framing", choices.frame_preset,
        values.frame_preset),
      selectField("regen-shadow", "shadow", "Shadow", choices.shadow, values.shadow),
      h("div", { class: "field" },
        h("label", { for: "regen-variations", text: "Variations per scene" }),
        h("input", { id: "regen-variations", name: "variations", type: "number", min: 1,
                     max: choices.variations.max, value: values.variations })),
      h("div", { class: "field" },
        h("label", { for: "regen-prompt", text: "Custom scene prompt (optional)" }),
        h("textarea", { id: "regen-prompt", name: "custom_prompt", maxlength: 500,
                        rows: 2, text: values.custom_prompt }))),
    h("fieldset", {}, h("legend", { text: "Scene styles" }),
      h("div", { class: "choices" }, choices.scene_presets.map((s) => h("label",
        { class: "choice" }, h("input", { type: "checkbox", name: "scene_presets",
          value: s.name, checked: values.scene_presets.includes(s.name) }),
        h("span", { text: s.title })))))
    , h("button", { class: "primary", type: "submit" }, "Regenerate"));
    return h("details", { class: "card" },
      h("summary", {}, h("strong", { text: "Regenerate" }),
        h("span", { class: "muted", text: " — another preset, prompt or more variations" })),
      h("div", { style: "margin-top:12px" }, form));
  }

  function selectField(id, name, label, options, value, help) {
    return h("div", { class: "field" },
      h("label", { for: id, text: label }),
      h("select", { id, name, dataset: { field: name } },
        options.map((o) => h("option", { value: o, selected: o === value, text: o }))),
      help ? h("div", { class: "help", text: help }) : null);
  }

  // --- settings --------------------------------------------------------------------------
  const SHADOW_HELP = { none: "No shadow", contact: "A soft contact shadow under the product",
    drop: "A drop shadow" };
  const AUTO_HELP = {
    never: "Never: I review every image",
    framed: "Cutouts on white only (scenes wait for me)",
    all: "Every output",
  };

  async function settingsView() {
    if (!state.storeId && state.stores.length > 1) {
      state.storeId = state.stores[0].id;  // settings are per store: pick one
      document.getElementById("store-picker").value = String(state.storeId);
    }
    const answer = await api(`settings/?${withStore()}`);
    state.settingsCache[answer.store.id] = answer;
    const { settings: values, choices, usage } = answer;
    const [from, to] = (values.offpeak || "-").split("-");
    const errors = {};
    const errorFor = (name) => (errors[name] = h("div", {
      class: "field-error", id: `err-${name}`, role: "alert" }));
    const form = h("form", { novalidate: true, onsubmit: (event) => save(event) },
      h("section", { class: "card", "aria-labelledby": "set-images" },
        h("h2", { id: "set-images", text: "Images" }),
        h("div", { class: "form-grid" },
          selectField("set-frame", "frame_preset", "Framing preset", choices.frame_preset,
            values.frame_preset, "Canvas and margins of the cutout on white."),
          h("div", { class: "field" },
            h("label", { for: "set-shadow", text: "Shadow" }),
            h("select", { id: "set-shadow", name: "shadow" }, choices.shadow.map((o) =>
              h("option", { value: o, selected: o === values.shadow, text: SHADOW_HELP[o] || o }))),
            errorFor("shadow")),
          h("div", { class: "field" },
            h("label", { for: "set-variations", text: "Variations per scene" }),
            h("input", { id: "set-variations", name: "variations", type: "number", min: 1,
                         max: choices.variations.max, value: values.variations,
                         "aria-describedby": "err-variations" }),
            errorFor("variations")),
          selectField("set-format", "output_format", "File format", choices.output_format,
            values.output_format)),
        h("fieldset", {}, h("legend", { text: "Scene styles" }),
          h("div", { class: "choices" }, choices.scene_presets.map((s) => h("label",
            { class: "choice" }, h("input", { type: "checkbox", name: "scene_presets",
              value: s.name, checked: values.scene_presets.includes(s.name) }),
            h("span", { text: s.title })))), errorFor("scene_presets")),
        h("div", { class: "field" },
          h("label", { for: "set-prompt", text: "Custom scene prompt (optional)" }),
          h("textarea", { id: "set-prompt", name: "custom_prompt", maxlength: 500, rows: 2,
                          text: values.custom_prompt }), errorFor("custom_prompt"))),
      h("section", { class: "card", "aria-labelledby": "set-approval" },
        h("h2", { id: "set-approval", text: "Approval" }),
        h("fieldset", {}, h("legend", { text: "Approve automatically" }),
          choices.auto_approve.map((o) => h("label", { class: "choice" },
            h("input", { type: "radio", name: "auto_approve", value: o,
                         checked: o === values.auto_approve }),
            h("span", { text: AUTO_HELP[o] || o }))),
          h("div", { class: "help muted",
            text: "Images flagged by a fidelity check always wait for you." }),
          errorFor("auto_approve"))),
      h("section", { class: "card", "aria-labelledby": "set-backfill" },
        h("h2", { id: "set-backfill", text: "Backfills" }),
        h("p", { class: "muted", text: "Whole-catalog backfills run only in this window "
          + `(${values.timezone}); leave it empty to run any time.` }),
        h("div", { class: "actions" },
          h("label", {}, "Window starts at ", h("input", { type: "time", name: "offpeak_from",
            value: from || "", "aria-describedby": "err-offpeak" })),
          h("label", {}, "ends at ", h("input", { type: "time", name: "offpeak_to",
            value: to || "", "aria-describedby": "err-offpeak" }))),
        errorFor("offpeak")),
      h("section", { class: "card", "aria-labelledby": "set-usage" },
        h("h2", { id: "set-usage", text: "Usage this month" }),
        usageMeter(usage),
        answer.can_change_limit ? h("div", { class: "field" },
          h("label", { for: "set-limit", text: "Monthly generation limit" }),
          h("input", { id: "set-limit", name: "monthly_generation_limit", type: "number",
                       min: 0, value: values.monthly_generation_limit }),
          errorFor("monthly_generation_limit")) : null),
      h("div", { class: "actions" }, h("button", { class: "primary", type: "submit" },
        "Save settings")),
    );

    async function save(event) {
      event.preventDefault();
      const data = new FormData(form);
      const offFrom = data.get("offpeak_from");
      const offTo = data.get("offpeak_to");
      const body = {
        frame_preset: data.get("frame_preset"),
        shadow: data.get("shadow"),
        variations: Number(data.get("variations")),
        output_format: data.get("output_format"),
        scene_presets: data.getAll("scene_presets"),
        custom_prompt: data.get("custom_prompt") || "",
        auto_approve: data.get("auto_approve"),
        offpeak: offFrom || offTo ? `${offFrom}-${offTo}` : "",
      };
      if (answer.can_change_limit) {
        body.monthly_generation_limit = Number(data.get("monthly_generation_limit"));
      }
      for (const el of Object.values(errors)) el.textContent = "";
      for (const el of form.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
      try {
        const saved = await api(`settings/?store=${answer.store.id}`, { method: "PATCH", body });
        state.settingsCache[answer.store.id] = saved;
        toast("Settings saved.");
      } catch (error) {
        for (const [field, messages] of Object.entries(error.body || {})) {
          if (errors[field]) errors[field].textContent = [].concat(messages).join(" ");
          const input = form.querySelector(`[name="${field}"], [name="${field}_from"]`);
          if (input) input.setAttribute("aria-invalid", "true");
        }
        toast(error.message, true);
      }
    }

    show(h("div", { class: "page-head" }, h("h1", { text: "Settings" }),
      h("span", { class: "muted", text: answer.store.name || answer.store.domain })), form);
  }

  function usageMeter(usage) {
    const share = usage.limit ? Math.min(1, usage.used / usage.limit) : 1;
    return h("div", {},
      h("p", {}, h("strong", { text: `${usage.used} of ${usage.limit}` }),
        " generations used", h("span", { class: "muted", text: ` · resets ${usage.resets_on}` })),
      h("div", { class: `meter${share >= 0.9 ? " high" : ""}`, role: "meter",
                 "aria-label": "Generations used this month", "aria-valuemin": 0,
                 "aria-valuemax": usage.limit, "aria-valuenow": usage.used },
        h("span", { style: `width:${(share * 100).toFixed(1)}%` })),
      usage.held ? h("p", { class: "banner warn",
        text: `${plural(usage.held, "job")} on hold until the limit resets or is raised.` })
        : null);
  }

  // --- start -----------------------------------------------------------------------------
  async function start() {
    try {
      const root = await api("");
      state.stores = root.stores;
    } catch (error) {
      show(h("div", { class: "card" }, h("h1", { text: "PhotoSync" }),
        h("p", { class: "error", text: error.message })));
      return;
    }
    if (state.stores.length > 1) {
      const picker = document.getElementById("store-picker");
      picker.append(h("option", { value: "", text: "All stores" }),
        state.stores.map((s) => h("option", { value: s.id, text: s.name || s.domain })));
      picker.addEventListener("change", () => {
        state.storeId = picker.value ? Number(picker.value) : null;
        render();
      });
      picker.closest("label").hidden = false;
    } else if (state.stores.length === 1) {
      state.storeId = null;  // implicit: the caller's only store
    }
    window.addEventListener("hashchange", () => { view.focus(); render(); });
    await render();
  }

  start();
})();
