"""Flag codes: every flag on an output is a stable machine code plus a sentence for people.

Anything that decides (auto-approval, "Fidelity OK") reads codes, never the message text. A code
must be listed in ``FLAG_CODES`` (code -> one-line meaning, shown in the README); creating a
:class:`Flag` with any other code raises.
"""

from __future__ import annotations

from dataclasses import dataclass

FLAG_CODES: dict[str, str] = {
    "segmenter_fallback": "the configured segmenter was unavailable; the next one in the "
                          "fallback chain removed the background",
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
