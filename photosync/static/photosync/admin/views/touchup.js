/* Mask touch-up, in the compare view: the original photo with what was cut away tinted red,
   and a round brush — Keep paints the product back in, Erase removes leftover background.
   Strokes are kept in the photo's own pixels and sent as they were drawn
   (POST images/<id>/touch-up); a worker re-makes the framing, shadow and scenes from the
   edited mask and the new images replace these in the queue. Undo takes back the last stroke.

   The tint is the server's overlay (the mask's backdrop, opaque red; the product clear) drawn
   into a canvas at the photo's size; Keep clears it (destination-out), Erase paints it. */
import { api } from "../api.js";
import { el, plural } from "../dom.js";

const TINT = "rgb(215, 44, 13)";
const MIN_STEP = 0.35;  // a new point once the pointer moved this share of the radius

export function touchUpEditor({ image, original, title, onSent, onCancel }) {
  const strokes = [];
  let overlay = null;  // the server's layer, an HTMLImageElement once loaded
  let current = null;  // the stroke being drawn
  const canvas = el("canvas", { class: "touchup-layer", role: "img",
    "aria-label": `What is cut away from ${title}, tinted red; draw on it with the brush` });
  const photo = el("img", { class: "touchup-photo", src: original, alt: "",
                            decoding: "async" });
  const stage = el("div", { class: "touchup-stage" }, photo, canvas);
  const status = el("p", { class: "muted", role: "status", "aria-live": "polite",
                           dataset: { role: "touchup-status" }, text: "Loading the cutout…" });
  const mode = (value, label, hint, checked) => el("label", { class: "choice" },
    el("input", { type: "radio", name: "touchup-brush", value, checked }),
    el("span", {}, el("strong", { text: label }), ` — ${hint}`));
  const size = el("input", { id: "touchup-size", type: "range", min: 4, max: 160, value: 40,
                             dataset: { role: "brush-size" } });
  const undo = el("button", { type: "button", disabled: true, onclick: () => {
    strokes.pop();
    redraw();
  } }, "Undo stroke");
  const apply = el("button", { type: "button", class: "primary", disabled: true,
                               dataset: { role: "apply-touchup" }, onclick: send },
  "Apply touch-up");
  const error = el("p", { class: "error", role: "alert", hidden: true });
  const root = el("section", { class: "touchup", "aria-label": "Touch up the cutout" },
    el("div", { class: "touchup-tools" },
      el("fieldset", {}, el("legend", { text: "Brush" }),
        mode("keep", "Keep", "paint the product back in", true),
        mode("erase", "Erase", "remove leftover background", false)),
      el("div", { class: "field" }, el("label", { for: "touchup-size", text: "Brush size" }),
        size),
      el("div", { class: "actions" }, undo, el("button", { type: "button", onclick: onCancel },
        "Cancel"), apply)),
    status, error, stage);

  const brushMode = () => root.querySelector("input[name=touchup-brush]:checked").value;
  const scale = () => canvas.width / canvas.getBoundingClientRect().width;  // photo px per css px

  function at(event) {
    const box = canvas.getBoundingClientRect();
    const s = scale();
    return [Math.round((event.clientX - box.left) * s * 100) / 100,
      Math.round((event.clientY - box.top) * s * 100) / 100];
  }

  function paint(stroke, from) {
    const ctx = canvas.getContext("2d");
    ctx.save();
    ctx.globalCompositeOperation = stroke.mode === "keep" ? "destination-out" : "source-over";
    ctx.fillStyle = ctx.strokeStyle = TINT;
    ctx.lineWidth = 2 * stroke.radius;
    ctx.lineCap = ctx.lineJoin = "round";
    const points = stroke.points.slice(Math.max(0, from - 1));
    ctx.beginPath();
    if (points.length === 1) {
      ctx.arc(points[0][0], points[0][1], stroke.radius, 0, 2 * Math.PI);
      ctx.fill();
    } else {
      ctx.moveTo(points[0][0], points[0][1]);
      for (const [x, y] of points.slice(1)) ctx.lineTo(x, y);
      ctx.stroke();
    }
    ctx.restore();
  }

  function redraw() {
    const ctx = canvas.getContext("2d");
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    ctx.drawImage(overlay, 0, 0);
    for (const stroke of strokes) paint(stroke, 0);
    undo.disabled = apply.disabled = !strokes.length;
    const keep = strokes.filter((s) => s.mode === "keep").length;
    status.textContent = strokes.length
      ? `${plural(keep, "keep stroke")}, ${plural(strokes.length - keep, "erase stroke")}.`
      : "Paint with Keep where the product was cut away, with Erase where background is left.";
  }

  canvas.addEventListener("pointerdown", (event) => {
    if (!overlay || event.button !== 0) return;
    event.preventDefault();
    canvas.setPointerCapture(event.pointerId);
    const radius = Math.max(0.5, (Number(size.value) / 2) * scale());
    current = { mode: brushMode(), radius: Math.round(radius * 100) / 100, points: [at(event)] };
    paint(current, 0);
  });
  canvas.addEventListener("pointermove", (event) => {
    if (!current) return;
    const point = at(event);
    const last = current.points[current.points.length - 1];
    if (Math.hypot(point[0] - last[0], point[1] - last[1]) < current.radius * MIN_STEP) return;
    current.points.push(point);
    paint(current, current.points.length - 1);
  });
  const finish = () => {
    if (!current) return;
    strokes.push(current);
    current = null;
    redraw();
  };
  canvas.addEventListener("pointerup", finish);
  canvas.addEventListener("pointercancel", finish);

  async function send() {
    apply.disabled = true;
    error.hidden = true;
    status.textContent = "Sending the touch-up…";
    try {
      await api(`images/${image.id}/touch-up`, { method: "POST", body: { strokes } });
      onSent();
    } catch (problem) {
      error.textContent = problem.message;
      error.hidden = false;
      apply.disabled = false;
      status.textContent = "";
    }
  }

  const layer = new Image();
  layer.decoding = "async";
  layer.onload = () => {
    overlay = layer;
    canvas.width = layer.naturalWidth;
    canvas.height = layer.naturalHeight;
    const ratio = layer.naturalWidth / layer.naturalHeight;
    stage.style.aspectRatio = `${layer.naturalWidth} / ${layer.naturalHeight}`;
    stage.style.width = `min(100%, ${(65 * ratio).toFixed(2)}vh)`;  // the whole photo in view
    root.dataset.ready = "1";
    redraw();
  };
  layer.onerror = () => {
    status.textContent = "";
    error.textContent = "The cutout could not be loaded; close this view and try again.";
    error.hidden = false;
  };
  layer.src = image.touch_up.overlay;
  return root;
}
