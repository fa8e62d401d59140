"""The notebooks' widgets driven like a student would: keyboard on the sliders, clicks on the buttons.

- Notebook 09 (interactive lab): after Run All, switch the masking to a static ratio, move the ratio
  and lambda_o sliders, press Train, and check that the trials table gains a row with exactly the
  settings the sliders show, and that the comparison chart gains that trial's bars with the table's
  scores.
- Notebook 01 (PID): move the mixture sliders and check that the printed atoms follow
  ``coral_lab.teaching.pid`` computed here for the weights the sliders show, ending at pure XOR (1 bit of
  synergy).

Both also get the checks of ``test_browser_notebooks.py`` (no cell error, widgets rendered, no
front-end error). Screenshots of every step go to the artefacts folder.
"""

from __future__ import annotations

import re

from jlab_page import TRIAL_TIMEOUT, UPDATE_TIMEOUT
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
from playwright.sync_api import expect

from coral_lab.teaching import pid

# -- helpers: read what the page shows ------------------------------------------------------------

_TABLE_JS = r"""(table) => {
  const head = [...table.querySelectorAll("thead tr:first-child th")].map(th => th.textContent.trim());
  return [...table.querySelectorAll("tbody tr")].map(tr => {
    const cells = [...tr.children].map(c => c.textContent.trim());
    return Object.fromEntries(head.map((h, i) => [h, cells[i]]));
  });
}"""

_BARS_JS = r"""(plot) => (plot._fullData || []).filter(t => t.type === "bar").map(t => ({
  name: t.name, x: Array.from(t.x), y: Array.from(t.y, Number), customdata: Array.from(t.customdata || [])
}))"""

_ATOMS_JS = r"""(cell) => {
  const m = /atoms in bits: ([^\n]*)/.exec(cell.innerText);
  if (!m) return null;
  return Object.fromEntries([...m[1].matchAll(/(\w+) = (-?\d+\.\d+)/g)].map(x => [x[1], parseFloat(x[2])]));
}"""

_ATOMS_MATCH_JS = "([cell, expected, tol]) => { const shown = (" + _ATOMS_JS + """)(cell);
  return shown !== null && Object.entries(expected).every(([k, v]) => k in shown && Math.abs(shown[k] - v) <= tol);
}"""


def readout(slider) -> float:
    """The value an ipywidgets slider shows next to it."""
    return float(slider.locator(".widget-readout").inner_text())


def open_tab(scope, title: str):
    scope.locator(".lm-TabBar-tab", has_text=re.compile(rf"^{re.escape(title)}$")).click()


def trials_table(scope) -> list[dict[str, str]]:
    """The rows of the (visible) trials table: column name -> shown text."""
    table = scope.locator(".widget-output table.dataframe").filter(visible=True)
    expect(table).to_have_count(1, timeout=UPDATE_TIMEOUT)
    return table.evaluate(_TABLE_JS)


def row_values(row: dict[str, str]) -> dict[str, object]:
    """A table row with numbers as floats: pandas shows a column with as many decimals as its widest
    value needs, so an earlier row's "15.6" reads "15.60" once a later row needs two decimals."""
    def value(text: str) -> object:
        try:
            return float(text)
        except ValueError:
            return text

    return {k: value(v) for k, v in row.items()}


def comparison_bars(scope) -> list[dict]:
    """The bar traces of the (visible) comparison chart: name, x labels, y values, hover texts."""
    plot = scope.locator(".js-plotly-plot").filter(visible=True)
    expect(plot).to_have_count(1, timeout=UPDATE_TIMEOUT)
    return plot.evaluate(_BARS_JS)


# -- the interactive lab ----------------------------------------------------------------------------


