"""Exceptions with one-line messages that name the problem and the fix.

Every error the library raises for bad input derives from :class:`PartPointError`, and also from the
built-in exception a caller would naturally catch (``ValueError``, ``FileNotFoundError``, ...).
The CLI prints ``error: <message>`` and exits with status 2 for these, never a traceback.
"""

from __future__ import annotations


class PartPointError(Exception):
    """Base class of every partpoint error meant for the user."""


class ImageError(PartPointError, ValueError):
    """An image could not be read or is unusable (corrupt, empty, too large)."""


class InstructionError(PartPointError, ValueError):
    """The instruction text is empty or not a string."""


class BackboneError(PartPointError, ValueError):
    """A model directory or id cannot be used as a backbone."""


class CaptureError(BackboneError):
    """The backbone's attention cannot be captured (no supported attention implementation)."""


class LayerError(PartPointError, IndexError):
    """A layer or head index outside the model."""


class CheckpointError(PartPointError, ValueError):
    """A pointer checkpoint is missing, corrupt, or belongs to another backbone."""


class DataError(PartPointError, ValueError):
    """A dataset file is missing, malformed, or inconsistent (mask size, empty mask, format)."""


class WeightsError(BackboneError):
    """Pretrained weights a default backbone is assembled from are missing or not the pinned files."""


class DataWarning(UserWarning):
    """A bad annotation that was skipped (its file and line are named); loading goes on."""
