"""Bring run folders written by an older coral_lab up to today's config layout (``coral_lab.config.upgrade``).

    python scripts/upgrade_run_folders.py runs/ results/            # rewrite what is out of date
    python scripts/upgrade_run_folders.py --check results/          # exit 1 if anything is out of date

Every folder holding a ``config.json`` under the folders given is upgraded: its config in today's
layout, and the ``config_hash`` of its output tables where they were written for exactly that config.
Nothing is needed to train, resume or load an older run (those read older configs as they are); this
keeps an older folder's scores current for ``coral_lab.config.runs.read_table``.
"""

from __future__ import annotations

import argparse
import sys

from coral_lab.config.upgrade import run_folders_under, upgrade_run_folder


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folders", nargs="+", help="folders holding run folders (searched recursively)")
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a folder is out of date")
    args = parser.parse_args(argv)
    lines: list[str] = []
    try:
        for root in args.folders:
            for folder in run_folders_under(root):
                lines += upgrade_run_folder(folder, dry_run=args.check)
    except (OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    for line in lines:
        print(("out of date: " if args.check else "upgraded: ") + line)
    if not lines:
        print("every run folder is in today's layout")
    return 1 if args.check and lines else 0


if __name__ == "__main__":
    sys.exit(main())
