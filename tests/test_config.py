"""One config per concern: TrainConfig nests the pointer, loss, optimiser and head-selection settings; the
``partpoint train`` flags come from the same fields, defaults written once."""

from __future__ import annotations

import argparse
import dataclasses

import pytest

from partpoint.commands import build_parser
from partpoint.commands._config_flags import config_from_args
from partpoint.losses import LossConfig
from partpoint.pointer import PointerConfig
from partpoint.training import OptimConfig, SelectConfig, TrainConfig


def parse_train(*flags: str):
    return build_parser().parse_args(["train", "--backbone", "b", "--data", "d", "--out", "o", *flags])


def test_every_setting_has_one_name_and_override_routes_it_to_its_section():
    names = [f.name for cls in (PointerConfig, LossConfig, OptimConfig,
                                SelectConfig) for f in dataclasses.fields(cls)]
    assert len(names) == len(set(names))  # unique across sections, so a flat name is never ambiguous
    config = TrainConfig.of(lam=0.5, epochs=3, attn_heads=4, num_heads=2, seed=7)
    assert (config.loss.lam, config.optim.epochs, config.pointer.attn_heads, config.select.num_heads,
            config.seed) == \
        (0.5, 3, 4, 2, 7)
    assert config.loss.tau == LossConfig().tau and config.pointer.ff_mult == PointerConfig().ff_mult
    with pytest.raises(TypeError, match="heads"):
        TrainConfig.of(heads=[(0, 0)])  # identity, filled in by training, not a setting
    with pytest.raises(TypeError, match="nonsense"):
        TrainConfig().override(nonsense=1)


def test_train_flags_are_generated_from_the_fields_with_the_old_names():
    args = parse_train("--attn-heads", "4", "--ff-mult", "3", "--k", "3", "--no-qsynth", "--lam", "0.5",
                       "--stage-dims", "16,8", "--padding", "zeros", "--no-detach-attn", "--sdf-cap", "2")
    config = config_from_args(args)
    assert (config.pointer.attn_heads, config.pointer.ff_mult, config.select.num_heads) == (4, 3, 3)
    assert not config.pointer.use_qsynth and not config.pointer.detach_attn
    assert config.pointer.stage_dims == (16, 8)
    assert (config.loss.lam, config.loss.sdf_cap, config.pointer.padding) == (0.5, 2.0, "zeros")
    assert config_from_args(parse_train("--sdf-cap", "none")).loss.sdf_cap is None  # X | None reads "none"
    with pytest.raises(SystemExit):
        parse_train("--padding", "reflect")  # choices come from the field's Literal
    untouched = config_from_args(parse_train())
    assert untouched == TrainConfig()  # no flag given: every default is the dataclass's own


def test_flag_help_shows_the_dataclass_default_and_flags_not_given_are_absent():
    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices.values()
    train = next(a for a in commands if a.prog.endswith(" train"))
    by_dest = {action.dest: action for action in train._actions}
    assert by_dest["tau"].default is argparse.SUPPRESS
    assert f"default {LossConfig().tau}" in by_dest["tau"].help
    assert isinstance(by_dest["use_values"], argparse.BooleanOptionalAction)
    assert "--no-values" in by_dest["use_values"].option_strings
    for section in (PointerConfig, LossConfig, OptimConfig, SelectConfig):  # help written once, in the field
        for f in dataclasses.fields(section):
            if f.name in by_dest:
                assert by_dest[f.name].help.startswith(f.metadata["help"])
