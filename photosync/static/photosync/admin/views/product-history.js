/* Product review: what was sent to the store, when, by whom and from which model, with roll
   back and retry. */
import { api } from "../api.js";
import { badge, el, plural, when } from "../dom.js";

export const PUSH_STATUS = {
  queued: ["Queued", "info busy"], uploading: ["Uploading", "info busy"],
  processing: ["Processing on the store", "info busy"], live: ["Live on the store", "ok"],
  failed: ["Push failed", "bad"], rolled_back: ["Rolled back", ""],
};
const UPDATE_STATUS = { queued: "Change queued", uploading: "Sending the change" };

/* The push's badge: its status, or since when it has been waiting for an unreachable store. */
export function pushBadge(p) {
  if (p.waiting_since) {
    const since = new Date(p.waiting_since).toLocaleTimeString(undefined,
      { hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
    return badge(`Waiting for the store since ${since}`, "warn busy",
      { dataset: { role: "push-status" } });
  }
  const [text, tone] = PUSH_STATUS[p.status] || [p.status, ""];
  const label = (p.action === "update" && UPDATE_STATUS[p.status]) || text;
  return badge(label, tone, { dataset: { role: "push-status" } });
}

const EDIT_STATUS = {
  queued: ["Waiting for a worker", "info busy"], dispatched: ["Waiting for a worker", "info busy"],
  running: ["Being applied", "info busy"], held: ["On hold", "warn"],
  succeeded: ["New images made", "ok"], partial: ["New images made", "ok"],
  failed: ["Could not be applied", "bad"], cancelled: ["Cancelled", ""],
};

export function historyCard(product, act) {
  const edits = touchUps(product);
  if (!product.pushes.length) {
    return el("section", { class: "card", "aria-label": "History" },
      el("h2", { text: "History" }),
      el("p", { class: "muted", text: "Nothing has been sent to the store yet." }), edits);
  }
  return el("section", { class: "card", "aria-label": "History" },
    el("h2", { text: "History" }), edits,
    el("table", { class: "history" },
      el("thead", {}, el("tr", {}, ["Image", "What", "When", "By", "Status"].map(
        (t) => el("th", { scope: "col", text: t })),
      el("th", { scope: "col" }, el("span", { class: "sr-only", text: "Actions" })))),
      el("tbody", {}, product.pushes.map((p) => el("tr", { dataset: { pushId: p.id } },
        el("td", {}, el("img", { class: "thumb", src: p.thumb, width: 40, height: 40,
                                alt: p.alt_text || `${p.kind} ${p.preset}` })),
        el("td", {}, `${p.kind === "framed" ? "Cutout" : "Scene"} · ${p.preset}`,
          el("div", { class: "meta muted", text: [p.generator,
            p.seed !== null ? `seed ${p.seed}` : ""].filter(Boolean).join(" · ") })),
        el("td", {}, when(p.pushed_at || p.created_at)),
        el("td", {}, p.requested_by || "Automatic"),
        el("td", {}, pushBadge(p),
          p.error ? el("div", { class: "push-error", text: p.error }) : null),
        el("td", { class: "actions" },
          p.can_rollback ? el("button", {
            type: "button", dataset: { key: `rollback-${p.id}` },
            onclick: (event) => {
              event.target.disabled = true;
              act(api(`pushes/${p.id}/rollback`, { method: "POST" }),
                "Rolled back: our image is off the product; yours are as you left them.");
            },
          }, "Roll back") : null,
          p.can_retry ? el("button", {
            type: "button", dataset: { key: `history-retry-${p.id}` },
            onclick: () => act(api(`pushes/${p.id}/retry`, { method: "POST" }),
              "Sending it again."),
          }, p.status === "rolled_back" ? "Push again" : "Retry") : null))))));
}

/* The merchant's touch-ups of the cutouts, newest first: who, when, which brush, the result. */
function touchUps(product) {
  const edits = product.mask_edits || [];
  if (!edits.length) return null;
  const photo = (id) => product.sources.findIndex((s) => s.id === id) + 1;
  return el("table", { class: "history", "aria-label": "Cutout touch-ups" },
    el("caption", { class: "meta", text: "Cutout touch-ups" }),
    el("thead", {}, el("tr", {}, ["Photo", "What", "When", "By", "Status"].map(
      (t) => el("th", { scope: "col", text: t })))),
    el("tbody", {}, edits.map((e) => {
      const [text, tone] = EDIT_STATUS[e.status] || [e.status || "—", ""];
      const strokes = [e.strokes.keep ? plural(e.strokes.keep, "keep stroke") : "",
        e.strokes.erase ? plural(e.strokes.erase, "erase stroke") : ""].filter(Boolean);
      const pixels = e.kept_px !== null
        ? ` (${e.kept_px.toLocaleString()} px kept, ${e.erased_px.toLocaleString()} px erased)`
        : "";
      return el("tr", { dataset: { editId: e.id } },
        el("td", { text: `Photo ${photo(e.source) || "?"}` }),
        el("td", { text: `Touch-up: ${strokes.join(", ")}${pixels}` }),
        el("td", { text: when(e.created_at) }),
        el("td", { text: e.by || "—" }),
        el("td", {}, badge(text, tone, { dataset: { role: "edit-status" } }),
          e.error ? el("div", { class: "push-error", text: e.error }) : null));
    })));
}
