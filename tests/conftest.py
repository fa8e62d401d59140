"""Shared fixtures and the slow / gpu markers."""

from __future__ import annotations

import pytest
import torch


def pytest_addoption(parser):
    parser.addoption("--run-slow", action="store_true", default=False, help="run tests marked slow")


def pytest_collection_modifyitems(config, items):
    skip_slow = pytest.mark.skip(reason="slow: run with --run-slow")
    skip_gpu = pytest.mark.skip(reason="needs a CUDA GPU")
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
