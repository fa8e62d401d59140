"""coral_lab.teaching.exercises: each check grades right, wrong and blank answers; the student copies are the
instructor's notebooks with the solutions blanked, up to date, and report every exercise as not done."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from coral_lab.teaching import exercises as E

ROOT = Path(__file__).resolve().parents[1]
STUDENT = ROOT / "notebooks" / "student"


def _blank(*args):
    raise NotImplementedError("your code here")


def _nce(z1, z2, t=0.1):  # written out independently of coral_lab.objectives.losses
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    sim = (z @ z.T / t).masked_fill(torch.eye(len(z), dtype=torch.bool), float("-inf"))
    n = len(z1)
    return F.cross_entropy(sim, torch.cat([torch.arange(n, 2 * n), torch.arange(n)]))


@pytest.mark.parametrize("check, right, wrong", [
    (E.check_info_nce, _nce, lambda z1, z2, t=0.1: _nce(z1, z2, 2 * t)),
    (E.check_hinge_orthogonality, lambda a, b: F.cosine_similarity(a, b).clamp(min=0).mean(),
     lambda a, b: (F.cosine_similarity(a, b) ** 2).mean()),  # the squared penalty is not the hinge
    (E.check_token_keep_mask, lambda b, t, m, g: torch.rand((b, t), generator=g) >= m,
     lambda b, t, m, g: torch.rand((b, t), generator=g) < m),
    (E.check_paper_schedule, lambda e, n: [0.05, 0.35, 0.55, 0.75][min(3, 4 * e // n)],
     lambda e, n: [0.05, 0.35, 0.55, 0.75][min(3, e // 25)]),  # quarters of 100 epochs, not of training
    (E.check_published_penalty, lambda w, c: 0.5 * torch.linalg.norm(w) / c,
     lambda w, c: 0.5 * (w ** 2).sum() / c),  # the squared norm is not the published penalty
    (E.check_balanced_accuracy, lambda y, p: sum(sum(a == b == k for a, b in zip(y, p)) / y.count(k)
                                                 for k in set(y)) / len(set(y)),
     lambda y, p: sum(a == b for a, b in zip(y, p)) / len(y)),  # plain accuracy is not balanced accuracy
])
def test_function_checks_grade_right_wrong_blank_and_broken(check, right, wrong):
    assert check(right).status == "done"
    assert check(wrong).status == "wrong"
    assert check(_blank).status == "not done" and check(None).status == "not done"
    broken = check(lambda *a: 1 / 0)
    assert broken.status == "wrong" and "ZeroDivisionError" in broken.detail
    assert check("not a function").status == "wrong"


def test_pid_check_compares_with_the_broja_decomposition_of_or():
    assert E.check_pid_or({"redundancy": 0.311, "unique1": 0.0, "unique2": 0.0, "synergy": 0.5}).passed
    xor_like = E.check_pid_or({"redundancy": 0.0, "unique1": 0.0, "unique2": 0.0, "synergy": 0.811})
    assert xor_like.status == "wrong" and "redundancy is off by -0.311" in xor_like.detail
    assert E.check_pid_or(None).status == "not done"
    assert E.check_pid_or({"redundancy": 0.3}).status == "wrong"  # missing atoms
    assert E.check_pid_or({"redundancy": float("nan"), "unique1": 0, "unique2": 0, "synergy": 0.5}).status == "wrong"


def test_choice_checks_accept_exactly_one_option():
    for question, (_, options, _) in E.QUESTIONS.items():
        grades = [E.check_choice(question, letter) for letter in options]
        assert sum(g.passed for g in grades) == 1, question
        assert E.check_choice(question, None).status == "not done"
        assert E.check_choice(question, "z").status == "wrong"
    right = [k for k in E.QUESTIONS["synergy_from_unique"][1] if E.check_choice("synergy_from_unique", k).passed]
    assert right == ["b"]  # the sum-of-per-image-functions argument
    with pytest.raises(ValueError, match="unknown question"):
        E.check_choice("nope", "a")


def test_report_lists_the_latest_grade_of_each_exercise():
    E.GRADES.clear()
    assert E.report() == "no exercise checked yet"
    E.check_pid_or(None)
    E.check_info_nce(_nce)
    E.check_pid_or({"redundancy": 0.311, "unique1": 0.0, "unique2": 0.0, "synergy": 0.5})
    text = E.report()
    assert text.splitlines()[-1] == "2 of 2 done" and "[x] pid_or" in text


def test_student_version_blanks_solutions_and_clears_outputs():
    src = ("# NBVAL_CHECK_OUTPUT\ndef f(x):\n    ### BEGIN SOLUTION\n    y = x + 1\n    return y\n    ### END SOLUTION\n"
           "### BEGIN SOLUTION\nanswer = 'b'\n### STUDENT: answer = None  # your letter\n### END SOLUTION\nprint(f)\n")
    nb = {"cells": [{"cell_type": "code", "source": src, "outputs": [{"output_type": "stream", "text": "x"}],
                     "execution_count": 3, "metadata": {}},
                    {"cell_type": "markdown", "source": "### BEGIN SOLUTION stays in prose", "metadata": {}}]}
    out = E.student_version(nb)
    code = "".join(out["cells"][0]["source"])
    assert code == ("def f(x):\n    raise NotImplementedError(\"your code here\")\n"
                    "answer = None  # your letter\nprint(f)\n")
    assert out["cells"][0]["outputs"] == [] and out["cells"][0]["execution_count"] is None
    assert out["cells"][1] == nb["cells"][1] and nb["cells"][0]["source"] == src  # the input is untouched
    with pytest.raises(ValueError, match="without"):
        E.student_version({"cells": [{"cell_type": "code", "source": "### BEGIN SOLUTION\nx = 1\n"}]})


def test_the_committed_student_copies_are_up_to_date():
    done = subprocess.run([sys.executable, "scripts/make_student_notebooks.py", "--check"], cwd=ROOT,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    copies = sorted(p.name for p in STUDENT.glob("*.ipynb"))
    assert copies == ["01_pid_concepts.ipynb", "03_architecture.ipynb", "04_losses.ipynb", "05_pretraining.ipynb",
                      "06_linear_probes.ipynb", "13_evaluation_protocols.ipynb"]


@pytest.mark.parametrize("name", ["01_pid_concepts", "03_architecture", "04_losses", "05_pretraining",
                                  "06_linear_probes", "13_evaluation_protocols"])
def test_a_students_unfilled_exercises_run_and_report_not_done(name, capsys):
    """The student copy's exercise cells, run in order with the notebook's imports: every check says not done.

    (The whole student notebooks also run under nbval, as every notebook in notebooks/ does.)
    """
    cells = [c for c in json.loads((STUDENT / f"{name}.ipynb").read_text())["cells"] if c["cell_type"] == "code"]
    text = ["".join(c["source"]) for c in cells]
    assert not any(E.BEGIN in t or E.END in t for t in text), "a solution was left in the student copy"
    start = next(k for k, t in enumerate(text) if "from coral_lab.teaching import exercises" in t)
    E.GRADES.clear()
    namespace: dict = {"torch": torch}
    for t in text[start:]:
        if "exercises" in t or "def " in t or "answer" in t or "prediction" in t:
            exec(compile(t.replace("# NBVAL_CHECK_OUTPUT\n", ""), name, "exec"), namespace)
    assert E.GRADES, "no exercise was checked"
    assert all(g.status == "not done" for g in E.GRADES.values()), E.report()
    assert "[ ]" in capsys.readouterr().out


def test_an_answer_that_calls_the_library_it_is_checked_against_is_wrong():
    from coral_lab.objectives.losses import info_nce, orthogonality_loss
    from coral_lab.objectives.masking import token_keep_mask

    for check, lazy in ((E.check_info_nce, lambda z1, z2, t=0.1: info_nce(z1, z2, t)),
                        (E.check_hinge_orthogonality, lambda a, b: orthogonality_loss(a, b, "hinge")),
                        (E.check_token_keep_mask, lambda b, t, m, g: token_keep_mask(b, t, m, g))):
        grade = check(lazy)
        assert grade.status == "wrong" and "calls coral_lab." in grade.detail, grade
