"""``partpoint train`` flags generated from the fields of :class:`TrainConfig` and its sections.

Every setting is a flag named after its field (``lam`` -> ``--lam``, ``use_values`` -> ``--values`` /
``--no-values``); its default is None, meaning "the dataclass default", which the help text shows, so no
default is written twice. ``config_from_args`` applies the flags that were given (``TrainConfig.override``).
"""

from __future__ import annotations

import argparse

SECTION_TITLES = {"pointer": "pointer (PointerConfig)", "loss": "loss (LossConfig)",
                  "optim": "optimisation (OptimConfig)", "select": "head selection (SelectConfig)", None: "run"}
CHOICES = {"padding": ("zeros", "replicate"), "bce_target": ("cells", "coverage"), "select_rules": ("reference", "paper"),
           "qsynth_queries": ("post_rope", "pre_rope"),
           "image_keys": ("post_rope", "pre_rope")}
ALIASES = {"num_heads": ("--k",), "select_rules": ("--rules",)}
HELP = {
    "num_heads": "k: heads to select when --heads is not given", "select_samples": "training samples head selection votes on",
    "select_rules": "head-selection rules", "num_latents": "Q-Synth latents N", "depth": "Q-Synth rounds T",
    "attn_heads": "attention heads inside each Q-Synth cross-attention", "ff_mult": "Q-Synth feed-forward width multiple",
    "decoder_dim": "A2P channels after the 1x1 fusion", "stage_dims": "A2P conv + 2x upsampling stages, e.g. 64,32",
    "use_qsynth": "Q-Synth (--no-qsynth: the final token's query)", "use_a2p": "A2P (--no-a2p: mean attention)",
    "use_values": "A2P reads V_v (--no-values: attention maps only)",
    "use_sdf": "SDF heatmap term (--no-sdf: inside-mass loss)", "detach_attn": "A2P reads A_s without gradients to Q-Synth",
    "a2p_residual": "heatmap = upsampled log mean A_s + A2P (last conv zero-initialised)", "padding": "A2P conv padding",
    "qsynth_queries": "text queries Q-Synth reads: after or before RoPE",
    "image_keys": "image keys q_s is matched against: after or before RoPE",
    "tau": "SDF penalty steepness", "gamma": "SDF outside/inside asymmetry", "lam": "weight of the heatmap term",
    "sdf_cap": "cap of the outside distance in the penalty, patches", "inside_slope": "pull toward the innermost point",
    "pos_weight": "BCE weight of part patches", "bce_target": "BCE target per patch",
    "seed": "seed of the weights, batch order and head selection", "cache_dir": "feature cache folder (default OUT/cache)",
    "stop_after_steps": "end this run early (continue with --resume)",
    "checkpoint_every_steps": "mid-epoch checkpoints every N steps",
}
SKIP = ("select_layers", "progress", "select_progress")  # --layers and --quiet set these


def _flag(name: str) -> str:
    return "--" + (name[4:] if name.startswith("use_") else name).replace("_", "-")


def _parser_of(f):
    kind = str(f.type)
    if "tuple[int" in kind:
        return lambda text: tuple(int(v) for v in text.split(","))
    if "float" in kind:
        return float
    if "int" in kind:
        return int
    return str


def add_config_arguments(parser) -> None:
    """One flag per :meth:`TrainConfig.settable` field, grouped by section; defaults shown, not restated."""
    from ..training.config import TrainConfig

    defaults = TrainConfig()
    groups = {}
    for name, (section, f) in TrainConfig.settable().items():
        if name in SKIP:
            continue
        default = getattr(getattr(defaults, section) if section else defaults, name)
        group = groups.get(section) or groups.setdefault(section, parser.add_argument_group(SECTION_TITLES[section]))
        shown = ",".join(map(str, default)) if isinstance(default, tuple) else default
        text = f"{HELP.get(name, name.replace('_', ' '))} (default {shown})"
        flags = (_flag(name), *ALIASES.get(name, ()))
        if isinstance(default, bool):
            group.add_argument(*flags, dest=name, action=argparse.BooleanOptionalAction, default=None, help=text)
        else:
            group.add_argument(*flags, dest=name, type=_parser_of(f), default=None, choices=CHOICES.get(name),
                               help=text, metavar=None if name in CHOICES else name.upper())


def config_from_args(args, **settings):
    """``TrainConfig`` with every generated flag that was given, plus ``settings``."""
    from ..training.config import TrainConfig

    given = {name: getattr(args, name) for name in TrainConfig.settable()
             if name not in SKIP and getattr(args, name, None) is not None}
    return TrainConfig.of(**given, **settings)


