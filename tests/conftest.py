"""Shared fixtures, the slow / gpu markers, and how the suite splits across pytest-xdist workers."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

# Under pytest-xdist (scripts/test.sh: ``-n 2 --dist loadgroup --no-loadscope-reorder``) a test file is one
# unit of work (its module fixtures are built once), the notebooks under nbval are one unit (they share
# runs/<preset>/ and the image cache in notebooks/), and the browser tests another (one JupyterLab each).
# The units start longest first, so that no long one is left to the end: the order below, then the rest.
NOTEBOOKS, BROWSER = "notebooks", "browser"
LONGEST_FIRST = (NOTEBOOKS, BROWSER, "test_kill_windows", "test_ablations", "test_study", "test_cli")


def work_unit(path: Path) -> str:
    """The xdist group of a test collected from ``path``: "notebooks", "browser" or the file's stem."""
    if path.suffix == ".ipynb":
        return NOTEBOOKS
    if "browser" in path.parts:
        return BROWSER
    return path.stem


def pytest_configure(config):
    workers = os.environ.get("PYTEST_XDIST_WORKER_COUNT")
    if workers:
        # the cores shared out among the workers, for this process and what it starts (kernels, CLI children):
        # two 2-thread processes on a 2-core machine spin-wait on each other
        threads = max(1, (os.cpu_count() or 1) // int(workers))
        os.environ.setdefault("OMP_NUM_THREADS", str(threads))
        torch.set_num_threads(threads)


def pytest_addoption(parser):
    parser.addoption("--run-slow", action="store_true", default=False, help="run tests marked slow")


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook, which names each item's group in its node id
def pytest_collection_modifyitems(config, items):
    skip_slow = pytest.mark.skip(reason="slow: run with --run-slow")
    skip_gpu = pytest.mark.skip(reason="needs a CUDA GPU")
    if os.environ.get("PYTEST_XDIST_WORKER"):
        rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
        units = {id(item): work_unit(Path(str(item.path))) for item in items}
        items.sort(key=lambda item: rank.get(units[id(item)], len(rank)))  # stable: a file's order is kept
        for item in items:
            item.add_marker(pytest.mark.xdist_group(units[id(item)]))
    for item in items:
        if "slow" in item.keywords and not config.getoption("--run-slow"):
            item.add_marker(skip_slow)
        if "gpu" in item.keywords and not torch.cuda.is_available():
            item.add_marker(skip_gpu)


@pytest.fixture(scope="session")
def ci_cache(tmp_path_factory):
    """One rendered cache of the ci preset's images for the whole test session."""
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="session")
def ci_config(ci_cache):
    from coral_lab.config import get_preset

    return get_preset("ci").replace(data={"cache_dir": str(ci_cache)})


@pytest.fixture(scope="session")
def ci_benchmark(ci_config):
    from coral_lab.training.pretrain import load_benchmark

    return load_benchmark(ci_config, progress=False)


@pytest.fixture(scope="module")
def one_torch_thread():
    """One torch thread for a module of tiny models: two threads on a shared 2-core machine spin-wait.

    Use it with ``pytestmark = pytest.mark.usefixtures("one_torch_thread")``.
    """
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def synthetic_mosi_folder(tmp_path_factory):
    """A folder with a small synthetic MOSI file in the MultiBench layout (40 samples, 8 time steps)."""
    from coral_lab.multibench.synthetic import write_synthetic

    folder = tmp_path_factory.mktemp("multibench")
    write_synthetic(folder, "mosi", n=40, seq_len=8)
    return folder
