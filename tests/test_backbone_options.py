"""Choices shared by the backbone commands: the dtype ``auto`` rule, head-selection layers, seeded subsets."""

from __future__ import annotations

from pathlib import Path

import pytest


def test_dtype_auto_takes_bf16_only_where_it_is_fast(monkeypatch):
    import torch

    from partpoint.backbones import dtypes
    from partpoint.errors import BackboneError

    assert dtypes.resolve_dtype(None) is torch.float32  # the library default stays exact
    assert dtypes.resolve_dtype("bf16") is torch.bfloat16
    assert dtypes.resolve_dtype(torch.float16) is torch.float16
    monkeypatch.setattr(dtypes, "cpu_has_fast_bf16", lambda: False)
    assert dtypes.resolve_dtype("auto", "cpu") is torch.float32
    monkeypatch.setattr(dtypes, "cpu_has_fast_bf16", lambda: True)
    assert dtypes.resolve_dtype("auto", "cpu") is torch.bfloat16
    with pytest.raises(BackboneError, match="unknown dtype"):
        dtypes.resolve_dtype("int8")


def test_train_layer_ranges_and_seeded_subsets():
    from partpoint.commands.train import parse_layers, subsample
    from partpoint.data.sample import PartDataset, Record
    from partpoint.errors import DataError, LayerError

    assert parse_layers("2-5") == (2, 3, 4, 5) and parse_layers("2,4") == (2,
                                                                           4) and parse_layers(None) is None
    with pytest.raises(LayerError):
        parse_layers("two-five")
    records = [Record(key=f"k{i}", image_paths=(Path(f"{i}.jpg"),), instruction="x", mask=None, object="o",
                      part="p", category="c", origin="test") for i in range(20)]
    dataset = PartDataset(records, name="d", source="test")
    small = subsample(dataset, 5, seed=0)
    assert len(small) == 5 and small.keys == sorted(small.keys, key=lambda k: int(k[1:]))
    assert small.keys == subsample(dataset, 5, seed=0).keys != subsample(dataset, 5, seed=1).keys
    assert subsample(dataset, 50, seed=0) is dataset
    with pytest.raises(DataError):
        subsample(dataset, 0, seed=0)
