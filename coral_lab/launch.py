"""The ``coral-lab`` console command's entry point: ``coral_lab.cli.main`` behind a Ctrl-C guard.

Importing the command line (torch, scikit-learn, pandas) takes seconds; a Ctrl-C pressed then would end
in a traceback of some library's import. This module imports nothing heavy itself, so the guard is in
place before the import starts, and the user gets the one line every other interruption gets.
"""

from __future__ import annotations

import sys

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    try:
        from coral_lab.cli import main as run
    except KeyboardInterrupt:
        print("error: interrupted while starting; nothing was written", file=sys.stderr)
        return 130
    return run(argv)


if __name__ == "__main__":
    sys.exit(main())
