"""Default sizes and schedule of the two bundled backbones (see docs/BACKBONES.md)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

ARCHS = ("llava", "qwen2_5_vl")


@dataclass
class Recipe:
    """Everything that defines a pretraining run besides the seed and the output folder."""

    arch: str = "llava"
    # model (passed to build_tiny_backbone)
    sizes: dict = field(default_factory=dict)
    vocab_size: int = 1536
    image_size: int = 224
    # data
    n_scenes: int = 2400  # SynthParts train scenes rendered once into the pool
    n_single_scenes: int = 600  # of which single-object scenes (the curriculum's first stage)
    use_carparts: bool = True
    # optimisation
    steps: int = 1000
    batch_size: int = 16
    turns: int = 8  # QA turns packed into one chat sequence per image
    lr: float = 1.5e-3
    warmup_steps: int = 100
    curriculum_steps: int = 300

    def to_json(self) -> dict:
        return asdict(self)


def default_recipe(arch: str) -> Recipe:
    """The recipe of ``default-<arch>``: ~4-5M parameters, 16x16 image-token grid at 224 px."""
    from ..errors import BackboneError

    text = dict(text_hidden=192, text_layers=6, text_heads=6, text_kv_heads=2)
    if arch == "llava":
        sizes = dict(patch_size=14, vision_hidden=128, vision_layers=3, vision_heads=4, **text)
    elif arch == "qwen2_5_vl":
        # patch 7 at 224 px: 32x32 patches, 2x2-merged to a 16x16 grid (min = max pixels = 224**2)
        sizes = dict(patch_size=7, vision_hidden=128, vision_layers=3, vision_heads=4, min_pixels=224 * 224,
                     max_pixels=224 * 224, **text)
        # its vision tower sees 4x the patches (~2x the step time), so fewer steps fit the same budget
        return Recipe(arch=arch, sizes=sizes, steps=600)
    else:
        raise BackboneError(f"no pretraining recipe for arch {arch!r}; choose one of {', '.join(ARCHS)}")
    return Recipe(arch=arch, sizes=sizes)
