"""The student release (scripts/make_student_release.py): no solution, no answer key, choices recorded."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_student_release_holds_no_solution_and_no_answer_key(tmp_path):
    dest = tmp_path / "release"
    done = subprocess.run([sys.executable, "scripts/make_student_release.py", str(dest)], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    notebooks = sorted((dest / "notebooks").glob("*.ipynb"))
    assert [p.name for p in notebooks] == sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb"))
    for nb in [*notebooks, *(dest / "notebooks" / "student").glob("*.ipynb")]:
        text = nb.read_text()
        assert "### BEGIN SOLUTION" not in text and "### END SOLUTION" not in text, nb.name
    for name in ("06_linear_probes.ipynb", "13_evaluation_protocols.ipynb"):  # the student copy, at both paths
        assert (dest / "notebooks" / name).read_bytes() == (ROOT / "notebooks" / "student" / name).read_bytes()
    assert not (dest / "coral_lab" / "teaching" / "answer_keys.json").exists()
    assert not (dest / "docs" / "instructor.md").exists()
    # a multiple-choice answer is recorded there, not graded
    code = ("from coral_lab.teaching import exercises as E; g = E.check_choice('synergy_from_unique', 'b'); "
            "print(g.status)")
    out = subprocess.run([sys.executable, "-c", code], cwd=dest, capture_output=True, text=True, timeout=120,
                         env={"PYTHONPATH": str(dest), "PATH": "/usr/bin:/bin"})
    assert out.stdout.strip() == "recorded", out.stderr
    check = subprocess.run([sys.executable, "scripts/make_student_release.py", str(dest), "--check"], cwd=ROOT,
                           capture_output=True, text=True, timeout=300)
    assert check.returncode == 0
    # a solution slipped into the release is caught by --check; an existing folder is never written into
    planted = dest / "notebooks" / "06_linear_probes.ipynb"
    planted.write_text(json.dumps({"cells": [{"source": ["### BEGIN SOLUTION\n"]}]}))
    assert subprocess.run([sys.executable, "scripts/make_student_release.py", str(dest), "--check"], cwd=ROOT,
                          capture_output=True, text=True, timeout=300).returncode == 1
    again = subprocess.run([sys.executable, "scripts/make_student_release.py", str(dest)], cwd=ROOT,
                           capture_output=True, text=True, timeout=300)
    assert again.returncode == 2 and "exists" in again.stderr
