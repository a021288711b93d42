"""The segmenter fallback chain: the configured segmenter, then each of ``segmenter_fallback``.

When a segmenter cannot run for a photo (its model is missing or broken, its GPU is gone, its
API is down, rate limited, out of credits or behind an open circuit breaker) the next one
segments it, and the outcome says which one did and why each one before it did not. Only the
photo's own problems (:class:`~pipeline.errors.InputError`) stop the chain: the next segmenter
would fail the same way. With no fallback configured, a failure is raised as it was.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from pipeline.backends import get_segmenter, segmenter_spec
from pipeline.backends.base import Segmentation
from pipeline.errors import BackendUnavailable, InputError, PipelineError
from pipeline.flags import Flag
from pipeline.models import model_for

if TYPE_CHECKING:
    from pipeline.config import PipelineConfig

REASON_CHARS = 240  # a reason is shown to merchants: one readable sentence, not a traceback


@dataclass
class Outcome:
    segmentation: Segmentation
    used: str  # the backend that produced the mask
    failures: list[tuple[str, str]] = field(default_factory=list)  # (segmenter, why) skipped

    @property
    def fell_back(self) -> bool:
        return bool(self.failures)

    def flag(self) -> Flag:
        """``segmenter_fallback``: who removed the background, and why not the ones before."""
        why = " and ".join(f"{name} was unavailable ({reason})" for name, reason in self.failures)
        return Flag("segmenter_fallback",
                    f"Background removed by {segmenter_label(self.used)} because {why}.")

    def metrics(self) -> dict:
        if not self.failures:
            return {}
        return {"segmenter_requested": self.failures[0][0],
                "segmenter_fallback_reason": "; ".join(f"{n}: {r}" for n, r in self.failures)}


def chain(config: PipelineConfig) -> list[str]:
    """The segmenters to try, in order, without repeats or ones known to be unavailable."""
    skip = {name for name, _ in config.segmenter_unavailable}
    names: list[str] = []
    for name in (config.segmenter, *config.segmenter_fallback):
        if name not in names and name not in skip:
            names.append(name)
    return names


def segment_with_fallback(config: PipelineConfig, rgb: np.ndarray) -> Outcome:
    failures = [(name, _short(reason)) for name, reason in config.segmenter_unavailable]
    names = chain(config)
    last: Exception | None = None
    for name in names:
        try:
            segmenter = get_segmenter(name, **segmenter_spec(name).options_from(config))
            segmentation = segmenter.segment(rgb)
        except InputError:
            raise
        except Exception as exc:  # a model's own runtime error, too: the next one may work
            if len(names) == 1 and not failures:
                raise  # no chain: the error as it always was
            last = exc
            failures.append((name, _short(exc.message if isinstance(exc, PipelineError)
                                             else f"{type(exc).__name__}: {exc}")))
            continue
        return Outcome(segmentation, segmentation.segmenter or segmenter.name, failures)
    raise BackendUnavailable(
        "No segmenter could remove the background: "
        + "; ".join(f"{name}: {reason}" for name, reason in failures) + "."
    ) from last


def segmenter_label(name: str) -> str:
    """What to call a segmenter in a sentence for a merchant: the registry's name for it."""
    if name == "input-alpha":
        return "the photo's own transparency"
    if name == "touch-up":
        return "your touch-up of the cutout"
    spec = model_for(name)
    return spec.name if spec is not None else name


def _short(reason: str) -> str:
    reason = " ".join(reason.split()).rstrip(".")
    return reason if len(reason) <= REASON_CHARS else reason[: REASON_CHARS - 1] + "…"
