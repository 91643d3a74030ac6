"""Feature cache: round trip vs. the backbone, reuse vs. rebuild on key change, resumed builds."""

from __future__ import annotations

import pytest
import torch

from partpoint.data import open_dataset
from partpoint.training.cache import CacheError, FeatureCache, entry_mask
from test_train_support import CountingBackbone, tiny_setup  # noqa: F401  (fixture)

torch.set_num_threads(1)
HEADS = [(1, 0), (2, 3), (2, 1)]


def test_round_trip_matches_the_backbone(tiny_setup, tmp_path):  # noqa: F811
    _, backbone, train_spec, _ = tiny_setup
    dataset = open_dataset(train_spec)[:5]
    cache = FeatureCache.build(backbone, dataset, heads=HEADS, cache_dir=tmp_path, shard_size=2, progress=False)
    assert len(cache) == 5 and cache.complete and cache.num_shards == 3
    for i, entry in enumerate(cache):
        sample = dataset[i]
        features = backbone.encode(sample.image, sample.instruction, layers=[1, 2])
        assert entry["key"] == dataset.key(i) and entry["grid"] == (8, 8)
        for name, attr in (("q_text", "q_text"), ("k_image", "k_image"), ("v_image", "v_image")):
            expected = torch.stack([getattr(features.layers[layer], attr)[:, head] for layer, head in HEADS])
            assert entry[name].dtype == torch.float16
            torch.testing.assert_close(entry[name].float(), expected, atol=2e-3, rtol=2e-3)
        attn = torch.stack([features.layers[layer].attn_last[head] for layer, head in HEADS])  # (k, P)
        torch.testing.assert_close(entry["attn_last"].float(), attn, atol=1e-3, rtol=2e-3)
        mass = torch.stack([features.layers[layer].attn_last_mass[head] for layer, head in HEADS])  # (k,)
        torch.testing.assert_close(entry["attn_mass"], mass, atol=1e-6, rtol=1e-5)
        torch.testing.assert_close(
            entry["patch_target"].float(), torch.from_numpy(features.grid_mask(sample.mask).ravel()).float(), atol=1e-3, rtol=0
        )
        for scale in (1, 4, 8):
            assert (entry_mask(entry, scale) == features.sample_mask(sample.mask, scale=scale)).all()
        assert entry["image_size"] == sample.image.size
    with pytest.raises(CacheError, match="scales"):
        entry_mask(cache[0], 3)


def test_reuse_and_rebuild_on_key_change(tiny_setup, tmp_path):  # noqa: F811
    _, backbone, train_spec, _ = tiny_setup
    dataset = open_dataset(train_spec)[:4]
    counting = CountingBackbone(backbone)
    first = FeatureCache.build(counting, dataset, heads=HEADS, cache_dir=tmp_path, batch_size=2, progress=False, reuse_prefix=False)
    assert counting.calls == 2
    again = FeatureCache.build(counting, dataset, heads=HEADS, cache_dir=tmp_path, batch_size=2, progress=False, reuse_prefix=False)
    assert counting.calls == 2 and again.directory == first.directory  # reused, nothing encoded
    other_heads = FeatureCache.build(counting, dataset, heads=HEADS[:2], cache_dir=tmp_path, batch_size=2, progress=False, reuse_prefix=False)
    assert counting.calls == 4 and other_heads.directory != first.directory
    other_data = FeatureCache.build(counting, dataset[:3], heads=HEADS, cache_dir=tmp_path, batch_size=2, progress=False, reuse_prefix=False)
    assert counting.calls == 6 and other_data.directory != first.directory
    with pytest.raises(CacheError, match="heads"):
        FeatureCache.open(first.directory, expect=other_heads.key)
    assert FeatureCache.open(first.directory, expect=first.key).entries()[0]["key"] == dataset.key(0)


