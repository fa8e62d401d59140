"""Graded exercises: a student's function or answer checked against coral_lab's own implementation.

Each ``check_*`` takes what the student wrote and returns a ``Grade`` (printed as one line): ``done``
when it agrees with the library, ``wrong`` with what differs, ``not done`` when the blank is still
blank (the function raises ``NotImplementedError``, or the answer is ``None``). A check never raises
on a student's mistake, so a notebook with unfilled blanks runs top to bottom. ``report()`` lists
every grade of the session.

The exercises (the notebook each one sits in):

- ``pid_or`` (01): predict the PID of Y = X1 OR X2 before computing it (``coral_lab.teaching.pid``);
- ``token_keep_mask`` (03): the per-token Bernoulli keep mask of M_m (``coral_lab.objectives.masking``);
- ``info_nce`` (04): the SimCLR / NT-Xent loss of eq. 4 (``coral_lab.objectives.losses.info_nce``);
- ``hinge_orthogonality`` (04): the cosine embedding loss of eq. 7 (``coral_lab.objectives.losses.orthogonality_loss``);
- ``paper_schedule`` (05): the paper's increasing masking schedule, against values worked out by hand;
- ``synergy_from_unique`` and ``texture1_from_z2`` (06): multiple choice on what the probes show;
- ``published_penalty`` and ``balanced_accuracy`` (13): the published probe's regulariser and the score
  both protocols report, checked against values worked out by hand (a call of coral_lab's own function
  passes only where it computes the same thing).

The multiple-choice answers are in ``coral_lab/teaching/answer_keys.json``, which the student release
(``scripts/make_student_release.py``) leaves out: there a choice is recorded for the instructor to grade.

``coral_lab.teaching.exercises.student_version`` turns an instructor's notebook (solutions between
``### BEGIN SOLUTION`` and ``### END SOLUTION``) into the student's (``scripts/make_student_notebooks.py``).
"""

from __future__ import annotations

import copy
import json
import math
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from coral_lab.objectives.losses import info_nce, orthogonality_loss
from coral_lab.objectives.masking import token_keep_mask
from coral_lab.teaching.pid import ATOMS, decompose, or_distribution

__all__ = [
    "Grade",
    "GRADES",
    "QUESTIONS",
    "check_pid_or",
    "check_token_keep_mask",
    "check_info_nce",
    "check_hinge_orthogonality",
    "check_paper_schedule",
    "check_published_penalty",
    "check_balanced_accuracy",
    "check_choice",
    "report",
    "BEGIN",
    "END",
    "student_version",
]

DONE, WRONG, NOT_DONE, RECORDED = "done", "wrong", "not done", "recorded"


@dataclass(frozen=True)
class Grade:
    """The outcome of one check: ``status`` is ``done``, ``wrong`` or ``not done``; ``detail`` says why."""

    exercise: str
    status: str
    detail: str

    @property
    def passed(self) -> bool:
        return self.status == DONE

    def __str__(self) -> str:
        mark = {DONE: "[x]", WRONG: "[!]", NOT_DONE: "[ ]", RECORDED: "[?]"}[self.status]
        return f"{mark} {self.exercise}: {self.status} - {self.detail}"

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:  # IPython shows the line, not the dataclass
        p.text(str(self))


GRADES: dict[str, Grade] = {}  # the latest grade of every exercise checked in this session


def _record(exercise: str, status: str, detail: str) -> Grade:
    grade = Grade(exercise, status, detail)
    GRADES[exercise] = grade
    return grade


_PACKAGE = str(Path(__file__).resolve().parents[1])  # coral_lab/, every layer of it


def _library_calls(fn: Callable[..., Any], *args: Any) -> tuple[Any, list[str]]:
    """``fn(*args)`` and the coral_lab functions it called (a profile hook sees every Python call), so a
    check can refuse an answer that only hands the work to the function it is checked against."""
    seen: list[str] = []

    def hook(frame: Any, event: str, arg: Any) -> None:
        if event == "call":
            path = frame.f_code.co_filename
            if path.startswith(_PACKAGE) and not path.endswith("exercises.py"):
                module = ".".join(Path(path).relative_to(_PACKAGE).with_suffix("").parts)
                seen.append(f"coral_lab.{module}.{frame.f_code.co_name}")

    previous = sys.getprofile()
    sys.setprofile(hook)
    try:
        return fn(*args), seen
    finally:
        sys.setprofile(previous)


