"""Run folders: their layout, who may write them, and which outputs belong to which config.

One module owns this so that every command, notebook helper and study asks the same questions:

- **Layout.** A run folder holds ``config.json`` (its ``RunConfig``), ``history.csv`` (one row per
  epoch), ``checkpoint.pt`` (weights, optimiser, generators: exact resume), the marker
  ``coral_lab_run.json`` and, once probed, output tables such as ``probe.csv``. A unit of the Table 1
  protocol lives in ``<out>/seed<S>-<train_set>`` (``unit_dir``).
- **Only run folders are written.** ``claim`` refuses an existing folder that holds files but no
  marker (a folder coral_lab did not create), and an empty path; a folder written by an older
  coral_lab (``config.json`` and ``checkpoint.pt``, no marker) is adopted.
- **One writer at a time.** ``RunLock`` holds an advisory ``fcntl.flock`` on ``.coral_lab.lock`` in
  the folder while a command writes it; a second process is refused with a message naming the
  first one's pid. The operating system drops the lock of a killed process, so it never sticks.
- **No stale outputs.** Each fresh pretraining gets a new ``run_id`` (kept in the marker and the
  checkpoint). An output table written for a run records that ``run_id`` and the ``config_hash`` of
  the experiment config that produced it (``write_table``); ``read_table`` returns it only while both
  still hold, so scores of an earlier training, or of another probe setting, are never read as
  current.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import uuid
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd

from coral_lab.core.io import atomic_write_text, is_temporary, remove_stale_temporaries
from coral_lab.config.sections import HELD_OUT, PROTOCOLS

try:  # POSIX; elsewhere the folders are not locked (``RunLock`` says so once)
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "CHECKPOINT",
    "CONFIG",
    "HISTORY",
    "PROBE",
    "PROBE_COMMAND",
    "probe_table",
    "MARKER",
    "LOCK",
    "RunFolderError",
    "RunBusyError",
    "unit_dir",
    "config_hash",
    "is_run_folder",
    "claim",
    "claim_experiment",
    "EXPERIMENT_MARKER",
    "new_run_id",
    "run_id",
    "RunLock",
    "write_table",
    "read_table",
]

CHECKPOINT = "checkpoint.pt"
CONFIG = "config.json"
HISTORY = "history.csv"
PROBE = "probe.csv"  # the Table 1 protocol's probe rows of a unit (``coral_lab.evaluation.protocol.run_unit``)
PROBE_COMMAND = "probe_cli.csv"  # ``coral-lab probe --run``'s rows (its own layout: never the protocol's file)
MARKER = "coral_lab_run.json"
LOCK = ".coral_lab.lock"
FORMAT = 1
# columns ``write_table`` adds to every output table
TABLE_KEYS = ("run_id", "config_hash")


class RunFolderError(ValueError):
    """A folder cannot be used as a run folder (not one coral_lab made, an empty path, a file)."""


class RunBusyError(RuntimeError):
    """Another live process is writing the same run folder."""


UNIT_GLOB = "seed*-*"  # matches every unit_dir(out, seed, kind) name under an output folder


def unit_dir(out_dir: str | Path, seed: int, train_set: str | None = None) -> Path:
    """The folder of one unit under an output folder: ``<out>/seed<S>-<kind>``.

    ``kind`` is the Table 1 protocol's pair set (``unbiased``, ``biased``) or a study's / the shipped
    models' unit kind (``biased-no-mask``, ...); None gives ``<out>/seed<S>`` (the feature-data
    protocol, which trains one unit per seed).
    """
    name = f"seed{int(seed)}" if train_set is None else f"seed{int(seed)}-{train_set}"
    return Path(out_dir) / name


def probe_table(protocol: str, table: str = PROBE) -> str:
    """The file of a run's probe rows under ``protocol`` (``ProbeConfig.protocol``): ``table`` itself
    (``probe.csv``, ``probe_cli.csv``) for ``held_out``, as always, and ``<stem>_<protocol>.csv`` for
    another protocol, so the protocols' rows live in one folder and neither is read for the other."""
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown probe protocol {protocol!r}; valid: {list(PROTOCOLS)}")
    if protocol == HELD_OUT:
        return table
    stem, dot, ext = table.rpartition(".")
    return f"{stem}_{protocol}.{ext}" if dot else f"{table}_{protocol}"


