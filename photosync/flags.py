"""Reading stored flags: every flag is ``{"code", "message"}`` (codes: pipeline.flags).

Rows written before flags had codes hold plain sentences; they read as code ``legacy`` (flagged,
reason unknown to the code) so nothing crashes and nothing old slips through as unflagged.
Decisions (auto-approval, the "Fidelity OK" badge) read :func:`flag_codes`, never the text.
"""

from __future__ import annotations

LEGACY = "legacy"


def flags_read(raw) -> list[dict[str, str]]:
    """The stored ``flags`` JSON as a list of ``{"code", "message"}``, whatever its age."""
    flags = []
    for item in raw or ():
        if isinstance(item, dict) and item.get("code"):
            flags.append({"code": str(item["code"]), "message": str(item.get("message", ""))})
        elif isinstance(item, dict):
            flags.append({"code": LEGACY, "message": str(item.get("message", item))})
        else:
            flags.append({"code": LEGACY, "message": str(item)})
    return flags


def flag_codes(raw) -> list[str]:
    """The codes of the stored flags, in order, without repeats."""
    return list(dict.fromkeys(flag["code"] for flag in flags_read(raw)))


def flags_store(flags) -> list[dict[str, str]]:
    """What the database holds for a pipeline output's flags (``Flag`` objects or dicts)."""
    return [flag.to_dict() if hasattr(flag, "to_dict") else flags_read([flag])[0]
            for flag in flags]