def _call(exercise: str, fn: Any, *args: Any) -> tuple[Any, Grade | None]:
    """``fn(*args)``, or the grade that says why it could not be used (not done, not callable, it raised,
    or it called coral_lab's own implementation instead of computing the answer)."""
    if fn is None:
        return None, _record(exercise, NOT_DONE, "fill in the cell above, then run it and this one")
    if not callable(fn):
        return None, _record(exercise, WRONG, f"expected a function, got {type(fn).__name__}")
    try:
        result, calls = _library_calls(fn, *args)
    except NotImplementedError:
        return None, _record(exercise, NOT_DONE, "fill in the cell above, then run it and this one")
    except Exception as e:  # a student's bug: report it as one line, never as a traceback
        return None, _record(exercise, WRONG, f"your function raised {type(e).__name__}: {e}")
    if calls:
        return None, _record(exercise, WRONG, f"your function calls {calls[0]}: write it yourself with torch / "
                                              "numpy, without coral_lab's own implementation")
    return result, None


def _as_float(value: Any) -> float | None:
    try:
        out = float(value.item() if hasattr(value, "item") else value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


# ----------------------------------------------------------------------------------------------- PID


def check_pid_or(prediction: Mapping[str, float] | None, tolerance: float = 0.02) -> Grade:
    """A predicted PID of Y = X1 OR X2 (bits) against ``pid.decompose(or_distribution())`` (BROJA).

    Args:
        prediction: ``{"redundancy": R, "unique1": U1, "unique2": U2, "synergy": S}``; ``None`` = not done.
        tolerance: allowed error per atom, in bits.
    """
    name = "pid_or"
    if prediction is None:
        return _record(name, NOT_DONE, "write your four numbers into the dict above")
    if not isinstance(prediction, Mapping) or set(prediction) != set(ATOMS):
        return _record(name, WRONG, f"give a dict with exactly the keys {list(ATOMS)}")
    values = {k: _as_float(prediction[k]) for k in ATOMS}
    if any(v is None for v in values.values()):
        return _record(name, WRONG, "every atom must be a finite number of bits")
    truth = decompose(or_distribution())
    off = {k: values[k] - truth[k] for k in ATOMS if abs(values[k] - truth[k]) > tolerance}
    if off:
        hint = "; ".join(f"{k} is off by {d:+.3f} bit" for k, d in off.items())
        return _record(name, WRONG, f"{hint} (the four atoms must add up to I(X1, X2; Y) = {truth['total']:.3f} bit)")
    return _record(name, DONE, "matches the BROJA decomposition: " +
                   ", ".join(f"{k} {truth[k]:.3f}" for k in ATOMS) + " bit")


# ------------------------------------------------------------------------------------------- masking


def check_token_keep_mask(fn: Callable[[int, int, float, torch.Generator], torch.Tensor] | None) -> Grade:
    """A student's ``keep_mask(batch_size, n_tokens, ratio, generator)`` against ``masking.token_keep_mask``.

    The student's function must draw from the generator exactly as the library does (one uniform per
    token, kept where it is at least m), so with the same seed the two masks are identical.
    """
    name = "token_keep_mask"
    for batch, tokens, ratio, seed in ((4, 36, 0.35, 0), (2, 16, 0.0, 1), (3, 9, 0.75, 2)):
        got, problem = _call(name, fn, batch, tokens, ratio, torch.Generator().manual_seed(seed))
        if problem is not None:
            return problem
        want = token_keep_mask(batch, tokens, ratio, torch.Generator().manual_seed(seed))
        if not isinstance(got, torch.Tensor) or got.dtype != torch.bool or tuple(got.shape) != (batch, tokens):
            shape = tuple(got.shape) if isinstance(got, torch.Tensor) else type(got).__name__
            return _record(name, WRONG, f"expected a bool tensor of shape {(batch, tokens)}, got {shape}")
        if not torch.equal(got, want):
            kept = got.float().mean().item()
            return _record(name, WRONG, f"at m = {ratio} your mask differs from the library's with the same seed "
                                        f"(you keep {kept:.0%} of tokens, expected about {1 - ratio:.0%}; draw "
                                        "one uniform per token with torch.rand(..., generator=generator))")
    return _record(name, DONE, "identical to coral_lab.objectives.masking.token_keep_mask at m = 0, 0.35 and 0.75")


# -------------------------------------------------------------------------------------------- losses


def _batches(seed: int = 0) -> list[tuple[torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(seed)
    out = []
    for n, d in ((2, 3), (8, 16), (32, 64)):
        z1 = torch.randn(n, d, generator=g)
        out.append((z1, z1 + 0.5 * torch.randn(n, d, generator=g)))  # correlated views
    return out


def check_info_nce(fn: Callable[..., torch.Tensor] | None, temperature: float = 0.1) -> Grade:
    """A student's ``info_nce(z1, z2, temperature)`` against ``coral_lab.objectives.losses.info_nce`` on three
    batches."""
    name = "info_nce"
    for z1, z2 in _batches():
        got, problem = _call(name, fn, z1.clone(), z2.clone(), temperature)
        if problem is not None:
            return problem
        value, want = _as_float(got), float(info_nce(z1, z2, temperature))
        if value is None:
            return _record(name, WRONG, f"expected a scalar, got {type(got).__name__}")
        if not math.isclose(value, want, rel_tol=1e-4, abs_tol=1e-5):
            return _record(name, WRONG, f"on a batch of N = {len(z1)} you get {value:.5f}, the library {want:.5f} "
                                        "(2N rows, each against the 2N - 1 others; L2-normalise first)")
    return _record(name, DONE, "matches coral_lab.objectives.losses.info_nce on batches of N = 2, 8 and 32")


def check_hinge_orthogonality(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None) -> Grade:
    """A student's ``cel(a, b)`` (mean of max(0, cos)) against ``orthogonality_loss(a, b, "hinge")``."""
    name = "hinge_orthogonality"
    cases = [*(_batches(1)), (torch.tensor([[1.0, 0.0]]), torch.tensor([[-1.0, 0.0]])),
             (torch.tensor([[1.0, 0.0], [0.0, 2.0]]), torch.tensor([[3.0, 0.0], [0.0, -1.0]]))]
    for a, b in cases:
        got, problem = _call(name, fn, a.clone(), b.clone())
        if problem is not None:
            return problem
        value, want = _as_float(got), float(orthogonality_loss(a, b, "hinge"))
        if value is None:
            return _record(name, WRONG, f"expected a scalar, got {type(got).__name__}")
        if not math.isclose(value, want, rel_tol=1e-4, abs_tol=1e-6):
            return _record(name, WRONG, f"for a batch of N = {len(a)} pairs you get {value:.5f}, the library "
                                        f"{want:.5f} (the mean over rows of max(0, cos); opposite vectors cost 0)")
    return _record(name, DONE, "matches coral_lab.objectives.losses.orthogonality_loss(kind='hinge'), "
                               "opposite vectors included")


# ----------------------------------------------------------------------------------- multiple choice


# question -> (the question, its options, SHA-256 digest of the right option's letter)
# --------------------------------------------------------------------------------- probe protocols


# (epoch, epochs, the paper's mask ratio worked by hand: 0.05 / 0.35 / 0.55 / 0.75 from the training fractions
# 0, 1/4, 1/2, 3/4 on; with 10 epochs the quarters fall between epochs)
_SCHEDULE_CASES = (
    (0, 100, 0.05), (24, 100, 0.05), (25, 100, 0.35), (74, 100, 0.55), (75, 100, 0.75), (99, 100, 0.75),
    (2, 10, 0.05), (3, 10, 0.35), (5, 10, 0.55), (7, 10, 0.55), (8, 10, 0.75), (0, 1, 0.05),
)


def check_paper_schedule(fn: Callable[[int, int], float] | None) -> Grade:
    """A student's ``mask_ratio(epoch, epochs)``: the paper's increasing masking schedule (section 5.3) for a
    0-based epoch of ``epochs``, against values worked out by hand (10 epochs included, where the quarters
    fall between epochs)."""
    def integer_quarters(case: tuple, value: float) -> str:
        epoch, epochs, _ = case
        if epochs != 100:
            return " (the quarters are fractions of training: compare epoch / epochs with 1/4, 1/2, 3/4)"
        return ""

    bad = _check_against_hand_values("paper_schedule", fn, _SCHEDULE_CASES, lambda case: (case[0], case[1]),
                                     lambda case: f"epoch {case[0]} of {case[1]}", integer_quarters)
    return bad or _record("paper_schedule", DONE, "the 5 / 35 / 55 / 75 % steps at 100 and at 10 epochs")


# (weight, C, the published penalty (1 / C) * 0.5 * ||W||_2 worked by hand)
_PENALTY_CASES = (
    (((3.0, 0.0), (0.0, 4.0)), 2.0, 1.25),  # ||W|| = 5
    (((1.0, 2.0, 2.0),), 0.5, 3.0),  # ||W|| = 3
    (((0.0, 0.0), (0.0, 0.0)), 10.0, 0.0),
    (((1.0, 1.0), (1.0, 1.0)), 0.1, 10.0),  # ||W|| = 2
)


def _check_against_hand_values(name: str, fn: Any, cases: Any, args: Callable[[tuple], tuple],
                               shown: Callable[[tuple], str], mistake: Callable[[tuple, float], str]) -> Grade | None:
    """``fn(*args(case))`` against each case's hand-worked value (its last item); the first mismatch's grade,
    naming the inputs (``shown``) and a known mistake's hint (``mistake``: "" when none fits), or None."""
    for case in cases:
        got, problem = _call(name, fn, *args(case))
        if problem is not None:
            return problem
        value = _as_float(got)
        if value is None:
            return _record(name, WRONG, f"expected a number, got {type(got).__name__}")
        if not math.isclose(value, case[-1], rel_tol=1e-5, abs_tol=1e-6):
            return _record(name, WRONG, f"for {shown(case)} you get {value:.4f}, expected {case[-1]:.4f}"
                                        f"{mistake(case, value)}")
    return None


def check_published_penalty(fn: Callable[[torch.Tensor, float], torch.Tensor] | None) -> Grade:
    """A student's ``penalty(weight, C)``: the published probe's ``(1 / C) * 0.5 * ||W||_2`` (the norm, not
    its square), against values worked out by hand (not against coral_lab's own function)."""
    def squared(case: tuple, value: float) -> str:
        rows, c, _ = case
        if math.isclose(value, 0.5 * sum(v * v for row in rows for v in row) / c, rel_tol=1e-5):
            return " (that is the squared norm: the published penalty takes the norm itself)"
        return ""

    bad = _check_against_hand_values("published_penalty", fn, _PENALTY_CASES, lambda case: (torch.tensor(case[0]), case[1]),
                                     lambda case: f"W = {list(map(list, case[0]))}, C = {case[1]}", squared)
    return bad or _record("published_penalty", DONE, "(1 / C) * 0.5 * ||W||_2 on four weights worked by hand")


# (true labels, predictions, balanced accuracy worked by hand)
_BALANCED_CASES = (
    ((0, 0, 0, 0, 1, 1), (0, 0, 0, 0, 0, 0), 0.5),  # the majority class everywhere: chance on two classes
    ((0, 0, 1, 1), (0, 1, 1, 1), 0.75),  # recalls 1/2 and 2/2
    ((0, 1, 2, 2, 2, 2), (0, 2, 2, 2, 2, 1), (1.0 + 0.0 + 0.75) / 3),
    ((1, 1, 1, 0), (1, 1, 1, 0), 1.0),
)


def check_balanced_accuracy(fn: Callable[[Any, Any], float] | None) -> Grade:
    """A student's ``balanced_accuracy(y_true, y_pred)`` (mean per-class recall over the classes in
    ``y_true``) against values worked out by hand."""
    def plain(case: tuple, value: float) -> str:
        y, pred, _ = case
        if math.isclose(value, sum(a == b for a, b in zip(y, pred)) / len(y)):
            return " (that is plain accuracy: average the recall of each class instead)"
        return ""

    bad = _check_against_hand_values("balanced_accuracy", fn, _BALANCED_CASES, lambda case: (list(case[0]), list(case[1])),
                                     lambda case: f"y = {list(case[0])}, predictions {list(case[1])}", plain)
    return bad or _record("balanced_accuracy", DONE, "mean per-class recall on four label sets worked by hand")


# question key -> (question, {letter: option}, the notebook it is asked in); the right letters are in
# ANSWER_KEYS (coral_lab/teaching/answer_keys.json), which the student release leaves out
QUESTIONS: dict[str, tuple[str, dict[str, str], str]] = {
    "synergy_from_unique": (
        "Why can a linear probe on (Z_1^U, Z_2^U) not solve the synergy task, however well each is trained?",
        {"a": "the unique subspaces have only D/2 dimensions, too few for a 2-class task",
         "b": "each Z_i^U is computed from one image alone, and a linear probe adds a function of image 1 to a "
              "function of image 2; whether color 2 equals pi(texture 1) is a relation between the images that "
              "no such sum can test",
         "c": "the orthogonality loss removes synergy from the unique subspaces",
         "d": "the unique pathways are masked during training, so they never see both images"},
        "06",
    ),
    "texture1_from_z2": (
        "Texture 1 scores a little below chance (about 9 % against 10 %) when probed from Z_2^U. Why below, "
        "not at chance?",
        {"a": "Z_2^U encodes texture 2, which is always different from texture 1",
         "b": "the probe overfits the probe-test pairs",
         "c": "Z_2^U encodes the shape (both images share it), and in the combination split every (shape, texture) "
              "pair has its 10 colors divided between train and test: textures frequent with a shape in the "
              "probe-train pairs are rare with it in the probe-test pairs, so what the probe learns there points "
              "the wrong way",
         "d": "balanced accuracy is biased downwards for 10 classes"},
        "06",
    ),
}


ANSWER_KEYS = Path(__file__).with_name("answer_keys.json")


def _answer(question: str) -> str | None:
    """The right letter of ``question`` from ``ANSWER_KEYS``; None where the file is absent (a student release)."""
    try:
        keys = json.loads(ANSWER_KEYS.read_text())
    except FileNotFoundError:
        return None
    return keys[question]


def check_choice(question: str, answer: str | None) -> Grade:
    """A multiple-choice answer (the option's letter) to one of ``QUESTIONS``: graded where the answer keys
    are at hand (the instructor's checkout), recorded for the instructor to grade where they are not (the
    student release, ``scripts/make_student_release.py``)."""
    if question not in QUESTIONS:
        raise ValueError(f"unknown question {question!r}; valid: {sorted(QUESTIONS)}")
    _, options, _ = QUESTIONS[question]
    if answer is None:
        return _record(question, NOT_DONE, "set answer to the letter of your choice")
    if not isinstance(answer, str) or answer.strip().lower() not in options:
        return _record(question, WRONG, f"answer with one letter of {sorted(options)}")
    letter = answer.strip().lower()
    key = _answer(question)
    if key is None:
        return _record(question, RECORDED, f"your answer is {letter}; your instructor grades it")
    if letter != key:
        return _record(question, WRONG, f"not {letter}: go back to the probe map and think again")
    return _record(question, DONE, f"{letter} is right")


def report() -> str:
    """Every exercise checked in this session, one line each (not yet checked ones are not listed)."""
    if not GRADES:
        return "no exercise checked yet"
    done = sum(g.passed for g in GRADES.values())
    return "\n".join([*(str(g) for g in GRADES.values()), f"{done} of {len(GRADES)} done"])


# ----------------------------------------------------------------------------- the student's version

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
_STUDENT = re.compile(r"^(\s*)### STUDENT: (.*)$")
_BLANK = 'raise NotImplementedError("your code here")'


def _strip_cell(source: str) -> str:
    out, skipping, indent, replacement = [], False, "", None
    for line in source.splitlines():
        stripped = line.strip()
        if stripped == BEGIN:
            skipping, indent, replacement = True, line[: len(line) - len(line.lstrip())], None
            continue
        if skipping and _STUDENT.match(line):
            replacement = _STUDENT.match(line).group(2)
            continue
        if stripped == END:
            if not skipping:
                raise ValueError(f"{END!r} without {BEGIN!r}")
            out.append(indent + (replacement if replacement is not None else _BLANK))
            skipping = False
            continue
        if not skipping:
            out.append(line)
    if skipping:
        raise ValueError(f"{BEGIN!r} without {END!r}")
    return "\n".join(out) + ("\n" if source.endswith("\n") else "")


def student_version(notebook: Mapping[str, Any]) -> dict[str, Any]:
    """The student's copy of an instructor's notebook (nbformat 4 as a dict): solutions blanked, outputs cleared.

    In every code cell, the lines between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` become one
    line at the marker's indentation: the text of a ``### STUDENT: ...`` line inside the block if there
    is one (e.g. ``answer = None``), else ``raise NotImplementedError("your code here")``. Pinned-output
    markers are dropped and every output cleared (the student's run makes its own).
    """
    nb = copy.deepcopy(dict(notebook))
    for cell in nb.get("cells", []):
        if cell.get("cell_type") != "code":
            continue
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        source = _strip_cell(source)
        kept = [line for line in source.splitlines(keepends=True) if line.strip() != "# NBVAL_CHECK_OUTPUT"]
        cell["source"] = kept
        cell["outputs"], cell["execution_count"] = [], None
    return nb
