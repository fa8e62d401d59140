"""Atomic file writes and checkpoint loading with clear errors.

Everything coral_lab writes (checkpoints, configs, histories, result tables) goes through a temporary
file in the same folder followed by ``os.replace``, so an interrupted write never leaves a partial
file where a complete one was, and nothing already written is lost.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Any, Callable

import torch
from torch.torch_version import TorchVersion

__all__ = ["sha256_file", "atomic_write", "atomic_write_text", "atomic_torch_save", "load_checkpoint", "remove_stale_temporaries",
           "is_temporary", "CheckpointError"]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _umask()


def remove_stale_temporaries(folder: str | os.PathLike) -> list[Path]:
    """Delete the temporary files ``atomic_write`` leaves when its process is killed mid-write.

    Call it only while holding the folder's lock (``coral_lab.config.runs.RunLock``): then no live writer
    owns a temporary file there. Returns the paths removed.
    """
    removed = []
    for tmp in Path(folder).glob(".*.tmp"):
        if tmp.is_file():
            tmp.unlink()
            removed.append(tmp)
    return removed


class CheckpointError(RuntimeError):
    """A checkpoint is missing, unreadable or does not match the run that asks for it."""


def is_temporary(name: str) -> bool:
    """True for the name of a temporary file ``atomic_write`` makes (``.<name>.<random>.tmp``)."""
    return name.startswith(".") and name.endswith(".tmp")


def atomic_write(path: str | os.PathLike, write: Callable[[str], None],
                 before_replace: Callable[[str], None] | None = None) -> Path:
    """Call ``write(tmp_path)`` and move the result to ``path`` atomically.

    ``before_replace(tmp_path)``, when given, runs once the new content is complete and on disk, just
    before it replaces ``path`` (``atomic_torch_save`` records the new checksum there).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; a result file gets the usual mode
        if before_replace is not None:
            before_replace(tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    def write(tmp: str) -> None:
        with open(tmp, "w") as f:
            f.write(text)

    return atomic_write(path, write)


CHECKSUM_SUFFIX = ".sha256"


def checksum_path(path: str | os.PathLike) -> Path:
    """Where ``atomic_torch_save`` keeps the SHA-256 of ``path``: ``<path>.sha256``."""
    path = Path(path)
    return path.with_name(path.name + CHECKSUM_SUFFIX)


def sha256_file(path: str | os.PathLike) -> str:
    """The SHA-256 of a file's bytes (hex), read in 1 MiB blocks: the one file digest of the package."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _listed_digests(sums: Path) -> list[str]:
    """The digests a checksum file lists, one a line (an unreadable file lists none)."""
    try:
        return [line.strip() for line in sums.read_text().splitlines() if line.strip()]
    except (OSError, UnicodeDecodeError):
        return []


def atomic_torch_save(obj: Any, path: str | os.PathLike) -> Path:
    """``torch.save`` atomically, with the file's SHA-256 in ``<path>.sha256`` (checked by ``load_checkpoint``).

    The two files never disagree, whenever the process stops: the new digest is added to the checksum
    file (beside the digest of the file it replaces) *before* the new file takes the old one's place,
    and the old digest is dropped only after. A kill or Ctrl-C at any moment leaves a checkpoint whose
    digest is listed, so a resume never has to ask for anything to be deleted.
    """
    path = Path(path)
    sums = checksum_path(path)
    digest: list[str] = []

    def write(tmp: str) -> None:
        torch.save(obj, tmp)
        digest.append(sha256_file(tmp))

    def announce(tmp: str) -> None:  # the commit point of the pair: both digests listed, the new file next
        listed = [d for d in _listed_digests(sums) if d != digest[0]]
        atomic_write_text(sums, "\n".join([digest[0], *listed[:1]]) + "\n")

    out = atomic_write(path, write, before_replace=announce)
    atomic_write_text(sums, digest[0] + "\n")
    return out


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint written by ``coral_lab.training.pretrain``; a missing or corrupted file raises CheckpointError.

    Loaded with ``torch.load(weights_only=True)``: a checkpoint holds tensors, dicts, lists, strings
    and numbers, and a file that asks to build anything else (a crafted pickle that would run code)
    is refused as unreadable.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} not found; run `coral-lab pretrain` to create it")
    sums = checksum_path(path)
    if sums.is_file() and sha256_file(path) not in _listed_digests(sums):
        raise CheckpointError(
            f"checkpoint {path} does not match its checksum in {sums.name}: the file was changed or corrupted after "
            f"it was written. Retrain (delete both files), or delete {sums.name} to load it as it is"
        )
    try:
        # weights_only: tensors, containers and numbers only, never code (a crafted pickle cannot run);
        # TorchVersion is allowed because checkpoints of earlier versions stored torch.__version__ as it is
        with torch.serialization.safe_globals([TorchVersion]):
            ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # torch raises several types for truncated / garbage / code-carrying files
        first = (str(e).strip().splitlines() or [""])[0][:200]
        raise CheckpointError(
            f"checkpoint {path} could not be read ({type(e).__name__}: {first}); it is corrupted, incomplete or "
            "not a plain coral_lab checkpoint. "
            "Delete it and re-run `coral-lab pretrain` (an interrupted run resumes from its last good checkpoint)."
        ) from None
    required = {"model", "config", "epoch"}
    if not isinstance(ckpt, dict) or not required <= set(ckpt):
        raise CheckpointError(
            f"checkpoint {path} is not a coral_lab checkpoint (expected keys {sorted(required)}); "
            "point to the checkpoint.pt of a `coral-lab pretrain` run folder"
        )
    return ckpt
