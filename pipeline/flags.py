"""Flag codes: every flag on an output is a stable machine code plus a sentence for people.

Anything that decides (auto-approval, "Fidelity OK") reads codes, never the message text. A code
must be listed in ``FLAG_CODES`` (code -> one-line meaning, shown in the README); creating a
:class:`Flag` with any other code raises.
"""

from __future__ import annotations

from dataclasses import dataclass

FLAG_CODES: dict[str, str] = {
    "mask_uncertain": "the segmenter doubts its own separation of product and background",
    "mask_too_small": "the cutout covers under 1% of the photo; the product may have been missed",
    "mask_too_large": "the cutout covers over 92% of the photo; the background may still be there",
    "mask_fragmented": "the cutout is in several sizeable parts; leftover background or missing "
                       "pieces",
    "touches_edge": "the product touches the photo's border; it may be cropped, or the backdrop "
                    "leaked into the cutout",
    "segmenter_fallback": "the configured segmenter was unavailable; the next one in the "
                          "fallback chain removed the background",
    "fidelity_failed": "product pixels in the output differ from the prepared product",
    "fidelity_low_coverage": "the pixel-fidelity check compared under 95% of the product, so it "
                             "cannot vouch for it",
    "colour_drift": "the product's colours in the output differ from the enhanced product "
                    "(what was intended), over 1 ΔE on average or 3 ΔE at the 95th percentile",
    "not_pure_white": "under 99.5% of the background outside the shadow is #FFFFFF in the "
                      "encoded file",
    "shadow_not_white": "a marketplace output whose shadow leaves under 95% of the background "
                        "pure white",
    "fill_mismatch": "the product's fill of the frame is more than 3 points off the preset's",
    "low_resolution": "the product was enlarged over 2.5x for this output and may look soft",
    "relit": "harmonisation graded the product's colour and exposure toward the scene's light; "
             "the message and the relit numbers say by how much",
}


@dataclass(frozen=True)
class Flag:
    """One reason an output needs a look: ``code`` from ``FLAG_CODES``, ``message`` for people."""

    code: str
    message: str

    def __post_init__(self) -> None:
        if self.code not in FLAG_CODES:
            raise ValueError(
                f"Unknown flag code {self.code!r}; add it to pipeline.flags.FLAG_CODES."
            )

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}

    def __str__(self) -> str:
        return self.message


def codes(flags: list[Flag]) -> list[str]:
    """The codes of ``flags``, in order, without repeats."""
    return list(dict.fromkeys(flag.code for flag in flags))
