"""Training checkpoints (pointer, optimizer, scheduler, position, log, RNG states), written atomically."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import torch

from ..errors import CheckpointError
from ..io.atomic import atomic_write

CHECKPOINT_NAME = "checkpoint.pt"


def save_checkpoint(path: Path, *, pointer, optimizer, scheduler, progress: dict, signature: dict) -> None:
    """Write the full training state to ``path`` (tmp file + ``os.replace``: never half-written).

    ``progress``: ``epoch`` (the epoch in progress), ``step`` (its batches already done),
    ``global_step``, ``epoch_sums``, ``log``, ``best`` and ``wall_s``.
    """
    state = {
        "pointer": {name: t.detach().cpu() for name, t in pointer.state_dict().items()},
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "progress": progress,
        "signature": signature,
        "rng": {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()},
    }
    atomic_write(path, lambda tmp: torch.save(state, tmp))


def load_checkpoint(path: Path, *, signature: dict) -> dict:
    """Read a checkpoint written by :func:`save_checkpoint` and restore the RNG states.

    Raises:
        CheckpointError: unreadable, or written by a run with other data, heads or hyper-parameters.
    """
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
    except (OSError, RuntimeError, EOFError, ValueError) as error:
        raise CheckpointError(f"cannot read training checkpoint {path} ({error}); delete it and train without --resume") from None
    stored = state.get("signature", {})
    if stored != signature:
        now, then = _flat(signature), _flat(stored)
        changed = sorted(name for name in set(now) | set(then) if now.get(name) != then.get(name))
        raise CheckpointError(
            f"checkpoint {path} belongs to a run with different {', '.join(changed[:4]) or 'settings'}; "
            "train into a new --out or rerun with the original settings"
        )
    torch.set_rng_state(state["rng"]["torch"])
    np.random.set_state(state["rng"]["numpy"])
    random.setstate(state["rng"]["python"])
    return state


def _flat(value, prefix: str = "") -> dict:
    """Nested dicts -> ``{"a.b.c": leaf}`` (what a changed setting is called in the refusal)."""
    if not isinstance(value, dict):
        return {prefix: value}
    out = {}
    for key, item in value.items():
        out.update(_flat(item, f"{prefix}.{key}" if prefix else str(key)))
    return out
