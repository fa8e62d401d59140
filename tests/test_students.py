"""STUDENTS.md, the lab sheet: what it tells a student to open and run exists and parses."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from coral_lab.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
SHEET = (ROOT / "STUDENTS.md").read_text()


def test_every_notebook_the_sheet_names_exists_and_the_path_covers_01_to_10():
    named = set(re.findall(r"notebooks/((?:student/)?\d\d_[a-z_]+\.ipynb)", SHEET))
    assert named, "the sheet names no notebook"
    missing = [n for n in sorted(named) if not (ROOT / "notebooks" / n).is_file()]
    assert missing == []
    numbers = {Path(n).name[:2] for n in named}
    assert {"01", "02", "03", "04", "05", "06", "07", "08", "09", "10"} <= numbers


@pytest.mark.parametrize("command", sorted(set(re.findall(r"`(coral-lab [^`]+)`", SHEET))))
def test_every_coral_lab_command_of_the_sheet_parses(command):
    build_parser().parse_args(shlex.split(command)[1:])  # an unknown flag or value exits (SystemExit)


def test_the_sheet_names_the_install_and_the_folder_notebooks_read():
    assert "bash scripts/install.sh notebooks" in SHEET
    assert "runs/quick/" in SHEET  # where quickstart writes and notebooks 05, 06 and 08 read (tests/test_cli.py)
    assert (ROOT / "scripts" / "install.sh").is_file()


def _estimate(notebook: str) -> int:
    """The minutes a notebook's "Check your understanding" says it takes ("*Estimated time: about N minutes")."""
    import json

    text = "\n".join("".join(c["source"]) for c in json.loads((ROOT / "notebooks" / notebook).read_text())["cells"]
                     if c["cell_type"] == "markdown")
    found = re.findall(r"Estimated time: about (\d+) minutes", text)
    assert len(found) == 1, notebook
    return int(found[0])


def _section(title: str) -> str:
    start = SHEET.index(title)
    end = SHEET.find("\n## ", start + 1)
    return SHEET[start:end if end > 0 else None]


@pytest.mark.parametrize("lab", ["## Lab 1", "## Lab 2"])
def test_each_lab_fits_90_minutes_and_gives_every_notebook_its_own_estimate(lab):
    rows = re.findall(r"^\| (\d+)-(\d+) \| .*?\| `notebooks/(?:student/)?(\d\d_[a-z_]+\.ipynb)` \|$", _section(lab), re.M)
    assert rows, lab
    ends = []
    for start, end, notebook in rows:
        assert int(end) - int(start) == _estimate(notebook), f"{lab}: {notebook} gets {int(end) - int(start)} min"
        ends.append(int(end))
    spans = re.findall(r"^\| (\d+)-(\d+) \|", _section(lab), re.M)
    assert max(int(e) for _, e in spans) <= 90 and ends == sorted(ends)


def test_the_homework_tables_give_every_notebook_its_own_estimate():
    for title in ("## Before the first lab", "## After lab 2"):
        rows = re.findall(r"^\| (\d+) \| .*?\| `notebooks/(?:student/)?(\d\d_[a-z_]+\.ipynb)` \|$", _section(title), re.M)
        assert rows, title
        for minutes, notebook in rows:
            assert int(minutes) == _estimate(notebook), f"{title}: {notebook}"
