"""``partpoint train`` flags generated from the fields of :class:`TrainConfig` and its sections.

Every setting is a flag named after its field (``lam`` -> ``--lam``, ``use_values`` -> ``--values`` /
``--no-values``); its help is the field's ``metadata["help"]``, its choices the field's ``Literal`` type; a
flag not given leaves
no attribute (``argparse.SUPPRESS``), so the dataclass default, which the help shows, applies and a given
``none`` is told apart from "not given". ``config_from_args`` applies the flags that were given.
"""

from __future__ import annotations

import argparse
import types
import typing

SECTION_TITLES = {"pointer": "pointer (PointerConfig)", "loss": "loss (LossConfig)",
                  "optim": "optimisation (OptimConfig)", "select": "head selection (SelectConfig)",
                  None: "run"}
ALIASES = {"num_heads": ("--k",)}
SKIP = ("select_layers", "progress", "select_progress")  # --layers and --quiet set these


def _flag(name: str) -> str:
    return "--" + (name[4:] if name.startswith("use_") else name).replace("_", "-")


def _parse(hint):
    """``(parse, choices)`` of a field's type: a ``Literal`` gives its choices, ``X | None`` reads ``none``,
    ``tuple[int, ...]`` reads ``64,32``."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Literal:
        return str, args
    if origin in (typing.Union, types.UnionType) and type(None) in args:
        inner, choices = _parse(next(a for a in args if a is not type(None)))
        return (lambda text: None if text.lower() == "none" else inner(text)), choices
    if origin is tuple:
        return (lambda text: tuple(int(v) for v in text.split(","))), None
    return hint, None


def add_config_arguments(parser) -> None:
    """One flag per :meth:`TrainConfig.settable` field, grouped by section; defaults shown, not restated."""
    from ..training.config import SECTIONS, TrainConfig

    defaults = TrainConfig()
    hints = {section: typing.get_type_hints(cls) for section, cls in {**SECTIONS, None: TrainConfig}.items()}
    groups = {}
    for name, (section, f) in TrainConfig.settable().items():
        if name in SKIP:
            continue
        default = getattr(getattr(defaults, section) if section else defaults, name)
        group = groups.get(section) or groups.setdefault(section,
                                                         parser.add_argument_group(SECTION_TITLES[section]))
        shown = ",".join(map(str, default)) if isinstance(default, tuple) else default
        text = f"{f.metadata['help']} (default {shown})"
        flags = (_flag(name), *ALIASES.get(name, ()))
        if isinstance(default, bool):
            group.add_argument(*flags, dest=name, action=argparse.BooleanOptionalAction,
                               default=argparse.SUPPRESS,
                               help=text)
        else:
            parse, choices = _parse(hints[section][name])
            group.add_argument(*flags, dest=name, type=parse, default=argparse.SUPPRESS, choices=choices,
                               help=text,
                               metavar=None if choices else name.upper())


def config_from_args(args, **settings):
    """``TrainConfig`` with every generated flag that was given, plus ``settings``."""
    from ..training.config import TrainConfig

    given = {name: getattr(args,
                           name) for name in TrainConfig.settable() if name not in SKIP and hasattr(args,
                                                                                                    name)}
    return TrainConfig.of(**given, **settings)
