/* Product review: regenerate with another framing, shadow, background remover, scene styles,
   prompt or more variations (the store's settings are the starting values; the remover
   starts at the deployment's default). */
import { api } from "../api.js";
import { el, promptHelp, selectField } from "../dom.js";

export function regenerateCard(product, answer, act) {
  if (!answer) return null;
  const values = answer.settings;
  const choices = answer.choices;
  const form = el("form", {
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
      if (data.get("segmenter")) body.segmenter = data.get("segmenter");
      act(api(`products/${product.id}/regenerate`, { method: "POST", body }),
        "Regenerating: new images appear here when they are ready.");
    },
  },
  el("div", { class: "form-grid" },
    selectField("regen-frame", "frame_preset", "Framing", choices.frame_preset,
      values.frame_preset),
    selectField("regen-shadow", "shadow", "Shadow", choices.shadow, values.shadow),
    segmenterField(choices.segmenter, lastSegmenter(product)),
    el("div", { class: "field" },
      el("label", { for: "regen-variations", text: "Variations per scene" }),
      el("input", { id: "regen-variations", name: "variations", type: "number", min: 1,
                    max: choices.variations.max, value: values.variations })),
    el("div", { class: "field" },
      el("label", { for: "regen-prompt", text: "Custom scene prompt (optional)" }),
      el("textarea", { id: "regen-prompt", name: "custom_prompt", maxlength: 500,
                       rows: 2, text: values.custom_prompt,
                       "aria-describedby": "regen-prompt-help" }),
      promptHelp("regen-prompt-help", choices.custom_prompt))),
  el("fieldset", {}, el("legend", { text: "Scene styles" }),
    el("div", { class: "choices" }, choices.scene_presets.map((s) => el("label",
      { class: "choice" }, el("input", { type: "checkbox", name: "scene_presets",
        value: s.name, checked: values.scene_presets.includes(s.name) }),
      el("span", { text: s.title })))))
  , el("button", { class: "primary", type: "submit" }, "Regenerate"));
  return el("details", { class: "card" },
    el("summary", {}, el("strong", { text: "Regenerate" }),
      el("span", { class: "muted",
                   text: " — another preset, background remover, prompt or more variations" })),
    el("div", { style: "margin-top:12px" }, form));
}

/* The background removers the operator configured (choices.segmenter of the settings API),
   the deployment's default preselected; the help says which one made the newest images. */
function segmenterField(offer, used) {
  if (!offer || !offer.options.length) return null;
  return el("div", { class: "field" },
    el("label", { for: "regen-segmenter", text: "Background remover" }),
    el("select", { id: "regen-segmenter", name: "segmenter", dataset: { field: "segmenter" },
                   "aria-describedby": used ? "regen-segmenter-help" : null },
      offer.options.map((o) => el("option", {
        value: o.name, selected: o.name === offer.default,
        text: o.name === offer.default ? `${o.label} — default` : o.label }))),
    used ? el("div", { class: "help", id: "regen-segmenter-help",
                       text: `Newest images: ${used}.` }) : null);
}

/* Who removed the background of the newest output, in words (what the pipeline recorded). */
function lastSegmenter(product) {
  const newest = [...product.generated].sort((a, b) => b.id - a.id)
    .find((g) => g.background_removal && g.background_removal.text);
  return newest ? newest.background_removal.text : "";
}
