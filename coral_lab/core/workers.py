"""Units trained side by side in worker processes that never outlive the command.

``unit_pool(jobs)`` is the one process pool of every command that runs units at once (``--jobs``): the
Table 1 protocol and the learning-curve studies. Its workers

- are spawned (a fresh interpreter each: no state shared by fork) with Ctrl-C blocked, and ignore it
  once they run: a Ctrl-C is the command's to handle, which prints one line, not one traceback per
  worker;
- die with the command: a worker asks the kernel for SIGKILL when its parent dies (Linux
  ``PR_SET_PDEATHSIG``; elsewhere a thread that watches the parent), so ``kill -9`` of the command
  leaves no orphan holding memory or a run folder's lock;
- are killed when the command leaves the pool with an error or a Ctrl-C. A unit's files survive a
  kill at any moment (``coral_lab.core.io``, ``coral_lab.training.loop``), so the same command resumes them.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from typing import Any, Callable, TypeVar

from coral_lab.core.device import set_cpu_threads

T = TypeVar("T")

__all__ = ["unit_pool", "run_with_threads"]

_PR_SET_PDEATHSIG = 1


def _noop() -> int:
    return os.getpid()


def _die_with(parent: int) -> None:
    """This process gets SIGKILL when ``parent`` dies."""
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL) == 0:
                if os.getppid() != parent:  # the parent died before the request took effect
                    os._exit(1)
                return
        except (OSError, AttributeError):
            pass

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, name="coral_lab-parent-watch", daemon=True).start()


def _init_worker(parent: int) -> None:
    _die_with(parent)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # also drops a Ctrl-C that arrived while it was blocked
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


@contextmanager
def unit_pool(jobs: int) -> Iterator[ProcessPoolExecutor]:
    """A ``ProcessPoolExecutor`` of ``jobs`` spawned workers that die with this process (see the module).

    All ``jobs`` workers are started before the pool is handed out, with Ctrl-C blocked while they
    start, so no worker is ever half-started when the user presses it.
    """
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs must be a positive int, got {jobs!r}")
    pool = ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_init_worker, initargs=(os.getpid(),))
    try:
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            started = [pool.submit(_noop) for _ in range(jobs)]  # one worker each (they spawn on demand)
            for future in started:
                future.result()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)  # a Ctrl-C pressed meanwhile is raised here
        yield pool
    except BaseException:
        _kill(pool)
        raise
    pool.shutdown(wait=True)


def _kill(pool: ProcessPoolExecutor) -> None:
    """Kill the pool's workers at once and drop what is queued (the executor keeps its processes privately)."""
    for process in list((getattr(pool, "_processes", None) or {}).values()):
        process.kill()
    pool.shutdown(wait=False, cancel_futures=True)


def run_with_threads(threads: int, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """``fn(*args, **kwargs)`` in a worker with torch's CPU threads set to ``threads`` first (0: left as
    they are): what a unit pool's worker runs, ``fn`` a module-level function (it is pickled)."""
    if threads:
        set_cpu_threads(threads)
    return fn(*args, **kwargs)
