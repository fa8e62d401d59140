"""The committed notebooks: valid nbformat, in the declared state (README "Notebooks", docs/notebooks.md), importing coral_lab."""

import json
import warnings
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


def test_the_notebooks_are_numbered_in_reading_order():
    assert len(NOTEBOOKS) >= 10
    numbers = [int(p.name.split("_")[0]) for p in NOTEBOOKS]
    assert numbers == list(range(1, len(NOTEBOOKS) + 1))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_state(path):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a missing cell id is a warning today and an error in later nbformat
        nbformat.validate(nbformat.read(path, as_version=4))
    nb = json.loads(path.read_text())
    ids = [c["id"] for c in nb["cells"]]
    assert len(set(ids)) == len(ids), "cell ids must be unique"
    assert "widgets" not in nb["metadata"], "widget state is not committed"
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert any("coral_lab" in "".join(c["source"]) for c in code), "notebooks import coral_lab"
    for c in code:
        pinned = "".join(c["source"]).startswith("# NBVAL_CHECK_OUTPUT")
        if not pinned:
            assert c["outputs"] == [] and c["execution_count"] is None, (
                f"{path.name}: outputs are stripped except in '# NBVAL_CHECK_OUTPUT' cells: {''.join(c['source'])[:60]!r}"
            )
        else:
            assert all(o["output_type"] == "stream" for o in c["outputs"]), "pinned cells keep small text outputs"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_notebook_changes_its_preset_because_a_gpu_is_present(path):
    import re

    code = "\n".join("".join(c["source"]) for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code")
    for call in re.findall(r"preset_from_env\(([^)]*)\)", code):
        assert not re.search(r"cuda|DEVICE|gpu", call, re.IGNORECASE), (
            f"{path.name}: the preset is the student's choice (CORAL_LAB_PRESET), never the hardware's: {call!r}")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_notebook_sends_a_student_to_a_file_outside_the_repository(path):
    text = path.read_text()
    assert "shared/paper" not in text and "shared/design" not in text, (
        f"{path.name} cites a file the repository (and the student release) does not have")
