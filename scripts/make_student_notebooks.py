"""Write the students' copies of the notebooks that hold graded exercises (solutions blanked).

    python scripts/make_student_notebooks.py            # notebooks/NN_*.ipynb -> notebooks/student/NN_*.ipynb
    python scripts/make_student_notebooks.py --check    # exit 1 if a student copy is out of date

The instructor's notebooks in notebooks/ keep their solutions (between ``### BEGIN SOLUTION`` and
``### END SOLUTION``) and are tested by nbval with the check cells' outputs pinned; the students'
copies (``coral_lab.teaching.exercises.student_version``) run top to bottom with the blanks unfilled and
report each exercise as not done. Re-run this script after editing an instructor's notebook.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from coral_lab.teaching.exercises import BEGIN, student_version

ROOT = Path(__file__).resolve().parents[1]
SOURCE, TARGET = ROOT / "notebooks", ROOT / "notebooks" / "student"


def render(nb: dict) -> str:
    return json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def expected() -> dict[Path, str]:
    """student copy path -> its text, for every instructor notebook with a solution block."""
    out = {}
    for path in sorted(SOURCE.glob("*.ipynb")):
        nb = json.loads(path.read_text())
        if any(BEGIN in "".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"):
            out[TARGET / path.name] = render(student_version(nb))
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--check", action="store_true", help="only compare; exit 1 if a copy is missing or stale")
    args = p.parse_args()
    want = expected()
    stale = [path for path, text in want.items() if not path.is_file() or path.read_text() != text]
    extra = sorted(set(TARGET.glob("*.ipynb")) - set(want))
    if args.check:
        for path in [*stale, *extra]:
            print(f"out of date: {path.relative_to(ROOT)} (run python scripts/make_student_notebooks.py)")
        return 1 if stale or extra else 0
    TARGET.mkdir(parents=True, exist_ok=True)
    for path in stale:
        path.write_text(want[path])
        print(f"wrote {path.relative_to(ROOT)}")
    for path in extra:
        path.unlink()
        print(f"removed {path.relative_to(ROOT)} (its notebook has no exercise any more)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
