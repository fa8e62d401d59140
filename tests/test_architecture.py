"""The package's import structure: no import circles, no private names across modules, imports at the top
of each module except the optional heavy libraries named in LAZY_OK, and scripts / benchmarks that import."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "coral_lab"

# libraries a function may import lazily: the notebook / browser extras, not installed by the core
# package (plotting, UMAP, widgets, the browser harness), and dit (the PID measures: a core dependency,
# but 1.5 s to import and only coral_lab.teaching.pid needs it; a broken install gets a one-line instruction)
LAZY_OK = ("matplotlib", "seaborn", "plotly", "umap", "ipywidgets", "IPython", "playwright", "nbformat", "nbclient",
           "dit")
# coral_lab modules a function may import lazily, and why
LAZY_MODULES = {
    "coral_lab.drawing.figures": "imports matplotlib at the top; the coral-lab CLI must start without the notebooks "
                                 "extra",
    "coral_lab.drawing.lecture": "imports matplotlib at the top, as coral_lab.drawing.figures",
    "coral_lab.cli": "the console entry point (coral_lab.launch) imports it under a Ctrl-C guard",
}


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


MODULES = _modules()


def _imports(module: str, node: ast.AST) -> list[tuple[str, str | None]]:
    """(imported module, imported name or None) of one import statement, relative imports resolved."""
    if isinstance(node, ast.Import):
        return [(a.name, None) for a in node.names]
    base = node.module or ""
    if node.level:
        pkg = module.split(".") if MODULES[module].name == "__init__.py" else module.split(".")[:-1]
        pkg = pkg[: len(pkg) - node.level + 1]
        base = ".".join(pkg + ([node.module] if node.module else []))
    return [(f"{base}.{a.name}", None) if f"{base}.{a.name}" in MODULES else (base, a.name) for a in node.names]


def _import_nodes(tree: ast.Module):
    """(node, inside a function?) for every import statement of a module."""
    inner = set()
    for fn in ast.walk(tree):
        if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            inner.update(id(n) for n in ast.walk(fn) if isinstance(n, (ast.Import, ast.ImportFrom)))
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node, id(node) in inner


def _graph() -> dict[str, set[str]]:
    """module -> the coral_lab modules it imports anywhere (top level or in a function)."""
    graph = {}
    for name, path in MODULES.items():
        deps = set()
        for node, _ in _import_nodes(ast.parse(path.read_text())):
            deps.update(m for m, _ in _imports(name, node) if m in MODULES and m != name)
        graph[name] = deps
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in graph:
        if v not in index:
            visit(v)
    return out


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_circles_even_through_function_level_imports():
    assert _cycles(_graph()) == []


def test_no_private_names_imported_across_modules():
    offenders = []
    for name, path in MODULES.items():
        for node, _ in _import_nodes(ast.parse(path.read_text())):
            for module, attr in _imports(name, node):
                if module.startswith("coral_lab") and attr and attr.startswith("_") and not attr.startswith("__"):
                    offenders.append(f"{name}: {module}.{attr}")
    assert offenders == []


def test_function_level_imports_are_only_the_optional_heavy_libraries():
    offenders = []
    for name, path in MODULES.items():
        for node, inner in _import_nodes(ast.parse(path.read_text())):
            if inner:
                for module, _ in _imports(name, node):
                    if module.split(".")[0] not in LAZY_OK and module not in LAZY_MODULES:
                        offenders.append(f"{name}:{node.lineno} {module}")
    assert offenders == []


# computing apart from drawing: these modules train, probe or project and never import a plotting library
COMPUTE_ONLY = tuple(m for m in MODULES if m.startswith(("coral_lab.evaluation", "coral_lab.experiments",
                                                          "coral_lab.training")))
PLOTTING = ("matplotlib", "seaborn", "plotly")


def test_computing_modules_import_no_plotting_library():
    offenders = []
    for name in COMPUTE_ONLY:
        for node, _ in _import_nodes(ast.parse(MODULES[name].read_text())):
            for module, _ in _imports(name, node):
                if module.split(".")[0] in PLOTTING or module.startswith("coral_lab.drawing"):
                    offenders.append(f"{name}:{node.lineno} {module}")
    assert offenders == []


def test_pyflakes_rules_pass_everywhere():
    # ruff's F rules (pyflakes): undefined names, unused imports, redefined names; the kind of error a
    # moved or renamed name leaves behind
    r = subprocess.run([sys.executable, "-m", "ruff", "check", "--select", "F", "--no-cache", "--output-format",
                        "concise", "coral_lab", "scripts", "benchmarks", "tests"], cwd=ROOT, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, (r.stdout + r.stderr)[-3000:]


@pytest.mark.parametrize("script", sorted(p.relative_to(ROOT).as_posix() for d in ("scripts", "benchmarks")
                                          for p in (ROOT / d).glob("*.py")))
def test_every_script_and_benchmark_starts(script):
    # --help parses the arguments after the imports: a renamed or removed package name fails here
    r = subprocess.run([sys.executable, script, "--help"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]


# The layers of the package, from the ground up, each one or two subpackages: a module imports only
# modules of its own layer or of a layer below it (the README's "Architecture: the layers" draws the same
# list). A new module goes into the subpackage of its layer; the package's top holds only the entry points.
LAYERS = {
    "foundations": ("coral_lab", "coral_lab.core", "coral_lab.data", "coral_lab.objectives"),
    "configuration and run folders": ("coral_lab.config",),
    "inputs and models": ("coral_lab.inputs", "coral_lab.models"),
    "methods": ("coral_lab.methods",),
    "training": ("coral_lab.training",),
    "evaluation": ("coral_lab.evaluation",),
    "applications": ("coral_lab.experiments", "coral_lab.multibench"),
    "drawing and teaching": ("coral_lab.drawing", "coral_lab.teaching"),
    # the command line of the Table 2 application is an entry point although it lives in its package
    "entry points": ("coral_lab.cli", "coral_lab.launch", "coral_lab.multibench.cli"),
}


def _layer_of(module: str) -> int:
    """The index of ``module``'s layer: the layer naming it, else the one naming its subpackage; -1 if none."""
    exact = [i for i, names in enumerate(LAYERS.values()) if module in names]
    if exact:
        return exact[0]
    inside = [i for i, names in enumerate(LAYERS.values())
              for name in names if name != "coral_lab" and module.startswith(name + ".")]
    return inside[0] if inside else -1