def test_interactive_lab_train_button_adds_a_trial(lab):
    nb = "09_interactive_lab.ipynb"
    lab.open_and_run(nb, workspace="interactive-lab")
    cell = lab.code_cell("widgets_tree = build_lab_widgets(session)")
    out = cell.locator(".jp-Cell-outputArea")

    with lab.step("read the trials table and the chart after Run All"):
        open_tab(cell, "all trials")
        before = trials_table(cell)
        n = len(before)
        assert n >= 1, "Run All should have run the notebook's own trials (section 4)"
        open_tab(cell, "comparison")
        bars_before = comparison_bars(cell)
        assert all(len(t["x"]) == n for t in bars_before), (bars_before, n)

    with lab.step("set static masking, move the ratio and lambda_o sliders with the keyboard"):
        ratio, lambda_o = lab.slider(cell, "static ratio m"), lab.slider(cell, "lambda_o")
        ratio_before, lambda_o_before = readout(ratio), readout(lambda_o)
        cell.locator(".widget-toggle-button", has_text=re.compile(r"^static$")).click()
        expect(ratio.locator(".noUi-target")).not_to_have_attribute("disabled", re.compile(".*"),
                                                                    timeout=UPDATE_TIMEOUT)
        lab.press_on_slider(ratio, "ArrowRight", 4)
        lab.press_on_slider(lambda_o, "ArrowRight", 2)
        expect(ratio.locator(".widget-readout")).not_to_have_text(f"{ratio_before:.2f}", timeout=UPDATE_TIMEOUT)
        expect(lambda_o.locator(".widget-readout")).not_to_have_text(f"{lambda_o_before:.2f}",
                                                                     timeout=UPDATE_TIMEOUT)
        new_ratio, new_lambda_o = readout(ratio), readout(lambda_o)
        assert new_ratio > ratio_before and new_lambda_o > lambda_o_before, (new_ratio, new_lambda_o)
        lambda_s, lambda_u = readout(lab.slider(cell, "lambda_s")), readout(lab.slider(cell, "lambda_u"))
        lab.screenshot("lab_controls_changed", out)

    with lab.step("press Train and wait for the trial"):
        cell.locator(".widget-button", has_text=re.compile(r"^\s*Train\s*$")).click()
        status = cell.locator(".widget-html-content")
        expect(status).to_have_text(re.compile(rf"trial {n + 1} done|trial failed"), timeout=TRIAL_TIMEOUT)
        assert "trial failed" not in status.inner_text(), status.inner_text()
        open_tab(cell, "R / U / S")
        expect(cell.locator(".js-plotly-plot .gtitle").filter(visible=True)).to_contain_text(
            f"trial {n + 1}: static {new_ratio:.0%}", timeout=UPDATE_TIMEOUT)
        lab.screenshot("lab_after_train_scores", out)

    with lab.step("the trials table has a new row with the new settings"):
        open_tab(cell, "all trials")
        expect(cell.locator(".widget-output table.dataframe tbody tr").filter(visible=True)).to_have_count(
            n + 1, timeout=UPDATE_TIMEOUT)
        after = trials_table(cell)
        assert [row_values(r) for r in after[:n]] == [row_values(r) for r in before], "the earlier trials' rows changed"
        row = after[n]
        assert int(row["trial"]) == n + 1
        assert row["masking"] == "static" and row["mask_schedule"] == f"{new_ratio:g}", row
        assert float(row["mask_ratio"]) == new_ratio, row
        assert float(row["lambda_o"]) == new_lambda_o, row
        assert (float(row["lambda_s"]), float(row["lambda_u"])) == (lambda_s, lambda_u), row
        scores = {k: float(row[k]) for k in ("R", "U1", "U2", "S", "S AUC")}
        assert all(0.0 <= v <= 100.0 for v in scores.values()), scores
        lab.screenshot("lab_after_train_table", out)

    with lab.step("the comparison chart gained the new trial's bars"):
        open_tab(cell, "comparison")
        expect(cell.locator(".js-plotly-plot .xtick").filter(visible=True)).to_have_count(n + 1,
                                                                                         timeout=UPDATE_TIMEOUT)
        bars = comparison_bars(cell)
        assert [t["name"] for t in bars] == [t["name"] for t in bars_before], bars
        for trace in bars:
            score = trace["name"].split(" (")[0]  # "R (share)" -> "R", "S AUC (synergy ROC-AUC)" -> "S AUC"
            assert trace["x"] == [f"#{k}" for k in range(1, n + 2)], trace["x"]
            assert abs(trace["y"][-1] - scores[score]) <= 0.01, (score, trace["y"][-1], scores)
            assert f"static {new_ratio:.0%}" in trace["customdata"][-1], trace["customdata"][-1]
            assert f"lo={new_lambda_o:g}" in trace["customdata"][-1], trace["customdata"][-1]
        lab.screenshot_with_provenance("lab_after_train_comparison", out, command=(
            "CORAL_LAB_PRESET=ci python -m pytest tests/browser/test_browser_widgets.py"
            "::test_interactive_lab_train_button_adds_a_trial"))
    lab.check_no_frontend_errors(nb)


