"""`python -m photosync.settings_table --write | --check | --env-example | --readme`."""

from __future__ import annotations

import argparse
import sys

from photosync.settings_table import render


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m photosync.settings_table",
        description="Generate .env.example and the README's settings table from "
                    "photosync/settings_table/rows.py.",
    )
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--write", action="store_true",
                      help="rewrite .env.example and the README's table in place")
    what.add_argument("--check", action="store_true",
                      help="exit 1, naming the files, when either drifted from the table")
    what.add_argument("--env-example", action="store_true", help="print .env.example")
    what.add_argument("--readme", action="store_true",
                      help="print the README's settings table (the text between its markers)")
    args = parser.parse_args(argv)
    if args.env_example:
        sys.stdout.write(render.env_example())
    elif args.readme:
        sys.stdout.write(render.readme_table())
    elif args.check:
        stale = render.drifted()
        for path in stale:
            print(f"{path.name} differs from photosync/settings_table/rows.py; run "
                  "`python -m photosync.settings_table --write`", file=sys.stderr)
        return 1 if stale else 0
    else:
        for path in render.write():
            print(f"wrote {path.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
