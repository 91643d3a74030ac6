"""Training checkpoints (model, optimizer, scheduler, position, log, RNG states), written atomically.

``write_state`` / ``read_state`` / ``restore_rng`` are the one checkpoint format (the pointer's loop here, the
projector alignment in ``recipe/align.py``); ``save_checkpoint`` / ``load_checkpoint`` are the pointer's,
which also refuse a checkpoint of other settings.
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import torch

from ..errors import CheckpointError
from ..io.atomic import atomic_torch_save

CHECKPOINT_NAME = "checkpoint.pt"


def save_checkpoint(path: Path, *, pointer, optimizer, scheduler, progress: dict, signature: dict) -> None:
    """Write the full training state to ``path`` (tmp file + ``os.replace``: never half-written).

    ``progress``: ``epoch`` (the epoch in progress), ``step`` (its batches already done),
    ``global_step``, ``epoch_sums``, ``log``, ``best`` and ``wall_s``.
    """
    write_state(path, {
        "pointer": {name: t.detach().cpu() for name, t in pointer.state_dict().items()},
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "progress": progress,
        "signature": signature,
    })


def write_state(path, state: dict) -> None:
    """``state`` plus the torch / numpy / python RNG states, saved with ``torch.save`` atomically."""
    state = {**state, "rng": {"torch": torch.get_rng_state(), "numpy": np.random.get_state(),
                              "python": random.getstate()}}
    atomic_torch_save(state, path)


def read_state(path, *, what: str) -> dict:
    """What :func:`write_state` wrote; CheckpointError (one line, naming ``what``) when it is unreadable."""
    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except (OSError, RuntimeError, EOFError, ValueError) as error:
        raise CheckpointError(f"cannot read {what} checkpoint {path} ({error}); delete it and train without "
                              "--resume") from None


def restore_rng(rng: dict) -> None:
    """Put back the RNG states :func:`write_state` recorded (an exact resume)."""
    torch.set_rng_state(rng["torch"])
    np.random.set_state(rng["numpy"])
    random.setstate(rng["python"])


def load_checkpoint(path: Path, *, signature: dict) -> dict:
    """Read a checkpoint written by :func:`save_checkpoint` and restore the RNG states.

    Raises:
        CheckpointError: unreadable, or written by a run with other data, heads or hyper-parameters.
    """
    state = read_state(path, what="training")
    stored = state.get("signature", {})
    if stored != signature:
        now, then = _flat(signature), _flat(stored)
        changed = sorted(name for name in set(now) | set(then) if now.get(name) != then.get(name))
        raise CheckpointError(
            f"checkpoint {path} belongs to a run with different {', '.join(changed[:4]) or 'settings'}; "
            "train into a new --out or rerun with the original settings"
        )
    restore_rng(state["rng"])
    return state


def _flat(value, prefix: str = "") -> dict:
    """Nested dicts -> ``{"a.b.c": leaf}`` (what a changed setting is called in the refusal)."""
    if not isinstance(value, dict):
        return {prefix: value}
    out = {}
    for key, item in value.items():
        out.update(_flat(item, f"{prefix}.{key}" if prefix else str(key)))
    return out