def test_every_module_has_a_layer():
    assert [m for m in MODULES if _layer_of(m) < 0] == []


def test_no_module_imports_one_from_a_layer_above_it():
    names = list(LAYERS)
    upward = [f"{m} ({names[_layer_of(m)]}) imports {d} ({names[_layer_of(d)]})"
              for m, deps in _graph().items() for d in sorted(deps) if _layer_of(d) > _layer_of(m)]
    assert upward == []


def test_the_package_top_holds_only_the_entry_points():
    top = sorted(p.stem for p in PACKAGE.glob("*.py"))
    assert top == ["__init__", "cli", "launch"], top
    assert {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()} == {
        name.split(".")[1] for names in LAYERS.values() for name in names if name.count(".") == 1
        and (PACKAGE / name.split(".")[1]).is_dir()}


def test_the_layer_check_sees_an_upward_import():
    # the check itself: a primitive importing an application is caught
    assert _layer_of("coral_lab.core.io") < _layer_of("coral_lab.multibench.protocol")
    assert _layer_of("coral_lab.data.features") < _layer_of("coral_lab.models.feature_encoders")
    assert _layer_of("coral_lab.multibench.cli") == list(LAYERS).index("entry points")
    assert _layer_of("coral_lab.multibench.protocol") == list(LAYERS).index("applications")
    assert _layer_of("coral_lab.newmodule") == -1  # a module at the top must be placed in a subpackage
    assert _layer_of("coral_lab.training.loop") > _layer_of("coral_lab.methods.base") > _layer_of("coral_lab.core.io")
