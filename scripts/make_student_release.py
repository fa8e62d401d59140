"""Write the student release: this checkout without the solutions, the answer keys or the instructor's guide.

    python scripts/make_student_release.py DEST            # a folder to hand out (or to zip)
    python scripts/make_student_release.py DEST --check    # also re-read DEST and fail if any solution is in it

What a student gets: every file git tracks here, except that

- each notebook with graded exercises (``notebooks/NN_*.ipynb``, solutions between ``### BEGIN SOLUTION`` and
  ``### END SOLUTION``) is replaced by its student copy (``notebooks/student/NN_*.ipynb``, written by
  ``scripts/make_student_notebooks.py``) at the instructor's path as well as its own, so the paths
  STUDENTS.md names work in either copy;
- ``coral_lab/teaching/answer_keys.json`` (the multiple-choice answers) is left out: a choice is recorded for the
  instructor to grade (``coral_lab.teaching.exercises.check_choice``);
- the instructor's guide (``docs/instructor.md``) and this script are left out.

The release is checked before the command ends: no notebook in it holds a solution marker, and the
answer keys are not in it.
DEST must not exist yet, so nothing of the user's is overwritten.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LEFT_OUT = {"coral_lab/teaching/answer_keys.json", "docs/instructor.md", "scripts/make_student_release.py"}
MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION")


def tracked_files() -> list[str]:
    out = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return [line for line in out.splitlines() if line and (ROOT / line).is_file()]


def release_files() -> dict[str, Path]:
    """release path -> the file of this checkout it is copied from."""
    files = {f: ROOT / f for f in tracked_files() if f not in LEFT_OUT}
    for student in sorted((ROOT / "notebooks" / "student").glob("*.ipynb")):
        files[f"notebooks/{student.name}"] = student  # the student copy takes the instructor notebook's place
    return files


def problems(dest: Path) -> list[str]:
    """What must not be in a release: solution markers, answer keys."""
    found = []
    for path in sorted(p for p in dest.rglob("*") if p.is_file()):
        rel = path.relative_to(dest).as_posix()
        if rel in LEFT_OUT:
            found.append(f"{rel} is in the release")
        if path.suffix == ".ipynb" and any(m in path.read_text(errors="replace") for m in MARKERS):
            found.append(f"{rel} holds a solution")
    return found


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("dest", type=Path, help="a new folder for the release")
    p.add_argument("--check", action="store_true", help="only re-check an existing release")
    args = p.parse_args()
    if args.check:
        found = problems(args.dest)
        print("\n".join(found) or f"{args.dest}: no solution and no answer key")
        return 1 if found else 0
    if args.dest.exists():
        print(f"error: {args.dest} exists; give a new folder (nothing was written)", file=sys.stderr)
        return 2
    stale = subprocess.run([sys.executable, "scripts/make_student_notebooks.py", "--check"], cwd=ROOT,
                           capture_output=True, text=True)
    if stale.returncode != 0:
        print("error: a student copy is out of date; run python scripts/make_student_notebooks.py first",
              file=sys.stderr)
        return 2
    tmp = args.dest.with_name(f".{args.dest.name}.partial")
    shutil.rmtree(tmp, ignore_errors=True)
    for rel, source in release_files().items():
        target = tmp / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
    found = problems(tmp)
    if found:
        shutil.rmtree(tmp)
        print(f"error: the release would hold {found[0]}; nothing was written", file=sys.stderr)
        return 1
    tmp.rename(args.dest)  # the release appears whole or not at all
    print(f"student release in {args.dest}: {len(release_files())} files, no solution and no answer key")
    return 0


if __name__ == "__main__":
    sys.exit(main())
