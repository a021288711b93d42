"""Scene generation with diffusers inpainting pipelines: UNet families (SD 2, SDXL inpainting)
and transformer families (FLUX.2 [klein], Z-Image, Qwen-Image-Edit).

``diffusers:<hub id or local folder>`` loads the pipeline through ``AutoPipelineForInpainting``
(or, for a family it does not map, the inpainting class the model registry names) once per
process, on an explicit device and dtype. The native size comes from the pipeline's own config
(a UNet's ``sample_size`` × the VAE's scale factor; for a transformer, the registry's native size
or the pipeline's default sample size); steps and guidance default to the registry's few-step
values for the model (``pipeline.models``), else 25 and 7.0. Nothing is downloaded at run
time: a hub id must already be in the Hugging Face cache (pre-fetch it when building the
image); a missing model is a :class:`~pipeline.errors.ModelNotFound`. ``device="cuda"`` on a
host without a usable GPU is a :class:`~pipeline.errors.DeviceUnavailable`: the worker refuses
to start rather than silently running on the CPU.

Per request, the product (already placed on the output canvas) is scaled to the generation size
(the model's native size unless configured, multiples of 8), its mask is dilated by a few pixels
and inverted into the repaint mask, and all variations are generated in one batch
(``num_images_per_prompt``, one seeded generator per variation, so variation *i* is the same
whatever the batch). The runner then composites the original product back at full resolution.

Deadlines are enforced between denoising steps (``callback_on_step_end``). On CUDA out-of-memory
the cache is freed and the request retried once degraded (VAE tiling and slicing, one image at a
time); a second out-of-memory is :class:`~pipeline.errors.OutOfMemory`, not retried.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image

from pipeline.backends.procedural import render_backdrop
from pipeline.errors import (
    BackendUnavailable,
    ConfigError,
    DeviceUnavailable,
    GenerationError,
    GenerationTimeout,
    ModelNotFound,
    OutOfMemory,
)
from pipeline.presets import ScenePreset
from pipeline.stages.frame import Layer, resize_rgba

log = logging.getLogger(__name__)

MASK_DILATE_PX = 4  # at generation size: the model may repaint this close to the product
DEFAULT_STEPS = 25
DEFAULT_GUIDANCE = 7.0


def _torch():
    # Lazy (here and for diffusers below): torch and diffusers are optional (the ml extra) and
    # take seconds to import; a missing one is BackendUnavailable with a hint, not ImportError.
    try:
        import torch
    except ImportError:
        raise BackendUnavailable(
            "diffusers scene generation needs torch: install the ml extra (torch, diffusers, "
            "transformers)."
        ) from None
    return torch


class DiffusersSceneGenerator:
    """A loaded inpainting pipeline; ``generate`` is serialised (one GPU, one request)."""

    def __init__(self, source: str, *, device: str = "cpu", dtype: str = "float32",
                 scheduler: str | None = None, lora: str | None = None,
                 lora_scale: float = 1.0, pipe: Any = None) -> None:
        """``pipe``: an already built pipeline (``bench/gpu.py``'s random-weight models) used
        instead of loading ``source``; everything after loading is the same."""
        torch = _torch()
        self.name = f"diffusers:{source}"
        self.source = source
        self.device = device
        self._lock = threading.Lock()
        self._degraded = False
        if device == "cuda" and not torch.cuda.is_available():
            raise DeviceUnavailable(
                "device=cuda was configured but no usable CUDA GPU was found "
                "(torch.cuda.is_available() is False); refusing to fall back to the CPU. Set "
                "device=cpu explicitly to generate on the CPU."
            )
        if device not in ("cpu", "cuda"):
            raise ConfigError(f"Unknown device {device!r}; use cpu or cuda.")
        dtypes = {"float32": torch.float32, "float16": torch.float16,
                  "bfloat16": torch.bfloat16}
        if dtype not in dtypes:
            raise ConfigError(f"Unknown dtype {dtype!r}; use {', '.join(dtypes)}.")
        if dtype == "float16" and device == "cpu":
            raise ConfigError("dtype=float16 needs device=cuda; use float32 or bfloat16 on CPU.")
        self.dtype = dtypes[dtype]
        from pipeline.models import model_for  # lazy: registry lookups only

        self.spec = model_for(self.name)
        self.pipe = pipe if pipe is not None else self._load(source)
        if scheduler:
            self._set_scheduler(scheduler)
        if lora:
            self._load_lora(lora, lora_scale)
        self.pipe.to(device)
        self.pipe.set_progress_bar_config(disable=True)
        self.native_size = native_size(self.pipe, self.spec)
        # Sides must be multiples of what the image processor divides by: 8 for UNet
        # families, 16 for FLUX.2 and Z-Image (the VAE factor × their 2×2 latent patches).
        processor = getattr(getattr(self.pipe, "image_processor", None), "config", None)
        self.multiple = max(8, int(getattr(processor, "vae_scale_factor", 8) or 8))
        self.default_steps = (self.spec.steps if self.spec and self.spec.steps
                              else DEFAULT_STEPS)
        self.default_guidance = (self.spec.guidance if self.spec and self.spec.guidance
                                 is not None else DEFAULT_GUIDANCE)
        import inspect

        self._accepts = set(inspect.signature(self.pipe.__call__).parameters)

    def _load(self, source: str):
        try:
            from diffusers import AutoPipelineForInpainting  # lazy: see _torch
        except ImportError:
            raise BackendUnavailable(
                "diffusers scene generation needs the diffusers and transformers packages."
            ) from None
        folder = Path(source).expanduser()
        local = folder.is_dir()
        if not local and (source.startswith(("/", ".", "~")) or source.count("/") != 1):
            raise ModelNotFound(
                f"Scene model folder {source!r} does not exist (and it is not a hub id of the "
                "form owner/name)."
            )
        try:
            return self._from_pretrained(AutoPipelineForInpainting, str(folder) if local
                                         else source)
        except OSError as exc:
            if local:
                raise BackendUnavailable(
                    f"Scene model folder {source!r} could not be loaded: {exc}"
                ) from exc
            from huggingface_hub.constants import HF_HUB_CACHE  # lazy: comes with diffusers

            raise ModelNotFound(
                f"Scene model {source!r} is not in the local Hugging Face cache ({HF_HUB_CACHE}). "
                f"Weights are never downloaded at run time; pre-fetch them with "
                f"`hf download {source}` when building the image."
            ) from exc
        except ValueError as exc:
            raise BackendUnavailable(
                f"Scene model {source!r} is not an inpainting pipeline diffusers can load: {exc}"
            ) from exc

    def _from_pretrained(self, auto, where: str):
        """Through the auto class; a family it does not map (FLUX.2 [klein]) through the
        inpainting class its registry entry names."""
        try:
            return auto.from_pretrained(where, dtype=self.dtype, local_files_only=True)
        except ValueError:
            import diffusers  # lazy: see _torch

            cls = getattr(diffusers, self.spec.pipeline, None) if self.spec else None
            if cls is None:
                cls = _inpaint_class_for(where)
            if cls is None:
                raise
            return cls.from_pretrained(where, dtype=self.dtype, local_files_only=True)

    def _set_scheduler(self, name: str) -> None:
        import diffusers  # lazy: see _torch

        compatible = sorted(c.__name__ for c in self.pipe.scheduler.compatibles)
        cls = getattr(diffusers, name, None)
        if cls is None or name not in compatible:
            raise ConfigError(
                f"Unknown scheduler {name!r} for this pipeline; compatible: "
                f"{', '.join(compatible)}."
            )
        self.pipe.scheduler = cls.from_config(self.pipe.scheduler.config)

    def _load_lora(self, lora: str, scale: float) -> None:
        try:
            self.pipe.load_lora_weights(lora, local_files_only=True)
            self.pipe.fuse_lora(lora_scale=scale)
        except (OSError, ValueError) as exc:
            raise ModelNotFound(f"LoRA {lora!r} could not be loaded: {exc}") from exc

    def generation_size(self, canvas: tuple[int, int],
                        scene_size: int | None = None) -> tuple[int, int]:
        """The canvas aspect at ``scene_size`` (default: the model's), sides multiples of the
        pipeline's (8 for UNet families, 16 for the transformer families)."""
        long_side = scene_size or self.native_size
        width, height = canvas
        scale = long_side / max(width, height)
        m = getattr(self, "multiple", 8)
        return (max(64, int(round(width * scale / m)) * m),
                max(64, int(round(height * scale / m)) * m))

    def inputs(self, product: Layer, preset: ScenePreset, seed: int,
               scene_size: int | None = None) -> tuple[Image.Image, Image.Image]:
        """The init image (procedural backdrop + product) and the repaint mask (white = paint)."""
        gen_w, gen_h = self.generation_size(product.canvas, scene_size)
        sx, sy = gen_w / product.canvas[0], gen_h / product.canvas[1]
        backdrop = render_backdrop(preset.backdrop, (gen_w, gen_h), seed)
        x0, y0, x1, y1 = product.box
        gx0, gy0 = int(round(x0 * sx)), int(round(y0 * sy))
        gx1 = max(gx0 + 1, min(gen_w, int(round(x1 * sx))))
        gy1 = max(gy0 + 1, min(gen_h, int(round(y1 * sy))))
        patch = resize_rgba(product.rgba, (gx1 - gx0, gy1 - gy0))
        alpha = np.zeros((gen_h, gen_w), np.uint8)
        alpha[gy0:gy1, gx0:gx1] = patch[..., 3]
        a = patch[..., 3:4].astype(np.float32) / 255.0
        region = backdrop[gy0:gy1, gx0:gx1].astype(np.float32)
        backdrop[gy0:gy1, gx0:gx1] = np.clip(
            patch[..., :3] * a + region * (1 - a) + 0.5, 0, 255).astype(np.uint8)
        kernel = cv2.getStructuringElement(
            cv2.MORPH_ELLIPSE, (2 * MASK_DILATE_PX + 1, 2 * MASK_DILATE_PX + 1))
        keep = cv2.dilate((alpha > 8).astype(np.uint8), kernel)
        repaint = np.where(keep > 0, 0, 255).astype(np.uint8)
        return Image.fromarray(backdrop, "RGB"), Image.fromarray(repaint, "L")

    def generate(self, *, product: Layer, preset: ScenePreset, seeds: list[int],
                 deadline: float | None = None, config: Any = None) -> list[np.ndarray]:
        """Backgrounds at the canvas size, one per seed (the product is composited later).

        ``config`` (a :class:`~pipeline.config.PipelineConfig`) supplies steps, guidance,
        strength and scene_size; the defaults are used without one.
        """
        if not seeds:
            return []
        steps, guidance = getattr(config, "steps", None), getattr(config, "guidance", None)
        params = {
            "steps": steps or self.default_steps,
            "guidance": self.default_guidance if guidance is None else guidance,
            "strength": getattr(config, "strength", 1.0),
        }
        image, mask = self.inputs(product, preset, seeds[0], getattr(config, "scene_size", None))
        with self._lock:
            images = self._run_with_oom_retry(image, mask, preset, seeds, deadline, params)
        canvas = product.canvas
        return [np.asarray(img.convert("RGB").resize(canvas, Image.Resampling.BICUBIC))
                for img in images]

    def _run_with_oom_retry(self, image, mask, preset, seeds, deadline,
                            params) -> list[Image.Image]:
        torch = _torch()
        try:
            if self._degraded:
                return self._run_one_by_one(image, mask, preset, seeds, deadline, params)
            return self._run(image, mask, preset, seeds, deadline, params)
        except torch.cuda.OutOfMemoryError:
            log.warning("scene generation ran out of GPU memory; retrying once degraded")
        self._free()
        self._degrade()
        try:
            return self._run_one_by_one(image, mask, preset, seeds, deadline, params)
        except torch.cuda.OutOfMemoryError as exc:
            self._free()
            raise OutOfMemory(
                "Scene generation ran out of GPU memory even with reduced settings."
            ) from exc

    def _run_one_by_one(self, image, mask, preset, seeds, deadline,
                        params) -> list[Image.Image]:
        out: list[Image.Image] = []
        for seed in seeds:
            out.extend(self._run(image, mask, preset, [seed], deadline, params))
        return out

    def _run(self, image, mask, preset: ScenePreset, seeds: list[int],
             deadline: float | None, params: dict) -> list[Image.Image]:
        torch = _torch()
        width, height = image.size
        steps = params["steps"]

        def on_step_end(pipe: Any, step: int, timestep: Any, kwargs: dict) -> dict:
            if deadline is not None and time.monotonic() > deadline:
                raise GenerationTimeout(
                    f"Scene generation passed its deadline after {step + 1} of {steps} "
                    "steps."
                )
            return kwargs

        if deadline is not None and time.monotonic() > deadline:
            raise GenerationTimeout("Scene generation passed its deadline before it started.")
        generators = [torch.Generator(device=self.device).manual_seed(s) for s in seeds]
        kwargs = {
            "prompt": preset.prompt, "negative_prompt": preset.negative_prompt, "image": image,
            "mask_image": mask, "width": width, "height": height, "num_inference_steps": steps,
            "guidance_scale": params["guidance"], "strength": params["strength"],
            "num_images_per_prompt": len(seeds), "generator": generators,
            "callback_on_step_end": on_step_end,
        }
        # FLUX.2 takes no negative prompt; pass each family only what its __call__ accepts.
        accepts = getattr(self, "_accepts", None) or set(kwargs)
        try:
            with torch.inference_mode():
                result = self.pipe(**{k: v for k, v in kwargs.items() if k in accepts})
        except (GenerationTimeout, torch.cuda.OutOfMemoryError):
            raise
        except RuntimeError as exc:
            raise GenerationError(f"Scene generation failed: {exc}") from exc
        return list(result.images)

    def _free(self) -> None:
        torch = _torch()
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()

    def _degrade(self) -> None:
        self._degraded = True
        for method in ("enable_vae_tiling", "enable_vae_slicing"):
            fn = getattr(self.pipe, method, None) or getattr(self.pipe.vae, method, None)
            if fn is not None:
                fn()


def native_size(pipe: Any, spec: Any = None) -> int:
    """The long side a pipeline generates best at, from its own config.

    UNet families: ``unet.config.sample_size`` × the VAE scale factor. Transformer families
    have no sample size in their config: the registry's native size for the model, else the
    pipeline's ``default_sample_size`` × the VAE scale factor, else 1024.
    """
    scale = int(getattr(pipe, "vae_scale_factor", 8) or 8)
    unet = getattr(pipe, "unet", None)
    if unet is not None and getattr(unet.config, "sample_size", None):
        sample = unet.config.sample_size
        return int((sample if isinstance(sample, int) else max(sample)) * scale)
    transformer = getattr(pipe, "transformer", None)
    sample = getattr(getattr(transformer, "config", None), "sample_size", None)
    if isinstance(sample, int) and sample:
        return int(sample * scale)
    if spec is not None and spec.native_size:
        return int(spec.native_size)
    default = getattr(pipe, "default_sample_size", None)
    return int(default * scale) if default else 1024


def _inpaint_class_for(folder: str):
    """The inpainting pipeline of a saved folder's family (``Flux2KleinPipeline`` ->
    ``Flux2KleinInpaintPipeline``), from its ``model_index.json``; None if there is none."""
    import json

    import diffusers  # lazy: see _torch

    index = Path(folder) / "model_index.json"
    if not index.is_file():
        return None
    name = json.loads(index.read_text()).get("_class_name", "")
    stem = name.removesuffix("InpaintPipeline").removesuffix("Pipeline")
    return getattr(diffusers, f"{stem}InpaintPipeline", None)
