"""Pointer: QSynth, A2P decoder, PartPointer forward/ablations, decoding, save/load, planted training."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from partpoint.backbones import Features, GridGeometry, LayerFeatures
from partpoint.errors import CheckpointError, LayerError
from partpoint.losses import LossConfig, pointer_loss, signed_distance
from partpoint.pointer import (
    A2PDecoder,
    PartPointer,
    PointerBatch,
    PointerConfig,
    PointerIdentity,
    QSynth,
    SampleFeatures,
    collate,
    heatmap_peak,
)

torch.set_num_threads(1)
PAPER_LOSS = LossConfig(sdf_cap=None, inside_slope=0.0)  # the paper's loss (unbounded penalty, no slope)


IDENTITY = PointerIdentity(backbone="fake", fingerprint="abc123", heads=((2, 0), (3, 1)), head_dim=16)


def small_pointer(identity: PointerIdentity = IDENTITY, **overrides) -> PartPointer:
    base = dict(num_latents=4, depth=1, decoder_dim=16, stage_dims=(16, 8),
                detach_attn=False, a2p_residual=False,
                padding="zeros")  # the paper's decoder unless a test sets one
    return PartPointer(PointerConfig(**{**base, **overrides}), identity)


def random_inputs(batch=2, k=2, length=5, grid=(3, 4), dim=16, seed=0):
    gen = torch.Generator().manual_seed(seed)
    patches = grid[0] * grid[1]
    mask = torch.ones(batch, length, dtype=torch.bool)
    mask[0, -2:] = False
    q_text = torch.randn(batch, k, length, dim, generator=gen)
    k_image = torch.randn(batch, k, patches, dim, generator=gen)
    v_image = torch.randn(batch, k, patches, dim, generator=gen)
    return PointerBatch(q_text=q_text, text_mask=mask, k_image=k_image, v_image=v_image, grid=grid)


# ---------------------------------------------------------------- QSynth


def test_qsynth_shape_and_padding_is_ignored():
    torch.manual_seed(0)
    qsynth = QSynth(dim=16, num_heads=2, num_latents=4, depth=2, attn_heads=2)
    text = torch.randn(3, 2, 7, 16)  # (B, k, L, d)
    mask = torch.tensor([[True] * 7, [True] * 4 + [False] * 3, [True] * 2 + [False] * 5])
    q = qsynth(text, mask)
    assert q.shape == (3, 2, 16)
    changed = text.clone()
    changed[1, :, 4:] = torch.randn(2, 3, 16) * 100
    changed[2, :, 2:] = 0.0
    torch.testing.assert_close(qsynth(changed, mask), q)
    changed[0, 1, 6] += torch.randn(16)  # a real token does matter, to its own head only
    out = qsynth(changed, mask)
    assert not torch.allclose(out[0, 1], q[0, 1])
    torch.testing.assert_close(out[0, 0], q[0, 0])


def test_qsynth_heads_have_independent_weights():
    """Head h's query depends on head h's weights only: perturbing head 0's weights leaves head 1
    unchanged."""
    torch.manual_seed(0)
    qsynth = QSynth(dim=16, num_heads=2, num_latents=4, depth=1)
    text, mask = torch.randn(2, 2, 5, 16), torch.ones(2, 5, dtype=torch.bool)
    before = qsynth(text, mask)
    with torch.no_grad():
        for param in qsynth.parameters():
            param[0] += 0.5 * torch.randn_like(param[0])
    after = qsynth(text, mask)
    assert not torch.allclose(after[:, 0], before[:, 0])
    torch.testing.assert_close(after[:, 1], before[:, 1])


def test_grouped_linear_matches_one_linear_per_group():
    from partpoint.pointer.qsynth import GroupedLinear

    torch.manual_seed(0)
    layer = GroupedLinear(groups=3, in_features=4, out_features=5)
    x = torch.randn(3, 2, 7, 4)
    expected = torch.stack([x[g] @ layer.weight[g] + layer.bias[g, 0] for g in range(3)])
    torch.testing.assert_close(layer(x), expected)


# ---------------------------------------------------------------- A2P


@pytest.mark.parametrize("grid", [(3, 4), (5, 5), (2, 7)])
@pytest.mark.parametrize("use_values", [True, False])
def test_a2p_shapes_for_varied_grids(grid, use_values):
    decoder = A2PDecoder(num_heads=3, head_dim=8, dim=8, stage_dims=(8, 8), use_values=use_values)
    patches = grid[0] * grid[1]
    attn = torch.rand(2, 3, patches).softmax(-1)
    values = torch.randn(2, 3, patches, 8) if use_values else None
    assert decoder(attn, values, grid).shape == (2, grid[0] * 4, grid[1] * 4)


def test_a2p_gradients_flow_to_attention_and_values():
    decoder = A2PDecoder(num_heads=2, head_dim=8, dim=8, stage_dims=(8,))
    attn = torch.rand(1, 2, 12).softmax(-1).requires_grad_()
    values = torch.randn(1, 2, 12, 8, requires_grad=True)
    decoder(attn, values, (3, 4)).logsumexp(dim=(1, 2)).sum().backward()
    assert attn.grad.abs().sum() > 0 and values.grad.abs().sum() > 0
    assert all(p.grad is not None for p in decoder.parameters())


def test_a2p_without_values_ignores_them():
    decoder = A2PDecoder(num_heads=2, head_dim=8, dim=8, stage_dims=(8,), use_values=False)
    attn = torch.rand(1, 2, 12).softmax(-1)
    out = decoder(attn, torch.randn(1, 2, 12, 8), (3, 4))
    torch.testing.assert_close(decoder(attn, torch.randn(1, 2, 12, 8) * 50, (3, 4)), out)
    torch.testing.assert_close(decoder(attn, None, (3, 4)), out)


def test_a2p_rejects_wrong_grid():
    decoder = A2PDecoder(num_heads=1, head_dim=4, dim=4, stage_dims=(4,))
    with pytest.raises(ValueError, match="grid"):
        decoder(torch.rand(1, 1, 12).softmax(-1), torch.randn(1, 1, 12, 4), (4, 4))


# ---------------------------------------------------------------- PartPointer


@pytest.mark.parametrize("flags,upsample",
                         [({}, 4), ({"use_qsynth": False}, 4), ({"use_a2p": False}, 1),
                          ({"use_values": False}, 4)])
def test_pointer_forward_shapes_and_attention_sums_to_one(flags, upsample):
    model = small_pointer(**flags)
    out = model(random_inputs())
    assert out.patch_logits.shape == out.attn.shape == (2, 2, 12)
    torch.testing.assert_close(out.attn.sum(-1), torch.ones(2, 2))
    assert out.heatmap.shape == (2, 3 * upsample, 4 * upsample)


def test_pointer_without_qsynth_uses_final_real_token():
    model = small_pointer(use_qsynth=False)
    batch = random_inputs()
    out = model(batch)
    expected = torch.einsum("kd,kpd->kp", batch.q_text[0, :, 2],
                            batch.k_image[0]) / 4.0  # row 0 has 3 real tokens
    torch.testing.assert_close(out.attn[0], expected.softmax(-1))


def test_pointer_gradients_reach_every_parameter():
    model = small_pointer()
    out = model(random_inputs())
    target = torch.zeros(2, 12)
    target[:, 5] = 1.0
    dist = torch.from_numpy(np.stack([signed_distance(np.kron(target[0].reshape(3, 4).numpy() > 0,
                                                              np.ones((4, 4))) > 0, unit=4)] * 2))
    pointer_loss(out, target, dist, PAPER_LOSS).total.backward()
    missing = [name for name, p in model.named_parameters() if p.grad is None or p.grad.abs().sum() == 0]
    assert not missing


def test_a2p_residual_starts_as_the_upsampled_log_mean_attention():
    model = small_pointer(a2p_residual=True, padding="replicate")
    out = model(random_inputs())
    log_mean = out.attn.mean(dim=1).clamp_min(1e-12).log().reshape(2, 1, 3, 4)
    expected = torch.nn.functional.interpolate(log_mean, scale_factor=4, mode="bilinear",
                                               align_corners=False)[:, 0]
    assert torch.allclose(out.heatmap, expected, atol=1e-6)  # the last conv starts at zero
    assert model.decoder.stages[0][0].padding_mode == "replicate"


def test_detached_attention_keeps_the_heatmap_loss_off_qsynth():
    inputs = random_inputs()
    for detach in (False, True):
        model = small_pointer(detach_attn=detach)
        out = model(inputs)
        out.heatmap.logsumexp(dim=(1, 2)).sum().backward()  # a heatmap-only loss
        grads = [p.grad for p in model.qsynth.parameters()]
        reached = any(g is not None and g.abs().sum() > 0 for g in grads)
        assert reached == (not detach)
        assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.decoder.parameters())


def test_vision_head_is_one_more_head_and_needs_the_patches():
    identity = PointerIdentity(backbone="fake", fingerprint="abc123", heads=((2, 0), (3, 1)), head_dim=16,
                               vision_dim=12)
    model = small_pointer(identity, vision_head=True)
    batch = random_inputs()
    assert model.reads_vision
    with pytest.raises(ValueError, match="vision=True"):
        model(batch)
    batch.vision = torch.randn(2, 12, 12)
    out = model(batch)
    assert out.patch_logits.shape == out.attn.shape == (2, 3, 12) and out.heatmap.shape == (2, 12, 16)
    out.patch_logits[:, 2].sum().backward()  # the BCE row of head k + 1 trains the vision head
    reached = {name for name, p in model.vision_head.named_parameters()
               if p.grad is not None and p.grad.abs().sum() > 0}
    names = {name for name, _ in model.vision_head.named_parameters()}
    assert reached == {name for name in names if not name.startswith("values")}  # values: the heatmap's
    with pytest.raises(CheckpointError, match="vision"):
        small_pointer(IDENTITY, vision_head=True)  # no vision_dim: its backbone gives no patches
    patches = torch.randn(5, 12)
    assert model.cell_embedding(patches).shape == (5, 16)  # point by example matches the vision head's keys
    assert small_pointer(identity).cell_embedding(patches) is patches  # no vision head: the patches


# ---------------------------------------------------------------- decoding


@pytest.mark.parametrize("centre", [(1.37, 2.31), (3.5, 0.9), (0.62, 1.18)])
def test_predict_point_has_sub_patch_precision(centre):
    grid, scale = (3, 4), 4
    rows = (torch.arange(grid[0] * scale) + 0.5) / scale
    cols = (torch.arange(grid[1] * scale) + 0.5) / scale
    u0, v0 = centre
    logits = -((cols[None, :] - u0) ** 2 + (rows[:, None] - v0) ** 2) / (2 * 0.4**2)
    u, v, score, _ = heatmap_peak(logits[None], grid)
    assert abs(float(u) - u0) < 0.01 and abs(float(v) - v0) < 0.01  # argmax alone is off by up to 0.125
    assert 0 < float(score) <= 1


def test_predict_point_cell_centre_convention_without_refinement():
    logits = torch.full((1, 3, 4), -10.0)
    logits[0, 1, 2] = 10.0  # symmetric neighbours: no offset
    u, v, _, probs = heatmap_peak(logits, (3, 4))
    assert (float(u), float(v)) == (2.5, 1.5)
    torch.testing.assert_close(probs, logits.reshape(1, -1).softmax(-1).reshape(1, 3, 4))
    with pytest.raises(ValueError, match="upsampling"):
        heatmap_peak(torch.zeros(1, 6, 9), (3, 4))


# ---------------------------------------------------------------- features, save/load, point


def fake_backbone(dim=16, grid=(3, 4), fingerprint="abc123", text_len=5):
    """Features of layers 2 and 3 with 2 query heads sharing 1 KV head, on an 80 x 60 image (20 px cells)."""
    gen = torch.Generator().manual_seed(3)
    patches = grid[0] * grid[1]
    layers = {layer: LayerFeatures(q_text=torch.randn(2, text_len, dim, generator=gen),
                                   k_image=torch.randn(1, patches, dim, generator=gen),
                                   v_image=torch.randn(1, patches, dim, generator=gen),
                                   attn_last=torch.full((2, patches), 1 / patches),
                                   attn_last_mass=torch.ones(2),
                                   scale=dim**-0.5)
              for layer in (2, 3)}
    geometry = GridGeometry(sx=20.0, ox=0.0, sy=20.0, oy=0.0, grid=grid, input_size=(80, 60),
                            cell_px=(1.0, 1.0))
    features = Features(layers=layers, geometry=geometry, image_size=(80, 60))
    calls = []

    def encode_many(image, texts, layers):
        calls.append(layers)
        return [features] * len(texts)

    return SimpleNamespace(name="fake", fingerprint=fingerprint, encode_many=encode_many, calls=calls,
                           features=features)


def test_sample_features_index_each_kv_head_once_and_collate_pads_text():
    backbone = fake_backbone()
    item = SampleFeatures.of(backbone.features, IDENTITY.heads)
    assert item.q_text.shape == (2, 5, 16) and item.k_image.shape == (2, 12, 16) and item.grid == (3, 4)
    torch.testing.assert_close(item.q_text[1], backbone.features.layers[3].q_text[1])
    torch.testing.assert_close(item.k_image[1],
                               backbone.features.layers[3].k_image[0])  # query head 1 -> KV head 0
    short = SampleFeatures.of(backbone.features, IDENTITY.heads)
    short.q_text = short.q_text[:, :3]
    batch = collate([item, short])
    assert batch.q_text.shape == (2, 2, 5, 16) and batch.text_mask.tolist()[1] == [True] * 3 + [False] * 2
    assert SampleFeatures.from_state(item.to_state()).geometry == item.geometry
    with pytest.raises(LayerError, match="layer 7"):
        SampleFeatures.of(backbone.features, [(7, 0)])
    with pytest.raises(LayerError, match="head 5"):
        SampleFeatures.of(backbone.features, [(2, 5)])
    other = SampleFeatures.of(fake_backbone(grid=(4, 3)).features, IDENTITY.heads)
    with pytest.raises(ValueError, match="one grid"):
        collate([item, other])


def test_predictor_points_in_original_pixels_with_the_geometry():
    from PIL import Image

    from partpoint.predictor import Pointer

    backbone = fake_backbone()
    model = small_pointer()
    result = Pointer(backbone=backbone, model=model).point(Image.new("RGB", (80, 60)), "the handle")
    assert backbone.calls == [[2, 3]]
    assert 0 <= result.x <= 80 and 0 <= result.y <= 60 and (result.width, result.height) == (80, 60)
    assert result.heatmap.shape == (12, 16) and result.heatmap.sum() == pytest.approx(1.0, abs=1e-4)
    assert result.geometry is backbone.features.geometry and result.instruction == "the handle"
    peak = model.predict_point(model(collate([SampleFeatures.of(backbone.features, IDENTITY.heads)])), (3, 4))
    assert (result.x, result.y) == pytest.approx((float(peak.u) * 20, float(peak.v) * 20))
    with pytest.raises(CheckpointError, match="fingerprint other"):
        Pointer(backbone=fake_backbone(fingerprint="other"), model=model)


def test_save_load_round_trip_and_refusals(tmp_path):
    torch.manual_seed(0)
    model = small_pointer(use_values=False)
    inputs = random_inputs()
    model.save_pretrained(tmp_path / "ptr")
    assert sorted(p.name for p in (tmp_path / "ptr").iterdir()) == ["config.json", "model.safetensors"]
    loaded = PartPointer.from_pretrained(tmp_path / "ptr")
    assert loaded.config == model.config and loaded.identity == model.identity
    torch.testing.assert_close(loaded(inputs).heatmap, model(inputs).heatmap)
    with pytest.raises(CheckpointError, match="missing"):
        PartPointer.from_pretrained(tmp_path / "nowhere")
    (tmp_path / "ptr" / "model.safetensors").write_bytes(b"not a tensor file")
    with pytest.raises(CheckpointError, match="corrupt"):
        PartPointer.from_pretrained(tmp_path / "ptr")
    model.save_pretrained(tmp_path / "ptr")
    config = json.loads((tmp_path / "ptr" / "config.json").read_text())
    (tmp_path / "ptr" / "config.json").write_text(json.dumps({**config, "pointer": {**config["pointer"],
                                                                                      "use_values": True}}))
    with pytest.raises(CheckpointError, match="do not match"):
        PartPointer.from_pretrained(tmp_path / "ptr")
    (tmp_path / "ptr" / "config.json").write_text(json.dumps({**config,
                                                              "pointer": {"qsynth_queries": "pre_rope"}}))
    with pytest.raises(CheckpointError, match="unknown pointer settings"):
        PartPointer.from_pretrained(tmp_path / "ptr")
    (tmp_path / "ptr" / "config.json").write_text("{broken")
    with pytest.raises(CheckpointError, match="corrupt"):
        PartPointer.from_pretrained(tmp_path / "ptr")
    assert str(CheckpointError("x")).count("\n") == 0


# ---------------------------------------------------------------- planted-structure training

DIM, HEADS, TEXT_LEN, GRID, NUM_PARTS = 16, 2, 6, (6, 6), 4


def planted_batch(batch, gen, part_keys, part_words):
    """Three of four parts, each a 2x2 block in its own quadrant; the text names one part with a word
    vector at a random position (never the last token); keys and values carry the part's direction."""
    labels = torch.full((batch, *GRID), -1)
    asked = torch.randint(0, NUM_PARTS, (batch,), generator=gen)
    for b in range(batch):
        parts = torch.randperm(NUM_PARTS, generator=gen)[:3]
        if asked[b] not in parts:
            parts[0] = asked[b]
        for part, quadrant in zip(parts.tolist(), torch.randperm(4, generator=gen)[:3].tolist()):
            row = (quadrant // 2) * 3 + int(torch.randint(0, 2, (1,), generator=gen))
            col = (quadrant % 2) * 3 + int(torch.randint(0, 2, (1,), generator=gen))
            labels[b, row : row + 2, col : col + 2] = part
    flat = labels.reshape(batch, -1)
    one_hot = (torch.nn.functional.one_hot(flat.clamp_min(0), NUM_PARTS).float() * (flat >= 0).float()[...,
                                                                                                       None])
    keys = torch.randn(batch, HEADS, flat.shape[1], DIM, generator=gen) * 0.5 + (one_hot @ part_keys)[:, None]
    values = keys + torch.randn(keys.shape, generator=gen) * 0.5
    text = torch.randn(batch, HEADS, TEXT_LEN, DIM, generator=gen)
    where = torch.randint(0, TEXT_LEN - 1, (batch,), generator=gen)
    text[torch.arange(batch), :, where] = part_words[asked][:, None]
    return (text, torch.ones(batch, TEXT_LEN, dtype=torch.bool), keys, values,
            labels == asked[:, None, None], labels >= 0)


def planted_hit_rate(model, *, in_vision: bool = False, steps: int = 200):
    """Train ``model`` on planted parts, then its hit rate on new ones, with uniform and any-part chance.
    ``in_vision``: the parts are marked only in the vision patches (the heads' keys and values are noise)."""
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(1)
    part_keys, part_words = (torch.randn(NUM_PARTS, DIM, generator=gen) * 2,
                             torch.randn(NUM_PARTS, DIM, generator=gen) * 2)

    def batch_of(size, generator):
        text, mask, keys, values, target, foreground = planted_batch(size, generator, part_keys, part_words)
        vision = None
        if in_vision:
            vision, keys, values = keys[:, 0], torch.randn(keys.shape, generator=generator), torch.randn(
                values.shape, generator=generator)
        return PointerBatch(q_text=text, text_mask=mask, k_image=keys, v_image=values, grid=GRID,
                            vision=vision), target, foreground

    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    scale = model.config.upsample
    for _ in range(steps):
        batch, target, _ = batch_of(32, gen)
        upsampled = np.kron(target.numpy(), np.ones((1, scale, scale))) > 0
        dist = torch.from_numpy(np.stack([signed_distance(m, unit=scale) for m in upsampled]))
        loss = pointer_loss(model(batch), target.reshape(32, -1).float(), dist, PAPER_LOSS)
        optimizer.zero_grad()
        loss.total.backward()
        optimizer.step()

    batch, target, foreground = batch_of(256, torch.Generator().manual_seed(99))
    with torch.no_grad():
        u, v, _, _ = model.predict_point(model.eval()(batch), GRID)
    index = torch.arange(256), v.long().clamp(max=GRID[0] - 1), u.long().clamp(max=GRID[1] - 1)
    chance = target.float().mean()  # uniform pointing: ~0.11
    foreground_chance = (target.sum((1, 2)) / foreground.sum((1, 2))).mean()  # any part: 1/3
    return target[index].float().mean(), chance, foreground_chance


def test_training_on_planted_parts_beats_chance_and_foreground():
    hit_rate, chance, foreground_chance = planted_hit_rate(small_pointer())
    assert hit_rate > 0.8 and hit_rate > 2 * foreground_chance and hit_rate > 5 * chance


def test_a_vision_head_finds_parts_only_the_vision_patches_show():
    identity = PointerIdentity(backbone="fake", fingerprint="abc123", heads=((2, 0), (3, 1)), head_dim=DIM,
                               vision_dim=DIM)
    seeing, seeing_chance, _ = planted_hit_rate(small_pointer(identity, vision_head=True), in_vision=True)
    blind, _, _ = planted_hit_rate(small_pointer(identity), in_vision=True)
    assert seeing > 0.6 and blind < 2 * seeing_chance
