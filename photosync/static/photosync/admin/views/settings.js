/* Settings, per store: framing, shadow, scene styles, variations, file format, the
   auto-approve rule, the off-peak window for backfills (and running them when the grid is
   cleanest), and this month's usage against the limit, with its energy and carbon (only
   operators may change the limit). */
import { api, withStore } from "../api.js";
import { el, plural, promptHelp, selectField, toast } from "../dom.js";
import { render, show } from "../router.js";
import { saveBarFor, saveBarShow, titleBar } from "../shopify-ui.js";
import { state } from "../state.js";

const SHADOW_HELP = { auto: "The framing preset's own (none on marketplace)", none: "No shadow",
  contact: "A soft contact shadow under the product", drop: "A drop shadow" };
const AUTO_HELP = {
  never: "Never: I review every image",
  framed: "Cutouts on white only (scenes wait for me)",
  all: "Every output",
};

export async function settingsView() {
  if (!state.storeId && state.stores.length > 1) {
    state.storeId = state.stores[0].id;  // settings are per store: pick one
    document.getElementById("store-picker").value = String(state.storeId);
  }
  const answer = await api(`settings/?${withStore()}`);
  state.settingsCache[answer.store.id] = answer;
  const { settings: values, choices, usage } = answer;
  const [from, to] = (values.offpeak || "-").split("-");
  const errors = {};
  const errorFor = (name) => (errors[name] = el("div", {
    class: "field-error", id: `err-${name}`, role: "alert" }));
  const form = el("form", { novalidate: true, onsubmit: (event) => save(event) },
    el("section", { class: "card", "aria-labelledby": "set-images" },
      el("h2", { id: "set-images", text: "Images" }),
      el("div", { class: "form-grid" },
        selectField("set-frame", "frame_preset", "Framing preset", choices.frame_preset,
          values.frame_preset, "Canvas and margins of the cutout on white."),
        el("div", { class: "field" },
          el("label", { for: "set-shadow", text: "Shadow" }),
          el("select", { id: "set-shadow", name: "shadow" }, choices.shadow.map((o) =>
            el("option", { value: o, selected: o === values.shadow, text: SHADOW_HELP[o] || o }))),
          errorFor("shadow")),
        el("div", { class: "field" },
          el("label", { for: "set-variations", text: "Variations per scene" }),
          el("input", { id: "set-variations", name: "variations", type: "number", min: 1,
                        max: choices.variations.max, value: values.variations,
                        "aria-describedby": "err-variations" }),
          errorFor("variations")),
        selectField("set-format", "output_format", "File format", choices.output_format,
          values.output_format)),
      el("fieldset", {}, el("legend", { text: "Scene styles" }),
        el("div", { class: "choices" }, choices.scene_presets.map((s) => el("label",
          { class: "choice" }, el("input", { type: "checkbox", name: "scene_presets",
            value: s.name, checked: values.scene_presets.includes(s.name) }),
          el("span", { text: s.title })))), errorFor("scene_presets")),
      el("div", { class: "field" },
        el("label", { for: "set-prompt", text: "Custom scene prompt (optional)" }),
        el("textarea", { id: "set-prompt", name: "custom_prompt", maxlength: 500, rows: 2,
                         text: values.custom_prompt,
                         "aria-describedby": "set-prompt-help err-custom_prompt" }),
        promptHelp("set-prompt-help", choices.custom_prompt), errorFor("custom_prompt"))),
    el("section", { class: "card", "aria-labelledby": "set-approval" },
      el("h2", { id: "set-approval", text: "Approval" }),
      el("fieldset", {}, el("legend", { text: "Approve automatically" }),
        choices.auto_approve.map((o) => el("label", { class: "choice" },
          el("input", { type: "radio", name: "auto_approve", value: o,
                        checked: o === values.auto_approve }),
          el("span", { text: AUTO_HELP[o] || o }))),
        el("div", { class: "help muted",
          text: "Images flagged by a fidelity check always wait for you." }),
        errorFor("auto_approve"))),
    el("section", { class: "card", "aria-labelledby": "set-backfill" },
      el("h2", { id: "set-backfill", text: "Backfills" }),
      el("p", { class: "muted", text: "Whole-catalog backfills run only in this window "
        + `(${values.timezone}); leave it empty to run any time.` }),
      el("div", { class: "actions" },
        el("label", {}, "Window starts at ", el("input", { type: "time", name: "offpeak_from",
          value: from || "", "aria-describedby": "err-offpeak" })),
        el("label", {}, "ends at ", el("input", { type: "time", name: "offpeak_to",
          value: to || "", "aria-describedby": "err-offpeak" }))),
      errorFor("offpeak"),
      el("label", { class: "choice" }, el("input", { type: "checkbox",
        name: "clean_grid_backfills", checked: values.clean_grid_backfills }),
        el("span", { text: "Run backfills when the grid is cleanest" })),
      el("div", { class: "help muted", text: "Inside the window, backfills wait for the "
        + "forecast's lowest-carbon hours. New products never wait." }),
      errorFor("clean_grid_backfills"),
      el("div", { class: "field" },
        el("label", { for: "set-grid-threshold",
          text: "…or whenever the grid is below (g CO₂e/kWh, 0 for no threshold)" }),
        el("input", { id: "set-grid-threshold", name: "clean_grid_threshold", type: "number",
          min: 0, max: choices.clean_grid_threshold.max, value: values.clean_grid_threshold,
          "aria-describedby": "err-clean_grid_threshold" }),
        errorFor("clean_grid_threshold"))),
    el("section", { class: "card", "aria-labelledby": "set-usage" },
      el("h2", { id: "set-usage", text: "Usage this month" }),
      usageMeter(usage),
      answer.can_change_limit ? el("div", { class: "field" },
        el("label", { for: "set-limit", text: "Monthly generation limit" }),
        el("input", { id: "set-limit", name: "monthly_generation_limit", type: "number",
                      min: 0, value: values.monthly_generation_limit }),
        errorFor("monthly_generation_limit")) : null),
    el("div", { class: "actions" }, el("button", { class: "primary", type: "submit" },
      "Save settings")),
  );

  // Unsaved changes: what the form says now against what was last saved.
  const snapshot = () => JSON.stringify([...new FormData(form).entries()]);
  let lastSaved = null;
  state.unsaved = () => lastSaved !== null && snapshot() !== lastSaved;

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
      clean_grid_backfills: data.get("clean_grid_backfills") === "on",
      clean_grid_threshold: Number(data.get("clean_grid_threshold") || 0),
    };
    if (answer.can_change_limit) {
      body.monthly_generation_limit = Number(data.get("monthly_generation_limit"));
    }
    for (const message of Object.values(errors)) message.textContent = "";
    for (const input of form.querySelectorAll("[aria-invalid]")) {
      input.removeAttribute("aria-invalid");
    }
    try {
      const saved = await api(`settings/?store=${answer.store.id}`, { method: "PATCH", body });
      state.settingsCache[answer.store.id] = saved;
      lastSaved = snapshot();
      saveBarShow(false);
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

  show(el("div", { class: "page-head" }, el("h1", { text: "Settings" }),
    el("span", { class: "muted", text: answer.store.name || answer.store.domain })), form);
  lastSaved = snapshot();
  // Inside Shopify: the admin's save bar while changes are unsaved; Save submits the form,
  // Discard draws the saved settings again.
  titleBar("Settings");
  saveBarFor({ save: () => form.requestSubmit(),
               discard: () => { lastSaved = null; render(); } });
  const dirty = () => saveBarShow(state.unsaved());
  form.addEventListener("input", dirty);
  form.addEventListener("change", dirty);
}

