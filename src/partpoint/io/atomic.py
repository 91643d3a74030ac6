"""Atomic file writes: a reader (or a run resumed after an interruption) never sees a half-written file.

Every write goes to a temporary file in the target's folder (same file system), which is then renamed
onto the target with ``os.replace`` (atomic on POSIX and Windows); on failure the temporary file is removed.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; when the block ends without error it becomes ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(handle)
    tmp = Path(tmp)
    try:
        yield tmp
        umask = os.umask(0)  # mkstemp made it 0600: give it the mode a plain open() would
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write(path: str | os.PathLike, write: Callable[[Path], object]) -> Path:
    """``write(tmp)`` (any writer taking a path: ``torch.save``, ``save_file``...) then rename onto
    ``path``."""
    with atomic_path(path) as tmp:
        write(tmp)
    return Path(path)


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    return atomic_write(path, lambda tmp: tmp.write_text(text))


def atomic_write_json(path: str | os.PathLike, data, **dumps) -> Path:
    """``data`` as JSON (``dumps``: ``json.dumps`` options; default ``indent=2, default=str``)."""
    return atomic_write_text(path, json.dumps(data, **({"indent": 2, "default": str} | dumps)))


def atomic_torch_save(obj, path: str | os.PathLike) -> Path:
    """``torch.save(obj)`` onto ``path`` atomically (caches, checkpoints)."""
    import torch

    return atomic_write(path, lambda tmp: torch.save(obj, tmp))
