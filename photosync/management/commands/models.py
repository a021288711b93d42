"""``manage.py models``: the model registry as a table, with this deployment's choices.

Lists every model PhotoSync knows (``pipeline.models``): task, how to select it, source,
licence, commercial use, native size, steps and guidance, VRAM estimate, input normalisation
and the tier that uses it by default; then the notes, and which models the settings name now
(marking any the licence gate would refuse). ``--markdown`` prints the table the README shows.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand

COLUMNS = ("model", "task", "select with", "source", "licence", "commercial", "size",
           "steps / guidance", "VRAM GB", "input", "default in")


class Command(BaseCommand):
    help = "List every model PhotoSync knows, with its licence and the tier that uses it."

    def add_arguments(self, parser):
        parser.add_argument("--markdown", action="store_true",
                            help="print the table as Markdown (the README's)")

    def handle(self, *args, markdown: bool, **options):
        # Imported here: the pipeline loads numpy and OpenCV; only this command needs them.
        from pipeline.models import MODELS, table

        rows = table()
        if markdown:
            self.stdout.write(_markdown(rows))
        else:
            self.stdout.write(_text(rows))
            self.stdout.write("")
            self.stdout.write(self._configured())
        self.stdout.write("")
        self.stdout.write("Notes:" if not markdown else "Notes:\n")
        for m in MODELS:
            if m.note:
                self.stdout.write(f"- {'`' + m.key + '`' if markdown else m.key}: {m.note}.")

    def _configured(self) -> str:
        from django.conf import settings

        from photosync.services.generation_config import configured_models
        from pipeline.models import model_for

        lines = ["Configured here:"]
        for setting, names in configured_models().items():
            for name in names:
                spec = model_for(name)
                what = (f"{spec.name}, {spec.licence}"
                        + ("" if spec.commercial else ", NOT for commercial use")
                        if spec else "not in the registry: check its licence yourself")
                lines.append(f"  {setting} = {name} ({what})")
        allowed = settings.PHOTOSYNC_ALLOW_NONCOMMERCIAL_MODELS
        lines.append(f"  PHOTOSYNC_ALLOW_NONCOMMERCIAL_MODELS = {str(allowed).lower()}")
        return "\n".join(lines)


def _text(rows: list[dict[str, str]]) -> str:
    widths = {c: max(len(c), *(len(r[c]) for r in rows)) for c in COLUMNS}
    lines = ["  ".join(c.ljust(widths[c]) for c in COLUMNS).rstrip(),
             "  ".join("-" * widths[c] for c in COLUMNS)]
    lines += ["  ".join(r[c].ljust(widths[c]) for c in COLUMNS).rstrip() for r in rows]
    return "\n".join(lines)


def _markdown(rows: list[dict[str, str]]) -> str:
    def cell(column: str, value: str) -> str:
        value = value.replace("|", "\\|")
        return f"`{value}`" if value and column in ("model", "select with") else value

    lines = ["| " + " | ".join(c.capitalize() if c != "VRAM GB" else c for c in COLUMNS) + " |",
             "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(cell(c, r[c]) for c in COLUMNS) + " |" for r in rows]
    return "\n".join(lines)
