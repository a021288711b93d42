/* Compare and zoom: a large view of one output beside its original, fitted to the screen
   or at 100 % (both panes scroll together), with a checkerboard behind transparent
   outputs. Opened by clicking an output's picture (or `o` on the current tile); Esc or
   Close shuts it, and the focus goes back where it was. With `touchUp` ({ image, sent }), a
   "Touch up the cutout" button swaps the panes for the brush editor (touchup.js). */
import { el } from "../dom.js";
import { touchUpEditor } from "./touchup.js";

export function openCompare({ output, original, label, title, touchUp }) {
  const back = document.activeElement;
  const panes = [];
  const pane = (src, caption, alt, checker) => {
    const img = el("img", { src, alt, decoding: "async",
      onerror: (event) => previewFailed(event.target, src) });
    const frame = el("div", { class: `frame pane-frame${checker ? " checker" : ""}`,
      tabindex: 0, "aria-label": `${caption}: scroll to look around at 100 %` }, img);
    panes.push(frame);
    return el("figure", { class: "pane" }, frame, el("figcaption", { text: caption }));
  };
  const zoom = el("button", { type: "button", "aria-pressed": "false", dataset: { role: "zoom" },
    onclick: () => {
      const on = zoom.getAttribute("aria-pressed") !== "true";
      zoom.setAttribute("aria-pressed", String(on));
      zoom.textContent = on ? "Fit to screen" : "Zoom to 100%";
      dialog.classList.toggle("actual", on);
    } }, "Zoom to 100%");
  const dialog = el("dialog", { class: "compare", "aria-labelledby": "compare-title" },
    el("div", { class: "compare-head" },
      el("h2", { id: "compare-title", text: `${label}: ${title}` }),
      el("span", { class: "spacer" }), zoom,
      touchUp && original ? el("button", { type: "button", dataset: { role: "touchup" },
        onclick: () => editing(true) }, "Touch up the cutout") : null,
      el("a", { class: "button", href: output, target: "_blank", rel: "noopener",
                text: "Open the file" }),
      el("form", { method: "dialog" }, el("button", { class: "primary", type: "submit" },
        "Close"))),
    el("div", { class: "panes" },
      pane(output, "Generated", `${label} of ${title}, large`, true),
      original ? pane(original, "Your original", `Your original photo of ${title}`, false)
        : el("figure", { class: "pane" }, el("div", { class: "frame pane-frame" },
          el("p", { class: "muted", text: "The original is not available." })),
        el("figcaption", { text: "Your original" }))));
  // At 100 % both panes scroll together, so the same edge is side by side.
  for (const frame of panes) {
    frame.addEventListener("scroll", () => {
      for (const other of panes) {
        if (other === frame) continue;
        other.scrollLeft = frame.scrollLeft;
        other.scrollTop = frame.scrollTop;
      }
    });
  }
  /* The editor in place of the panes (and back on Cancel); after Apply the view closes. */
  const panesBox = dialog.querySelector(".panes");
  const head = dialog.querySelector(".compare-head");
  function editing(on) {
    const editor = dialog.querySelector(".touchup");
    if (editor) editor.remove();
    panesBox.hidden = on;
    for (const control of head.querySelectorAll("[data-role=zoom], [data-role=touchup]")) {
      control.hidden = on;
    }
    if (!on) return;
    const view = touchUpEditor({
      image: touchUp.image, original, title,
      onCancel: () => editing(false),
      onSent: () => { dialog.close(); touchUp.sent(); },
    });
    panesBox.after(view);
    view.querySelector("input[name=touchup-brush]").focus();
  }
  dialog.addEventListener("close", () => {
    dialog.remove();
    if (back && back.isConnected) back.focus();
  });
  document.body.append(dialog);
  dialog.showModal();
  return dialog;
}

/* A picture that cannot be shown (a damaged original answers 422 with the reason): the
   reason in its place, never a broken-image icon. */
export async function previewFailed(img, url) {
  const frame = img.closest(".frame");
  if (!frame || frame.dataset.failed) return;
  frame.dataset.failed = "1";
  let reason = "";
  try {
    const answer = await fetch(url, { credentials: "omit" });
    if (!answer.ok) reason = (await answer.text()).slice(0, 300);
  } catch (error) { /* offline: the generic text */ }
  frame.replaceChildren(el("div", { class: "preview-failed", role: "note" },
    el("strong", { text: "No preview" }),
    el("span", { text: reason || "This picture could not be loaded." })));
}
