"""coral_lab.core.device: the CPU thread layout of a training or probing process."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from coral_lab.core.device import set_cpu_threads, worker_threads

# run in a fresh interpreter: the limits stay in force for the whole process, and the test process keeps its own
_CHILD = """
import json, torch
from threadpoolctl import threadpool_info
import sklearn.linear_model  # loads scikit-learn's OpenMP runtime, as the probe does
from coral_lab.core.device import set_cpu_threads
before = {i["internal_api"]: i["num_threads"] for i in threadpool_info()}
set_cpu_threads(1)
after = [i["num_threads"] for i in threadpool_info()]
print(json.dumps({"torch": torch.get_num_threads(), "after": after, "before": before}))
"""


def test_set_cpu_threads_limits_torch_and_the_probes_openmp_and_blas_pools():
    out = subprocess.run([sys.executable, "-c", _CHILD], capture_output=True, text=True, timeout=120, check=True)
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert seen["torch"] == 1
    assert seen["after"] and all(n == 1 for n in seen["after"])  # every pool threadpoolctl found: OpenMP, BLAS
    assert {"openmp", "openblas"} & set(seen["before"])  # there was something to limit


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2", None])
def test_set_cpu_threads_refuses_what_is_not_a_positive_int(bad):
    with pytest.raises(ValueError, match="threads must be a positive int"):
        set_cpu_threads(bad)


def test_worker_threads_divides_the_cores_among_cpu_jobs(monkeypatch):
    monkeypatch.setattr("os.cpu_count", lambda: 4)
    assert worker_threads("cpu", 2) == 2
    assert worker_threads("cpu", 8) == 1
    assert worker_threads("cpu", 1) is None  # one process: torch's default
    assert worker_threads("cpu", 2, threads=3) == 3  # train.num_threads wins
