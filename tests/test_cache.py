"""Feature cache: round trip vs. the backbone, reuse vs. rebuild on key change, resumed builds."""

from __future__ import annotations

import pytest
import torch

from helpers import CountingBackbone
from partpoint.data import open_dataset
from partpoint.errors import DataError
from partpoint.training.cache import CacheError, FeatureCache

torch.set_num_threads(1)
HEADS = [(1, 0), (2, 3), (2, 1)]


def test_round_trip_matches_the_backbone(tiny_setup, tmp_path):
    _, backbone, train_spec, _ = tiny_setup
    dataset = open_dataset(train_spec)[:5]
    cache = FeatureCache.build(backbone, dataset, heads=HEADS, cache_dir=tmp_path, shard_size=2,
                               progress=False)
    assert len(cache) == 5 and cache.complete and cache.num_shards == 3
    n_rep = backbone.num_heads // backbone.num_kv_heads  # GQA: query head h reads KV head h // n_rep
    for i, record in enumerate(cache):
        sample = dataset[i]
        features = backbone.encode(sample.image, sample.instruction, layers=[1, 2])
        assert record.key == dataset.key(i) and record.grid == (8, 8) and record.image_id == sample.image_id
        layers = [features.layers[layer] for layer, _ in HEADS]
        expected = {"q_text": [lf.q_text[h] for lf, (_, h) in zip(layers, HEADS)],
                    "k_image": [lf.k_image[h // n_rep] for lf, (_, h) in zip(layers, HEADS)],
                    "v_image": [lf.v_image[h // n_rep] for lf, (_, h) in zip(layers, HEADS)]}
        for name, tensors in expected.items():
            assert getattr(record, name).dtype == torch.float16
            torch.testing.assert_close(getattr(record, name).float(), torch.stack(tensors), atol=2e-3,
                                       rtol=2e-3)
        attn = torch.stack([lf.attn_last[h] for lf, (_, h) in zip(layers, HEADS)])  # (k, P)
        torch.testing.assert_close(record.attn_last.float(), attn, atol=1e-3, rtol=2e-3)
        mass = torch.stack([lf.attn_last_mass[h] for lf, (_, h) in zip(layers, HEADS)])  # (k,)
        torch.testing.assert_close(record.attn_mass, mass, atol=1e-6, rtol=1e-5)
        torch.testing.assert_close(record.coverage,
                                   torch.from_numpy(features.grid_mask(sample.mask).ravel()).float())
        for scale in (1, 4, 8):
            assert (record.mask(scale) == features.sample_mask(sample.mask, scale=scale)).all()
        assert record.image_size == sample.image.size and record.geometry == features.geometry
    with pytest.raises(DataError, match="scales"):
        cache[0].mask(3)


def test_with_mask_retargets_a_record_without_the_backbone(tiny_setup, tmp_path):
    """Another target of the same picture (a box's inscribed ellipse): the cached features, new coverage and
    sampled masks, as if the sample had been cached with that mask."""
    import numpy as np

    from partpoint.training.cache import with_mask

    _, backbone, train_spec, _ = tiny_setup
    sample = open_dataset(train_spec)[0]
    record = FeatureCache.build(backbone, open_dataset(train_spec)[:1], heads=HEADS, cache_dir=tmp_path,
                                progress=False)[0]
    features = backbone.encode(sample.image, sample.instruction, layers=[1, 2])
    other = np.zeros_like(sample.mask)
    other[: other.shape[0] // 3, : other.shape[1] // 2] = True  # top-left block
    moved = with_mask(record, other)
    assert moved.q_text is record.q_text and moved.key == record.key
    torch.testing.assert_close(moved.coverage, torch.from_numpy(features.grid_mask(other).ravel()).float())
    for scale in (1, 8):
        assert (moved.mask(scale) == features.sample_mask(other, scale=scale)).all()
    assert moved.coverage[0] == 1 and moved.coverage[-1] == 0
    assert with_mask(record, np.zeros_like(sample.mask)) is None  # nothing to point at


def test_reuse_and_rebuild_on_key_change(tiny_setup, tmp_path):
    _, backbone, train_spec, _ = tiny_setup
    dataset = open_dataset(train_spec)[:4]
    counting = CountingBackbone(backbone)
    first = FeatureCache.build(counting, dataset, heads=HEADS, cache_dir=tmp_path, batch_size=2,
                               progress=False, reuse_prefix=False)
    assert counting.calls == 2
    again = FeatureCache.build(counting, dataset, heads=HEADS, cache_dir=tmp_path, batch_size=2,
                               progress=False, reuse_prefix=False)
    assert counting.calls == 2 and again.directory == first.directory  # reused, nothing encoded
    other_heads = FeatureCache.build(counting, dataset, heads=HEADS[:2], cache_dir=tmp_path, batch_size=2,
                                     progress=False, reuse_prefix=False)
    assert counting.calls == 4 and other_heads.directory != first.directory
    other_data = FeatureCache.build(counting, dataset[:3], heads=HEADS, cache_dir=tmp_path, batch_size=2,
                                    progress=False, reuse_prefix=False)
    assert counting.calls == 6 and other_data.directory != first.directory
    with pytest.raises(CacheError, match="heads"):
        FeatureCache.open(first.directory, expect=other_heads.key)
    assert FeatureCache.open(first.directory, expect=first.key).entries()[0].key == dataset.key(0)


def test_interrupted_build_resumes(tiny_setup, tmp_path):
    _, backbone, train_spec, _ = tiny_setup
    dataset = open_dataset(train_spec)[:6]
    flaky = CountingBackbone(backbone, fail_after=3)  # batch_size 1, shard_size 2: shard 0 done, shard 1 half
    with pytest.raises(KeyboardInterrupt):
        FeatureCache.build(flaky, dataset, heads=HEADS, cache_dir=tmp_path, shard_size=2, batch_size=1,
                           progress=False, reuse_prefix=False)
    partial = FeatureCache.open(next(tmp_path.iterdir()))
    assert partial.missing_shards() == [1, 2]
    assert not [p for p in partial.directory.iterdir() if p.name.endswith(".tmp")]  # nothing half-written
    resumed = CountingBackbone(backbone)
    cache = FeatureCache.build(resumed, dataset, heads=HEADS, cache_dir=tmp_path, shard_size=2, batch_size=1,
                               progress=False, reuse_prefix=False)
    assert resumed.calls == 4 and cache.complete
    fresh = FeatureCache.build(backbone, dataset, heads=HEADS, cache_dir=tmp_path / "fresh", shard_size=2,
                               progress=False)
    assert [e.key for e in cache] == [e.key for e in fresh] == dataset.keys
    for a, b in zip(cache, fresh):
        torch.testing.assert_close(a.k_image, b.k_image, atol=1e-3, rtol=1e-3)
        torch.testing.assert_close(a.q_text, b.q_text, atol=1e-3, rtol=1e-3)


def test_samples_of_one_image_share_one_prefix_pass(tiny_setup, tmp_path):
    _, backbone, train_spec, _ = tiny_setup
    dataset = open_dataset(train_spec)
    calls = []

    class Recording(CountingBackbone):
        def encode_many(self, image, instructions, **kw):
            calls.append(len(instructions))
            return self._backbone.encode_many(image, instructions, **kw)

    from partpoint.training.cache import _image_groups

    groups = [g for one_image, g in _image_groups(dataset, list(range(len(dataset))), 8) if one_image]
    assert groups and all(len({dataset.image_id(i) for i in g}) == 1 for g in groups)
    shared = FeatureCache.build(Recording(backbone), dataset, heads=HEADS, cache_dir=tmp_path / "a",
                                shard_size=len(dataset),
                                progress=False)
    plain = FeatureCache.build(backbone, dataset, heads=HEADS, cache_dir=tmp_path / "b",
                               shard_size=len(dataset),
                               progress=False, reuse_prefix=False)
    assert calls == [len(g) for g in groups]  # one prefix pass per multi-sample image
    assert [e.key for e in shared] == [e.key for e in plain]
    for a, b in zip(shared, plain):
        torch.testing.assert_close(a.k_image.float(), b.k_image.float(), atol=2e-3, rtol=2e-3)
        torch.testing.assert_close(a.q_text.float(), b.q_text.float(), atol=2e-3, rtol=2e-3)


def test_the_key_changes_with_the_mask_source_not_only_the_instruction():
    """An edited box (or the same box read as its inscribed ellipse) must not reuse the old targets."""
    from pathlib import Path

    from partpoint.data.loaders.masks import BoxMask
    from partpoint.data.sample import PartDataset, Record
    from partpoint.training.cache import dataset_fingerprint

    def dataset(box, shape="box"):
        record = Record(key="a/0", image_paths=(Path("a.jpg"),), instruction="Point to the handle.",
                        mask=BoxMask(box=box, size=(40, 30), shape=shape), object="", part="handle",
                        category="any:handle", origin="a.txt:1")
        return PartDataset([record], name="yolo:train", source="yolo")

    same = dataset_fingerprint(dataset((1, 2, 10, 12)))
    assert same == dataset_fingerprint(dataset((1, 2, 10, 12)))
    assert same != dataset_fingerprint(dataset((1, 2, 10, 13)))
    assert same != dataset_fingerprint(dataset((1, 2, 10, 12), shape="ellipse"))