function usageMeter(usage) {
  const share = usage.limit ? Math.min(1, usage.used / usage.limit) : 1;
  return el("div", {},
    el("p", {}, el("strong", { text: `${usage.used} of ${usage.limit}` }),
      " generations used", el("span", { class: "muted", text: ` · resets ${usage.resets_on}` })),
    el("div", { class: `meter${share >= 0.9 ? " high" : ""}`, role: "meter",
                "aria-label": "Generations used this month", "aria-valuemin": 0,
                "aria-valuemax": usage.limit, "aria-valuenow": usage.used },
      el("span", { style: `width:${(share * 100).toFixed(1)}%` })),
    el("p", { dataset: { role: "energy" } }, el("strong", { text: plural(usage.images,
      "image") }), ` this month · ${formatWh(usage.energy_wh)} · `
      + `${formatAmount(usage.co2e_g)} g CO₂e`),
    Object.entries(usage.held_by_reason || {}).map(([reason, n]) => el("p", {
      class: "banner warn", text: `${plural(n, "job")} on hold: `
        + ((reason === "clean_grid" && usage.clean_grid_note) || HOLD_TEXT[reason] || reason),
    })));
}

const HOLD_TEXT = {
  monthly_limit: "until the limit resets or is raised.",
  no_gpu: "waiting for a GPU worker.",
  clean_grid: "backfills waiting for the cleanest hours of the grid.",
};

function formatWh(wh) {
  return wh >= 1000 ? `${formatAmount(wh / 1000)} kWh` : `${formatAmount(wh)} Wh`;
}

function formatAmount(value) {  // two significant digits below 1, never 1e-7
  if (!value) return "0";
  if (value >= 100) return Math.round(value).toLocaleString("en");
  if (value >= 1) return value.toFixed(1);
  return value.toFixed(1 - Math.floor(Math.log10(value)));
}