# -- the PID notebook -------------------------------------------------------------------------------


def wait_for_atoms(lab, cell, expected: dict[str, float], tol: float = 2e-3) -> dict[str, float]:
    """Wait until the cell prints atoms within ``tol`` bits of ``expected``; return what it shows."""
    try:
        lab.page.wait_for_function(_ATOMS_MATCH_JS, arg=[cell.element_handle(), expected, tol],
                                   timeout=UPDATE_TIMEOUT)
    except PlaywrightTimeoutError:
        raise AssertionError(f"shown atoms {cell.evaluate(_ATOMS_JS)} != expected {expected} (+- {tol})") from None
    return cell.evaluate(_ATOMS_JS)


def test_pid_mixture_sliders_follow_the_pid(lab):
    nb = "01_pid_concepts.ipynb"
    lab.open_and_run(nb, workspace="pid")
    cell = lab.code_cell("def plot_mixture_atoms")
    sliders = {mech: lab.slider(cell, label) for mech, label in
               (("redundancy", "redundant"), ("unique1", "unique (X1)"), ("synergy", "synergistic"))}
    measure = cell.locator(".widget-dropdown select").input_value()

    def expected_atoms() -> dict[str, float]:
        weights = {mech: readout(s) for mech, s in sliders.items()}
        return pid.decompose(pid.mixture(weights), measure)

    with lab.step("the initial atoms are the PID of the initial weights"):
        shown = [wait_for_atoms(lab, cell, expected_atoms())]
        lab.screenshot("pid_initial", cell.locator(".jp-Cell-outputArea"))

    # towards pure XOR: all synergistic weight, then no redundant and no unique weight
    for mech, key in (("synergy", "End"), ("redundancy", "Home"), ("unique1", "Home")):
        with lab.step(f"move the {mech} slider ({key}) and see the atoms follow"):
            before = readout(sliders[mech])
            lab.press_on_slider(sliders[mech], key)
            expect(sliders[mech].locator(".widget-readout")).not_to_have_text(f"{before:.2f}",
                                                                              timeout=UPDATE_TIMEOUT)
            shown.append(wait_for_atoms(lab, cell, expected_atoms()))
            assert shown[-1]["synergy"] > shown[-2]["synergy"], shown
            lab.screenshot(f"pid_after_{mech}_{key.lower()}", cell.locator(".jp-Cell-outputArea"))

    with lab.step("pure XOR shows 1 bit of synergy and nothing else"):
        assert [readout(s) for s in sliders.values()] == [0.0, 0.0, 1.0]
        xor = pid.decompose(pid.xor_distribution(), measure)
        assert abs(xor["synergy"] - 1.0) < 1e-6  # the PID itself, computed here
        wait_for_atoms(lab, cell, xor)
    lab.check_no_frontend_errors(nb)