def config_hash(config: Mapping[str, Any] | Any) -> str:
    """SHA-256 (first 16 hex digits) of a config's canonical JSON.

    ``config`` is a dict, or an object with ``experiment_dict()`` (a ``RunConfig``): the run-time
    fields (threads, cache folder) do not change the hash.
    """
    if hasattr(config, "experiment_dict"):
        config = config.experiment_dict()
    if not isinstance(config, Mapping):
        raise TypeError(f"config_hash needs a config or a dict, got {type(config).__name__}")
    text = json.dumps(config, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _check_path(path: str | os.PathLike) -> Path:
    if not isinstance(path, (str, os.PathLike)):
        raise RunFolderError(f"a run folder must be a path, got {type(path).__name__}")
    if str(path).strip() == "":
        raise RunFolderError("the run folder is an empty path (that would be the current folder); give a folder "
                             "name, e.g. --out runs/my-run")
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise RunFolderError(f"{p} is a file, not a folder; give a new folder for the run")
    return p


def _read_marker(folder: Path) -> dict[str, Any] | None:
    path = folder / MARKER
    if not path.is_file():
        return None
    try:
        marker = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise RunFolderError(f"{path} is unreadable ({e}); it marks a coral_lab run folder: restore it, or delete "
                             "the folder to start the run over") from None
    if not isinstance(marker, dict) or marker.get("coral_lab_run") != FORMAT:
        raise RunFolderError(f"{path} is not a coral_lab run marker; this folder was not made by coral_lab")
    return marker


def _legacy_run(folder: Path) -> bool:
    """A run folder written before the marker existed: its config and checkpoint, nothing foreign needed."""
    return (folder / CONFIG).is_file() and (folder / CHECKPOINT).is_file()


def is_run_folder(path: str | os.PathLike) -> bool:
    """True for a folder coral_lab made (marker), or one an older coral_lab wrote (config + checkpoint)."""
    folder = Path(path)
    return folder.is_dir() and ((folder / MARKER).is_file() or _legacy_run(folder))


def _write_marker(folder: Path, marker: dict[str, Any]) -> None:
    atomic_write_text(folder / MARKER, json.dumps(marker, indent=2) + "\n")


def claim(path: str | os.PathLike) -> Path:
    """Make ``path`` a run folder (create it, or check that it is one) and return it.

    A new or empty folder gets the marker; a marked folder, or one an older coral_lab wrote, is used
    as it is. A folder holding nothing but coral_lab's temporary files and lock file (a first write
    killed before the marker was in place) counts as empty: the marker is written, and the
    temporaries go when the folder is next locked (``RunLock``). Anything else (a folder with other
    files, a file, an empty path) raises ``RunFolderError`` and nothing in it is touched.
    """
    folder = _check_path(path)
    # a folder that holds only what a killed first write left (its temporaries, the lock file) is still new
    if folder.is_dir() and any(not (is_temporary(p.name) or p.name == LOCK) for p in folder.iterdir()):
        marker = _read_marker(folder)
        if marker is None:
            if not _legacy_run(folder):
                raise RunFolderError(
                    f"{folder} already holds files and is not a coral_lab run folder (no {MARKER}); nothing was "
                    "written. Give a new or empty folder, or the folder of an earlier coral_lab run"
                )
            _write_marker(folder, {"coral_lab_run": FORMAT, "created": _now(), "run_id": None, "adopted": True})
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    _write_marker(folder, {"coral_lab_run": FORMAT, "created": _now(), "run_id": None})
    return folder


EXPERIMENT_MARKER = "coral_lab_experiment.json"
EXPERIMENT_KINDS = ("reproduce", "study", "ablate", "compare")  # compare: one reproduce folder per method
# the files an experiment folder's commands write at its top level (what an older, unmarked one may hold, and a
# folder published into results/ and copied back: scripts/feature_variation.py writes beside its tables)
_EXPERIMENT_OUTPUTS = re.compile(
    r"^(table[12](_summary)?\.(csv|txt)|ablation_\w+\.(csv|txt)|curves\.csv|protocol_audit\.csv|probe_map\.csv|"
    r"baselines_table1\.csv|feature_variation\.csv|"
    r"umap\.csv|[\w.-]+\.provenance\.json|README\.md)$")


def _holds_run_folders(folder: Path, depth: int = 3) -> bool:
    """True when a coral_lab run folder sits in ``folder`` or up to ``depth`` levels below it."""
    for sub in folder.iterdir():
        if sub.is_dir() and not sub.is_symlink() and (is_run_folder(sub) or (depth > 1 and _holds_run_folders(sub, depth - 1))):
            return True
    return False


def claim_experiment(path: str | os.PathLike, kind: str) -> Path:
    """Make ``path`` an experiment folder of ``kind`` (``reproduce``, ``study``, ``ablate``: the folder of
    ``--out`` that holds units and the tables made from them; ``compare``: one ``reproduce`` folder per
    method and the comparison made from them) and return it.

    A new or empty folder gets the marker ``coral_lab_experiment.json``; a folder marked for the same
    kind is used as it is; one an older coral_lab wrote (its top-level files all coral_lab's outputs and
    coral_lab run folders below) is adopted. Anything else (a run folder, another kind's experiment, a
    folder with other files: the user's own table1.txt, say) raises ``RunFolderError`` and nothing in
    it is touched. Hold ``RunLock`` on it while writing its tables.
    """
    if kind not in EXPERIMENT_KINDS:
        raise ValueError(f"unknown experiment kind {kind!r}; valid: {list(EXPERIMENT_KINDS)}")
    folder = _check_path(path)
    entries = [p for p in folder.iterdir() if not (is_temporary(p.name) or p.name == LOCK)] if folder.is_dir() else []
    marker_path = folder / EXPERIMENT_MARKER
    if entries:
        if (folder / MARKER).exists():
            raise RunFolderError(f"{folder} is a coral_lab run folder (one pretraining), not an experiment folder; give "
                                 "a new folder for --out")
        if marker_path.is_file():
            try:
                marker = json.loads(marker_path.read_text())
            except (OSError, ValueError, UnicodeDecodeError):
                marker = None
            if not isinstance(marker, dict) or marker.get("coral_lab_experiment") != FORMAT:
                raise RunFolderError(f"{marker_path} is not a coral_lab experiment marker; restore it, or give a new "
                                     "folder")
            if marker.get("kind") != kind:
                raise RunFolderError(f"{folder} holds a coral_lab {marker.get('kind')} experiment, not a {kind}; give "
                                     "another folder")
            return folder
        foreign = sorted(p.name for p in entries if p.is_file() and not _EXPERIMENT_OUTPUTS.match(p.name))
        if foreign or not _holds_run_folders(folder):
            what = f"{foreign[0]!r} is not a coral_lab output" if foreign else "no coral_lab run folder is in it"
            raise RunFolderError(f"{folder} already holds files and is not a coral_lab experiment folder ({what}); "
                                 "nothing was written. Give a new or empty folder for --out")
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_text(marker_path, json.dumps({"coral_lab_experiment": FORMAT, "kind": kind, "created": _now(),
                                                "adopted": bool(entries)}, indent=2) + "\n")
    return folder


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def new_run_id(folder: str | os.PathLike, value: str | None = None) -> str:
    """Record that a (fresh or resumed) training owns ``folder``: ``value`` or a new random id."""
    folder = Path(folder)
    marker = _read_marker(folder) or {"coral_lab_run": FORMAT, "created": _now()}
    marker["run_id"] = value if value is not None else uuid.uuid4().hex
    _write_marker(folder, marker)
    return marker["run_id"]


def run_id(folder: str | os.PathLike) -> str | None:
    """The id of the training that wrote ``folder``'s checkpoint (None: unmarked, or never trained)."""
    marker = _read_marker(Path(folder))
    return None if marker is None else marker.get("run_id")


_HELD: dict[Path, list] = {}  # folder -> [open lock file, depth]: a process may re-enter its own lock


class RunLock:
    """Exclusive, advisory lock of a run folder for this process (re-entrant within it).

    ``with RunLock(folder): ...`` holds ``fcntl.flock`` on ``folder/.coral_lab.lock``; another
    process gets ``RunBusyError`` at once (never a wait). A killed holder's lock is released by the
    operating system.
    """

    def __init__(self, folder: str | os.PathLike) -> None:
        self.folder = Path(folder).resolve()

    def __enter__(self) -> "RunLock":
        held = _HELD.get(self.folder)
        if held is not None:
            held[1] += 1
            return self
        self.folder.mkdir(parents=True, exist_ok=True)
        lock = self.folder / LOCK
        try:  # never through a link: a lock file that is a symlink would make the write below land elsewhere
            fd = os.open(lock, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o644)
        except OSError:
            if lock.is_symlink():
                raise RunFolderError(f"{lock} is a symbolic link, not coral_lab's lock file; remove the link (nothing "
                                     "it points to was touched) and run again") from None
            raise
        f = os.fdopen(fd, "a+")
        if fcntl is not None:
            try:
                fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                f.seek(0)
                holder = f.read().strip() or "unknown"
                f.close()
                raise RunBusyError(
                    f"{self.folder} is being written by another coral-lab process (pid {holder}); wait for it to "
                    "finish, or give another folder"
                ) from None
        f.seek(0)
        f.truncate()
        f.write(str(os.getpid()))
        f.flush()
        _HELD[self.folder] = [f, 1]
        remove_stale_temporaries(self.folder)  # left by a killed writer: nobody else writes here now
        return self

    def __exit__(self, *exc: object) -> None:
        held = _HELD[self.folder]
        held[1] -= 1
        if held[1] == 0:
            f = held[0]
            del _HELD[self.folder]
            f.truncate(0)
            f.close()  # closing releases the flock


def write_table(folder: str | os.PathLike, name: str, rows: pd.DataFrame, config: Any) -> Path:
    """Write an output table of the run in ``folder``, tied to its current ``run_id`` and ``config``.

    Adds the columns ``run_id`` and ``config_hash`` (``config_hash(config)``) and writes
    atomically. ``read_table`` gives the rows back only while both still match.
    """
    folder = claim(folder)
    rid = run_id(folder)
    if rid is None:
        if not (folder / CHECKPOINT).is_file():
            raise RunFolderError(f"{folder} holds no trained model ({CHECKPOINT}); train it before writing {name}")
        rid = new_run_id(folder)  # a run of an older coral_lab: its checkpoint gets an id now
    out = rows.drop(columns=[c for c in TABLE_KEYS if c in rows.columns])
    out = out.assign(run_id=rid, config_hash=config_hash(config))
    return atomic_write_text(folder / name, out.to_csv(index=False))


def read_table(folder: str | os.PathLike, name: str, config: Any) -> pd.DataFrame | None:
    """The rows of ``folder/name`` if they were written for this folder's current training and for
    ``config``; None when the file is missing or stale (another training, another config, or
    written before outputs were tied to their run). The key columns are dropped."""
    path = Path(folder) / name
    if not path.is_file():
        return None
    rid = run_id(folder)
    try:
        rows = pd.read_csv(path, keep_default_na=False, na_values=[""])
    except (OSError, ValueError, pd.errors.ParserError):
        return None  # unreadable: recomputed, then replaced atomically
    if rid is None or not set(TABLE_KEYS) <= set(rows.columns) or rows.empty:
        return None
    if (rows["run_id"].astype(str) != rid).any() or (rows["config_hash"].astype(str) != config_hash(config)).any():
        return None
    return rows.drop(columns=list(TABLE_KEYS))