def test_interrupted_build_resumes(tiny_setup, tmp_path):  # noqa: F811
    _, backbone, train_spec, _ = tiny_setup
    dataset = open_dataset(train_spec)[:6]
    flaky = CountingBackbone(backbone, fail_after=3)  # batch_size 1, shard_size 2: shard 0 done, shard 1 half
    with pytest.raises(KeyboardInterrupt):
        FeatureCache.build(flaky, dataset, heads=HEADS, cache_dir=tmp_path, shard_size=2, batch_size=1, progress=False, reuse_prefix=False)
    partial = FeatureCache.open(next(tmp_path.iterdir()))
    assert partial.missing_shards() == [1, 2]
    assert not [p for p in partial.directory.iterdir() if p.name.endswith(".tmp")]  # nothing half-written
    resumed = CountingBackbone(backbone)
    cache = FeatureCache.build(resumed, dataset, heads=HEADS, cache_dir=tmp_path, shard_size=2, batch_size=1, progress=False, reuse_prefix=False)
    assert resumed.calls == 4 and cache.complete
    fresh = FeatureCache.build(backbone, dataset, heads=HEADS, cache_dir=tmp_path / "fresh", shard_size=2, progress=False)
    assert [e["key"] for e in cache] == [e["key"] for e in fresh] == dataset.keys
    for a, b in zip(cache, fresh):
        torch.testing.assert_close(a["k_image"], b["k_image"], atol=1e-3, rtol=1e-3)
        torch.testing.assert_close(a["q_text"], b["q_text"], atol=1e-3, rtol=1e-3)


def test_samples_of_one_image_share_one_prefix_pass(tiny_setup, tmp_path):  # noqa: F811
    _, backbone, train_spec, _ = tiny_setup
    dataset = open_dataset(train_spec)
    calls = []

    class Recording(CountingBackbone):
        def encode(self, image, instructions, **kw):
            calls.append(len(instructions))
            return self._backbone.encode(image, instructions, **kw)

    from partpoint.training.cache import _image_groups

    groups = _image_groups(dataset, list(range(len(dataset))), 8)
    assert any(len(g) > 1 for g in groups) and sorted(i for g in groups for i in g) == list(range(len(dataset)))
    shared = FeatureCache.build(Recording(backbone), dataset, heads=HEADS, cache_dir=tmp_path / "a", shard_size=len(dataset),
                                progress=False)
    plain = FeatureCache.build(backbone, dataset, heads=HEADS, cache_dir=tmp_path / "b", shard_size=len(dataset),
                               progress=False, reuse_prefix=False)
    assert calls and sum(calls) == sum(len(g) for g in groups if len(g) > 1)  # one call per multi-sample image
    assert [e["key"] for e in shared] == [e["key"] for e in plain]
    for a, b in zip(shared, plain):
        torch.testing.assert_close(a["k_image"].float(), b["k_image"].float(), atol=2e-3, rtol=2e-3)
        torch.testing.assert_close(a["q_text"].float(), b["q_text"].float(), atol=2e-3, rtol=2e-3)


@pytest.mark.parametrize("option, name, source, kept", [("queries", "q_text", "q_text_pre", "k_image"),
                                                         ("keys", "k_image", "k_image_pre", "q_text")])
def test_pre_rope_cache_holds_the_tensor_before_rope_in_its_own_directory(tiny_setup, tmp_path, option, name, source,  # noqa: F811
                                                                         kept):
    """``queries="pre_rope"`` stores the text queries before RoPE, ``keys="pre_rope"`` the image keys; the
    other tensors are the post-RoPE cache's."""
    _, backbone, train_spec, _ = tiny_setup
    dataset = open_dataset(train_spec)[:3]
    post = FeatureCache.build(backbone, dataset, heads=HEADS, cache_dir=tmp_path, progress=False)
    pre = FeatureCache.build(backbone, dataset, heads=HEADS, cache_dir=tmp_path, progress=False, **{option: "pre_rope"})
    assert pre.directory != post.directory and pre.key[option] == "pre_rope" and option not in post.key
    for i, (a, b) in enumerate(zip(post, pre)):
        sample = dataset[i]
        features = backbone.encode(sample.image, sample.instruction, layers=[1, 2], pre_rope=True)
        expected = torch.stack([getattr(features.layers[layer], source)[:, head] for layer, head in HEADS])
        torch.testing.assert_close(b[name].float(), expected, atol=2e-3, rtol=2e-3)
        assert torch.equal(a[kept], b[kept]) and torch.equal(a["v_image"], b["v_image"])
        assert not torch.equal(a[name], b[name])
