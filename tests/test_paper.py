"""coral_lab.core.paper: the paper's facts agree with each other and with the package that uses them."""

import pytest

from coral_lab.core import paper
from coral_lab.methods import METHODS
from coral_lab.data import N_CLASSES
from coral_lab.evaluation.probe import TABLE1_TASKS


def test_table3_increasing_row_is_table1_coral_row():
    # the paper's default (the increasing schedule) is the run Table 1 reports for COrAL
    assert paper.PAPER_TABLE3["increasing"] == paper.PAPER_TABLE1["COrAL"]


def test_tables_name_every_method_by_its_display_name():
    # the paper's tables are keyed by the names the method registry prints, and every method of the
    # paper carries the optimiser its Trifeature row was published with
    names = [m.display_name for m in METHODS.values()]
    assert set(paper.PAPER_TABLE1) == set(names) and set(paper.PAPER_TABLE2) == set(names)
    assert all(m.published_optimiser is not None for m in METHODS.values())
    for row in (*paper.PAPER_TABLE1.values(), *paper.PAPER_TABLE3.values()):
        assert tuple(row) == paper.TABLE1_COLUMNS
    for row in paper.PAPER_TABLE2.values():
        assert tuple(row) == paper.TABLE2_DATASETS


def test_chance_levels_follow_the_number_of_classes_of_each_column():
    for column, task in TABLE1_TASKS.items():
        assert paper.CHANCE[column] == pytest.approx(100.0 / N_CLASSES[task])
    assert paper.chance_percent(4) == 25.0
    for bad in (1, 0, 2.0, True, "10"):
        with pytest.raises(ValueError, match="int >= 2"):
            paper.chance_percent(bad)


def test_no_other_module_defines_the_paper_tables():
    import pathlib

    import coral_lab

    root = pathlib.Path(coral_lab.__file__).parent  # the whole package, every subpackage
    names = ("PAPER_TABLE1 =", "PAPER_TABLE2 =", "PAPER_TABLE3", "PAPER_SEEDS =", "CHANCE = {\"")
    offenders = [(str(f.relative_to(root)), n) for f in root.rglob("*.py") if f.name != "paper.py"
                 for n in names if any(line.startswith(n) for line in f.read_text().splitlines())]
    assert offenders == []
