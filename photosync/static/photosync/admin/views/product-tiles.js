/* Product review: one card per original photo, with its outputs as tiles to decide on (alt
   text, featured, approve or reject), their push status and fidelity numbers. */
import { api } from "../api.js";
import { add, badge, el, plural } from "../dom.js";
import { state } from "../state.js";
import { openCompare, previewFailed } from "./compare.js";
import { pushBadge } from "./product-history.js";

const IMAGE_STATUS = {
  ready: ["Waiting", "warn"], approved: ["Approved", "info"], pushed: ["Pushed", "ok"],
  rejected: ["Rejected", ""], failed: ["Failed", "bad"],
  superseded: ["Replaced", ""],  // by a touch-up, or the photo changed on the store
};
const METRICS = {
  product_max_abs_diff: ["Product pixels changed, max", (v) => `${v} / 255`],
  product_mean_abs_diff: ["Product pixels changed, mean", (v) => Number(v).toFixed(3)],
  product_compared_share: ["Share of the product compared", (v) => `${(v * 100).toFixed(1)}%`],
  output_delta_e_mean: ["Colour drift ΔE, mean", (v) => Number(v).toFixed(1)],
  output_delta_e_p95: ["Colour drift ΔE, 95th percentile", (v) => Number(v).toFixed(1)],
  enhance_change_delta_e_mean: ["Colour correction ΔE, mean", (v) => Number(v).toFixed(1)],
  enhance_ev: ["Exposure correction", (v) => `${Number(v).toFixed(2)} EV`],
  relit_ev: ["Relit to the scene", (v) => `${Number(v).toFixed(2)} EV`],
  relit_delta_e_mean: ["Relit ΔE, mean", (v) => Number(v).toFixed(1)],
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

export function sourceCards(product, act) {
  const pushes = {};
  for (const push of product.pushes) if (!pushes[push.image]) pushes[push.image] = push;
  const featured = product.generated.find((g) => g.featured && g.status !== "rejected");
  return product.sources.map((source, index) => {
    if (source.original && !state.originals[source.id]) {
      state.originals[source.id] = [source.original, source.original_full];
    }
    const [original, originalFull] = state.originals[source.id] || [];
    // Replaced outputs (a touch-up's, a changed photo's) after the ones to decide on.
    const outputs = product.generated.filter((g) => g.source === source.id)
      .sort((a, b) => (a.status === "superseded") - (b.status === "superseded") || a.id - b.id);
    const name = source.alt || source.remote_id.split("/").pop();
    return el("section", { class: "card", "aria-label": `Photo ${index + 1}` },
      el("div", { class: "card-head" },
        el("h2", { text: `Photo ${index + 1}: ${name}` }),
        source.status === "failed" ? badge("Could not be processed", "bad") : null,
        el("span", { class: "muted", text: plural(outputs.length, "output") })),
      source.error ? el("p", { class: "error", text: source.error }) : null,
      el("div", { class: "tiles" },
        el("figure", { class: "tile original", style: "margin:0" },
          el("div", { class: "frame" }, original
            ? el("a", { href: originalFull, target: "_blank", rel: "noopener" },
              el("img", { src: original, loading: "lazy",
                          alt: `Your original photo: ${name}`,
                          onerror: (event) => previewFailed(event.target, original) }))
            : el("div", { class: "muted", style: "padding:16px", text: "Not available" })),
          el("figcaption", {}, el("strong", { text: "Original" }),
            el("div", { class: "meta", text: "Kept as it is on your store" }))),
        outputs.map((g) => outputTile(g, pushes[g.id], featured, product, act,
          originalFull))));
  });
}

function outputTile(g, push, featured, product, act, originalFull) {
  const [statusText, tone] = IMAGE_STATUS[g.status] || [g.status, ""];
  const draft = state.drafts[g.id] || (state.drafts[g.id] = {
    alt: g.alt_text, featured: featured ? featured.id === g.id : false,
  });
  const label = `${g.kind === "framed" ? "Cutout" : "Scene"} · ${g.preset}`;
  const meta = [g.generator, g.seed !== null ? `seed ${g.seed}` : "",
    `${g.width}×${g.height}`].filter(Boolean).join(" · ");
  const tile = el("article", {
    class: "tile", dataset: { imageId: g.id, status: g.status, key: `tile-${g.id}` },
    tabindex: -1,  // j / k focus it (keys.js); a and r act on it
    "aria-label": `${label} (${statusText})`,
  });
  const pushState = push ? pushBadge(push) : null;
  add(tile,
    el("div", { class: "frame" },
      el("a", { href: g.full, target: "_blank", rel: "noopener", "aria-haspopup": "dialog",
                dataset: { role: "compare" },
                onclick: (event) => {
                  if (event.ctrlKey || event.metaKey || event.shiftKey || event.button) return;
                  event.preventDefault();  // a large view; middle/Ctrl-click: a new tab
                  openCompare({ output: g.full, original: originalFull, label,
                                title: product.title || product.remote_id,
                                touchUp: touchable(g) ? { image: g, sent: () => act(
                                  Promise.resolve(), "Touch-up sent: the new images appear "
                                  + "here when they are ready, in place of these.") } : null });
                } },
        el("img", { src: g.thumb, srcset: `${g.thumb} 1x, ${g.thumb_2x} 2x`, loading: "lazy",
                    width: 320, height: 320, alt: g.alt_text || `${label} of ${product.title}` }))),
    el("div", {}, el("strong", { text: label }), el("div", { class: "meta", text: meta }),
      removedBy(g)),
    el("div", { class: "badges" },
      // One state: once sent, the push says where the image is (live, failed, rolled
      // back); "Approved · Rolled back · Featured" was three claims, one of them false.
      pushState || badge(statusText, tone, { dataset: { role: "status" } }),
      fidelityBadge(g), isFeatured(g, push) ? badge("Featured", "info") : null),
    g.flags.length ? el("ul", { class: "flags", "aria-label": "Why this needs a look" },
      g.flags.map((f) => el("li", { text: flagText(f), dataset: { code: f?.code || "" } }))) : null,
  );
  if (push && push.status === "failed") {
    add(tile, el("p", { class: "push-error", text: push.error || "The push failed." }),
      el("div", { class: "actions" }, el("button", {
        type: "button", dataset: { key: `retry-${push.id}` },
        onclick: () => act(api(`pushes/${push.id}/retry`, { method: "POST" }),
          "Sending it again."),
      }, "Retry")));
  }
  if (g.status === "ready") {
    const altId = `alt-${g.id}`;
    add(tile, el("div", { class: "decide" },
      el("div", {},
        el("label", { for: altId, text: "Alt text", style: "font-weight:550" }),
        el("input", { id: altId, type: "text", value: draft.alt, maxlength: 512,
                      dataset: { key: altId },
                      oninput: (event) => { draft.alt = event.target.value; } })),
      el("label", { class: "choice" },
        el("input", { type: "radio", name: `featured-${product.id}`, checked: draft.featured,
                      dataset: { key: `featured-${g.id}` },
                      onchange: () => {
                        for (const other of Object.values(state.drafts)) other.featured = false;
                        draft.featured = true;
                      } }),
        el("span", { text: "Make this the featured image" })),
      el("div", { class: "actions" },
        el("button", {
          class: "primary", type: "button", dataset: { key: `approve-${g.id}` },
          onclick: (event) => {
            event.target.disabled = true;
            act(api(`images/${g.id}/approve`, {
              method: "POST", body: { alt_text: draft.alt, featured: draft.featured },
            }), "Approved: sending it to your store.",
            () => act(api(`images/${g.id}/unapprove`, { method: "POST" }),
              "Approval taken back: it waits for review again."));
          },
        }, "Approve"),
        el("button", {
          type: "button", class: "critical", dataset: { key: `reject-${g.id}` },
          onclick: (event) => {
            event.target.disabled = true;
            act(api(`images/${g.id}/reject`, { method: "POST" }), "Rejected.",
              () => act(api(`images/${g.id}/reopen`, { method: "POST" }),
                "Back in review: nothing was regenerated."));
          },
        }, "Reject"))));
  } else if (g.status === "rejected") {
    add(tile, el("div", { class: "actions" }, el("button", {
      type: "button", dataset: { key: `reopen-${g.id}` },
      title: "It waits for review again; nothing is regenerated and no quota is used.",
      onclick: (event) => {
        event.target.disabled = true;
        act(api(`images/${g.id}/reopen`, { method: "POST" }),
          "Back in review: nothing was regenerated.");
      },
    }, "Reopen for review")));
  } else if (push && push.status === "live") {
    add(tile, altEditor(g, draft, act));
  } else if (g.alt_text) {
    add(tile, el("p", { class: "meta" }, el("strong", { text: "Alt text: " }), g.alt_text));
  }
  return tile;
}

/* A cutout the merchant may correct: its mask was kept, and it was not replaced already. */
const touchable = (g) => !!g.touch_up && g.status !== "superseded";

/* Featured on the store: approved or sent, and not taken back off it. */
function isFeatured(g, push) {
  if (!g.featured || g.status === "ready" || g.status === "rejected") return false;
  return !push || push.status !== "rolled_back";
}

/* A fidelity flag: a sentence, or {code, message} (newer pipelines). */
export function flagText(flag) {
  if (flag && typeof flag === "object") return String(flag.message || flag.code || "");
  return String(flag ?? "");
}

/* "Background removed by …": which remover made the cutout (the flags say why, for a
   fallback). Outputs stored before this was recorded have no text. */
function removedBy(g) {
  const text = g.background_removal && g.background_removal.text;
  return text ? el("div", { class: "meta", dataset: { role: "removed-by" }, text }) : null;
}

function fidelityBadge(g) {
  const numbers = Object.entries(g.fidelity.numbers)
    .filter(([key]) => METRICS[key])
    .map(([key, value]) => `${METRICS[key][0]}: ${METRICS[key][1](value)}`)
    .concat(g.energy ? [`Energy: ${g.energy.label}`] : []);
  const text = g.fidelity.passed ? "Fidelity OK" : "Fidelity: check";
  const details = el("ul", { class: "meta", hidden: true, style: "margin:4px 0;padding-left:16px" },
    numbers.map((n) => el("li", { text: n })));
  const button = el("button", {
    type: "button", class: `badge ${g.fidelity.passed ? "ok" : "warn"}`,
    title: numbers.join("\n") || "No numbers recorded", "aria-expanded": "false",
    style: "border:0;box-shadow:none;min-height:0", dataset: { key: `fid-${g.id}` },
    onclick: () => {
      details.hidden = !details.hidden;
      button.setAttribute("aria-expanded", String(!details.hidden));
    },
  }, text);
  return el("span", { style: "display:contents" }, button, details);
}

/* A live image's alt text, editable: saving approves it again with the new text, which the
   store gets as an update (the featured choice stays as it is). */
function altEditor(g, draft, act) {
  const altId = `alt-${g.id}`;
  return el("div", { class: "decide" },
    el("div", {},
      el("label", { for: altId, text: "Alt text", style: "font-weight:550" }),
      el("input", { id: altId, type: "text", value: draft.alt, maxlength: 512,
                    dataset: { key: altId },
                    oninput: (event) => { draft.alt = event.target.value; } })),
    el("div", { class: "actions" }, el("button", {
      type: "button", dataset: { key: `save-alt-${g.id}` },
      onclick: (event) => {
        event.target.disabled = true;
        act(api(`images/${g.id}/approve`, {
          method: "POST", body: { alt_text: draft.alt, featured: !!g.featured },
        }), "Alt text saved: updating it on your store.");
      },
    }, "Save alt text")));
}
