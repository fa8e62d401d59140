"""The README is a guide and docs/ holds the reference: every reference page is on the rendered site and
named in the README, and the README stays a few hundred lines."""

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
# the instructor's guide holds the answer keys: it is left out of the site (and of the student release)
NOT_ON_SITE = {"docs/instructor.md"}


def _reference_pages() -> set[str]:
    return {p.relative_to(ROOT).as_posix() for p in (ROOT / "docs").glob("*.md")} - NOT_ON_SITE


def _toc_files() -> set[str]:
    toc = yaml.safe_load((ROOT / "site" / "_toc.yml").read_text())
    return {f"{c['file']}.md" for part in toc["parts"] for c in part["chapters"] if c["file"].startswith("docs/")}


def test_every_reference_page_is_on_the_site_and_no_other():
    assert _toc_files() == _reference_pages()


def test_the_readme_names_every_docs_page():
    assert {p for p in _reference_pages() | NOT_ON_SITE if p not in README} == set()


def test_the_readme_is_a_guide_of_a_few_hundred_lines():
    assert len(README.splitlines()) <= 300


def test_no_page_sends_the_reader_to_a_readme_section_that_moved():
    moved = ("Measured", "Baselines", "Run folders", "Real data", "The evaluation protocol audit", "Tests")
    offenders = []
    for path in [ROOT / "README.md", ROOT / "STUDENTS.md", *(ROOT / "docs").glob("*.md"),
                 *(ROOT / "notebooks").glob("*.ipynb")]:
        text = re.sub(r"\s+", " ", path.read_text())
        offenders += [f"{path.name}: README ... section {m}" for m in moved
                      if re.search(rf"README'?s?,? \(?sections? \"?{m}", text)]
    assert offenders == []


def _resolves(dotted: str) -> bool:
    """Whether ``coral_lab.x.y.name`` names a module of the package, or an attribute of one."""
    import importlib

    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ModuleNotFoundError:
            continue
        for name in parts[i:]:
            if not hasattr(obj, name):
                return False
            obj = getattr(obj, name)
        return True
    return False


def test_the_resolver_tells_a_moved_name():
    assert _resolves("coral_lab.objectives.losses.info_nce") and _resolves("coral_lab.config.runs")
    assert not _resolves("coral_lab.losses.info_nce")  # the path before the package had subpackages
    assert not _resolves("coral_lab.methods.PUBLISHED_OPTIMISER")


def test_every_dotted_coral_lab_name_in_the_docs_and_notebooks_resolves():
    # a module or a function that moves or is renamed leaves its old dotted name in the prose behind it
    pages = [ROOT / "README.md", ROOT / "STUDENTS.md", *(ROOT / "docs").glob("*.md"),
             *(ROOT / "notebooks").glob("*.ipynb"), *(ROOT / "notebooks" / "student").glob("*.ipynb")]
    names = {m.group(0).rstrip(".") for page in pages
             for m in re.finditer(r"(?<![\w./-])coral_lab(?:\.[A-Za-z_]\w*)+", page.read_text())}
    assert len(names) > 20
    assert sorted(n for n in names if not _resolves(n)) == []
