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
