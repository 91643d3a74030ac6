"""Exact capture for every supported architecture, early exit, batching, and grid geometry.

Tiny random-weight models (4 query heads over 2 KV heads: grouped-query attention) are built once per
session; nothing comes from a hub.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from partpoint.backbones import SUPPORTED_ARCHS, load_backbone
from partpoint.backbones.features import Features
from tiny_models import build_tiny_backbone

torch.set_num_threads(1)
INSTRUCTION = "Point to the handle of the red mug."
#: Every supported architecture, plus LLaVA with a Dinov2 tower and square resize (default-llava's layout).
VARIANTS = (*SUPPORTED_ARCHS, "llava-dinov2")
_BUILD = {"llava-dinov2": dict(arch="llava", vision="dinov2"), "molmo2": dict(arch="molmo2", image_size=112),
          "fast_vlm": dict(arch="fast_vlm", image_size=128)}


def _photo(width: int, height: int, seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8))


@pytest.fixture(scope="session")
def backbones(tmp_path_factory):
    root = tmp_path_factory.mktemp("backbones")
    return {name: load_backbone(build_tiny_backbone(**_BUILD.get(name, {"arch": name}), out_dir=root / name,
                                                    text_heads=4, text_kv_heads=2))
            for name in VARIANTS}


@pytest.fixture(scope="session")
def eager_models(backbones):
    """The same weights loaded by plain transformers with eager attention in the language model."""
    from pathlib import Path

    models = {}
    for arch, bb in backbones.items():
        path = Path(bb.model.config._name_or_path)
        models[arch] = type(bb.model).from_pretrained(path,
                                                      attn_implementation={"text_config": "eager"}).eval()
    return models


@pytest.mark.parametrize("arch", VARIANTS)
def test_attention_matches_qk_and_models_own_eager_weights(arch, backbones, eager_models):
    bb = backbones[arch]
    assert bb.num_heads == 4 and bb.num_kv_heads == 2  # GQA: query head h reads KV head h // 2
    image = _photo(640, 480)
    layers = list(range(bb.num_layers))
    feats = bb.encode(image, INSTRUCTION, layers=layers)
    p_h, p_w = feats.grid
    inputs = bb.adapter.process(bb.processor, [image], [bb.prompt(INSTRUCTION)])
    with torch.no_grad():
        ref = eager_models[arch](**inputs, output_attentions=True, use_cache=False)
    image_cols = (inputs["input_ids"][0] == bb.image_token_id).nonzero().squeeze(-1)
    image_cols = bb.adapter.grid_positions(image_cols, feats.geometry)  # Molmo2: the global view's tokens
    assert image_cols.numel() == p_h * p_w
    for layer in layers:
        f = feats.layers[layer]
        length = len(feats.text_tokens)
        assert f.q_text.shape == (4, length, bb.head_dim)  # head-first; the KV heads are not repeated
        assert f.k_image.shape == f.v_image.shape == (2, p_h * p_w, bb.head_dim)
        assert f.attn_last.shape == (4, p_h * p_w) and f.attn_last_mass.shape == (4,)
        assert [f.kv_head(h) for h in range(4)] == [0, 0, 1,
                                                    1]  # GQA: heads 0,1 read KV head 0; 2,3 KV head 1
        keys = f.k_image[[f.kv_head(h) for h in range(4)]]  # (H, P, d)
        logits = torch.einsum("hd,hpd->hp", f.q_text[:, -1], keys) * bb.head_dim**-0.5
        assert torch.allclose(torch.softmax(logits, -1), f.attn_last, atol=1e-5, rtol=0)
        row = ref.attentions[layer][0, :, -1, image_cols]  # (H, P) the model's own softmax over all keys
        assert (row.sum(-1) - f.attn_last_mass).abs().max() < 1e-5
        assert (row / row.sum(-1, keepdim=True) - f.attn_last).abs().max() < 1e-5


@pytest.mark.parametrize("arch", ["llava", "qwen2_5_vl", "molmo2", "fast_vlm"])
def test_early_exit_returns_full_forward_tensors_and_skips_deeper_layers(arch, backbones):
    bb = backbones[arch]
    image = _photo(333, 500, seed=1)
    full = bb.encode_batch([image], [INSTRUCTION], layers=[1], early_exit=False)[0].layers[1]
    calls = []
    deeper = bb.model.model.language_model.layers[2]
    handle = deeper.register_forward_hook(lambda *a: calls.append(1))
    try:
        early = bb.encode(image, INSTRUCTION, layers=[1]).layers[1]
    finally:
        handle.remove()
    assert calls == []
    for name in ("q_text", "k_image", "v_image", "attn_last", "attn_last_mass"):
        assert torch.equal(getattr(full, name), getattr(early, name)), name


@pytest.mark.parametrize("arch", ["llava", "qwen2_vl", "paligemma"])
def test_encode_batch_matches_single_encodes(arch, backbones):
    bb = backbones[arch]
    images = [_photo(640, 480, seed=2), _photo(300, 900, seed=3)]
    texts = ["Point to the blade.", "Where is the lamp shade of the lamp on the table? Point to it."]
    batch = bb.encode_batch(images, texts, layers=[0, 3])
    for image, text, got in zip(images, texts, batch):
        want = bb.encode(image, text, layers=[0, 3])
        assert got.grid == want.grid and got.text_tokens == want.text_tokens
        for layer in (0, 3):
            for name in ("q_text", "k_image", "v_image", "attn_last"):
                assert torch.allclose(getattr(got.layers[layer], name), getattr(want.layers[layer], name),
                                      atol=1e-5)


@pytest.mark.parametrize("arch", VARIANTS)
def test_vision_patches_come_on_the_pointing_grid_or_are_refused_in_one_line(arch, backbones):
    """What point by example and the presence / vision heads read: the same features whether the vision tower
    runs alone or inside an encode (one forward, several instructions, or a batch of two sizes)."""
    from partpoint.errors import BackboneError

    bb = backbones[arch]
    first, second = _photo(640, 480), _photo(300, 500, seed=1)
    if not bb.vision_dim:
        assert arch in ("paligemma", "molmo2", "fast_vlm")
        with pytest.raises(BackboneError, match="patch features"):
            bb.patch_features(first)
        return
    alone = [bb.patch_features(im) for im in (first, second)]
    for patches in alone:
        assert patches.features.shape == (np.prod(patches.geometry.grid), bb.vision_dim)
    many = bb.encode_many(first, [INSTRUCTION, "Point to the lid."], layers=[1], vision=True)
    batch = bb.encode_batch([first, second], [INSTRUCTION, "a"], layers=[1], vision=True)
    for feats, patches in [(many[0], alone[0]), (many[1], alone[0]), *zip(batch, alone)]:
        assert feats.grid == patches.geometry.grid
        assert torch.allclose(feats.vision, patches.features, atol=1e-4)


def test_molmo2_points_on_the_global_view_and_text_follows_both_views(backbones):
    """Molmo2 shows the image twice (global view, then stitched crops); the grid is the global view's
    tokens, the text tokens start after the last image token of both views."""
    bb = backbones["molmo2"]
    image = _photo(640, 480)
    feats = bb.encode(image, INSTRUCTION, layers=[0])
    inputs = bb.adapter.process(bb.processor, [image], [bb.prompt(INSTRUCTION)])
    ids = inputs["input_ids"][0]
    patches = (ids == bb.image_token_id).nonzero().squeeze(-1)
    resized_h, resized_w, high_h, high_w = (int(n) for n in inputs["image_grids"][0])
    assert feats.grid == (resized_h, resized_w) and patches.numel() == resized_h * resized_w + high_h * high_w
    assert high_h * high_w > resized_h * resized_w  # the crops hold more tokens; they are not the grid
    tokens = bb.processor.tokenizer.convert_ids_to_tokens(ids.tolist())
    assert tokens[int(patches[0]) - 1] == "<low_res_im_start>"  # the first grid token opens the global view
    assert "".join(feats.text_tokens).replace("Ġ", " ").endswith("assistant\n".replace("\n", "Ċ"))
    assert "<im_patch>" not in feats.text_tokens and feats.text_tokens[:2] == ["<im_col>", "<im_end>"]


@pytest.mark.parametrize("arch",
                         ["llava", "llava-dinov2", "qwen2_5_vl", "qwen2_vl", "fast_vlm", "paligemma",
                          "molmo2"])
def test_image_prefix_reuse_equals_one_full_forward_per_instruction(arch, backbones):
    bb = backbones[arch]
    image = _photo(500, 375, seed=4)
    texts = ["Point to the handle.", "Where is the spout of the teapot on the left? Point to it.", "The lid."]
    layers = [0, 2, 3]
    many = bb.encode_many(image, texts, layers=layers)
    assert len(many) == 3
    for text, got in zip(texts, many):
        want = bb.encode(image, text, layers=layers)
        assert got.grid == want.grid and got.text_tokens == want.text_tokens and got.geometry == want.geometry
        for layer in layers:
            for name in ("q_text", "k_image", "v_image", "attn_last", "attn_last_mass"):
                diff = (getattr(got.layers[layer], name) - getattr(want.layers[layer], name)).abs().max()
                assert diff <= 1e-5, (layer, name, float(diff))


def test_prefix_reuse_runs_the_vision_tower_once(backbones):
    bb = backbones["llava"]
    calls = []
    handle = bb.model.model.vision_tower.register_forward_hook(lambda *a: calls.append(1))
    try:
        bb.encode_many(_photo(320, 240), ["Point to the lid.", "Point to the handle.", "Point to the base."],
                       layers=[1])
        assert len(calls) == 1
        calls.clear()
        bb.encode_many(_photo(320, 240), ["Point to the lid.", "Point to the handle."], layers=[1],
                       reuse_prefix=False)
        assert len(calls) == 1  # the fallback batches the copies: one tower call over the batch
    finally:
        handle.remove()
    assert not backbones["paligemma"].adapter.prefix_reuse  # bidirectional prefix: falls back


def test_prompt_uses_chat_template_and_text_tokens_follow_the_image(backbones):
    llava = backbones["llava"]
    assert llava.prompt(INSTRUCTION) == f"USER: <image>\n{INSTRUCTION} ASSISTANT:"
    feats = llava.encode(_photo(100, 80), INSTRUCTION, layers=[0])
    assert "".join(feats.text_tokens).replace("Ġ", " ").endswith("mug. ASSISTANT:")
    pali = backbones["paligemma"].encode(_photo(100, 80), INSTRUCTION, layers=[0])
    assert pali.text_tokens[0] == "<bos>" and pali.text_tokens[-1] == "Ċ"  # PaliGemma's own prefix layout


def test_fingerprint_is_stable_and_tracks_weights(backbones, tmp_path):
    bb = backbones["llava"]
    again = load_backbone(bb.model.config._name_or_path)
    assert again.fingerprint == bb.fingerprint and len(bb.fingerprint) == 16
    other = load_backbone(build_tiny_backbone("llava", tmp_path / "seed1", seed=1, text_heads=4,
                                              text_kv_heads=2))
    assert other.fingerprint != bb.fingerprint


def test_generate_greedy_returns_text_and_geometry(backbones):
    bb = backbones["qwen2_5_vl"]
    image = _photo(640, 480)
    first = bb.generate(image, INSTRUCTION, max_new_tokens=5)
    text, geometry = first.text, first.geometry
    assert isinstance(text, str) and first.image_size == (640, 480) and 1 <= first.new_tokens <= 5
    assert bb.generate(image, INSTRUCTION, max_new_tokens=5).text == text  # greedy: deterministic
    forced = bb.generate(image, INSTRUCTION, max_new_tokens=6, min_new_tokens=6)
    assert forced.new_tokens == 6  # end-of-sequence suppressed until min_new_tokens
    x, y = geometry.input_to_image_xy(*geometry.input_size)
    assert np.allclose((x, y), (640, 480))


# ---------------------------------------------------------------- to_image_xy: where each cell came from


def _cell_colour(row, col):
    return np.array([16 + 14 * col, 16 + 14 * row, 128], dtype=np.float64)


def _painted(geometry, width, height):
    """An image whose pixels carry the colour of the grid cell the geometry maps them to (grey outside)."""
    jj, ii = np.meshgrid(np.arange(width) + 0.5, np.arange(height) + 0.5)
    u, v = geometry.to_grid_uv(jj, ii)
    col, row = np.floor(u).astype(int), np.floor(v).astype(int)
    p_h, p_w = geometry.grid
    inside = (col >= 0) & (col < p_w) & (row >= 0) & (row < p_h)
    img = np.full((height, width, 3), 60, dtype=np.uint8)
    img[inside] = np.stack([16 + 14 * col, 16 + 14 * row, np.full_like(col, 128)], -1)[inside]
    return Image.fromarray(img)


def _processed_rgb(bb, inputs) -> np.ndarray:
    """The model-input image (H_in, W_in, 3) in 0..255, undoing normalisation (and Qwen's patch layout)."""
    ip = bb.processor.image_processor
    pixels = inputs["pixel_values"].float().numpy()
    if "image_grids" in inputs:  # Molmo2: crop 0 is the global view, (n_patches, p * p * 3) channels-last
        p = ip.patch_size
        side = int(ip.size["height"]) // p
        view = pixels.reshape(-1, side * side, p, p, 3)[0].reshape(side, side, p, p, 3)
        rgb = view.transpose(0, 2, 1, 3, 4).reshape(side * p, side * p, 3)
        return (rgb * np.asarray(ip.image_std) + np.asarray(ip.image_mean)) * 255
    if "image_grid_thw" in inputs:
        _, gh, gw = (int(n) for n in inputs["image_grid_thw"][0])
        m, p = ip.merge_size, ip.patch_size
        patches = pixels.reshape(gh // m, gw // m, m, m, 3, ip.temporal_patch_size, p, p)[:, :, :, :, :, 0]
        pixels = patches.transpose(4, 0, 2, 5, 1, 3, 6).reshape(3, gh * p, gw * p)
    else:
        pixels = pixels[0]
    mean, std = np.asarray(ip.image_mean)[:, None, None], np.asarray(ip.image_std)[:, None, None]
    return ((pixels * std + mean) * 255).transpose(1, 2, 0)


@pytest.mark.parametrize("arch", VARIANTS)
@pytest.mark.parametrize("size", [(640, 480), (333, 1000), (1000, 200)])
def test_to_image_xy_maps_each_cell_to_its_source_pixels(arch, size, backbones):
    bb = backbones[arch]
    geometry = bb.geometry(Image.new("RGB", size))
    image = _painted(geometry, *size)
    inputs, (geometry2,) = bb.prepare_inputs([image], [INSTRUCTION])
    assert geometry2 == geometry
    rgb = _processed_rgb(bb, inputs)
    assert rgb.shape[:2] == geometry.input_size[::-1]
    cx, cy = geometry.cell_px
    p_h, p_w = geometry.grid
    for row in range(p_h):
        for col in range(p_w):
            for du, dv in ((0.5, 0.5), (0.25, 0.25), (0.75, 0.75), (0.25, 0.75)):
                x_in, y_in = int((col + du) * cx), int((row + dv) * cy)
                got = rgb[y_in, x_in]
                assert np.abs(got - _cell_colour(row, col)).max() <= 4, (row, col, du, dv, got)
    # the geometry's own map of cell centres lands on pixels painted with that cell's colour
    u, v = np.meshgrid(np.arange(p_w) + 0.5, np.arange(p_h) + 0.5)
    x, y = feats_xy = geometry.to_image_xy(u, v)
    assert np.all((x >= 0) & (x < size[0]) & (y >= 0) & (y < size[1])), feats_xy
    src = np.asarray(image)[np.floor(y).astype(int), np.floor(x).astype(int)]
    assert np.array_equal(src[..., 0], 16 + 14 * np.floor(u).astype(int))
    assert np.array_equal(src[..., 1], 16 + 14 * np.floor(v).astype(int))


def test_grid_mask_and_sample_mask(backbones):
    feats = backbones["paligemma"].encode(_photo(320, 160), INSTRUCTION,
                                          layers=[0])  # 16x16 grid, 20x10 px cells
    mask = np.zeros((160, 320), bool)
    mask[:, :100] = True  # 5 full columns of cells
    frac = feats.grid_mask(mask)
    assert frac.shape == (16, 16)
    assert np.allclose(frac[:, :5], 1) and np.allclose(frac[:, 6:], 0) and np.allclose(frac[:, 5], 0)
    mask[:, 100:105] = True  # a quarter of column 5
    assert np.allclose(feats.grid_mask(mask)[:, 5], 0.25)
    hm = feats.sample_mask(mask, scale=4)
    assert hm.shape == (64, 64) and hm.dtype == bool
    assert hm[:, :21].all() and not hm[:, 21:].any()  # heatmap cell 20 centre x = 102.5, 21 -> 107.5


def test_grid_mask_counts_outside_the_image_as_zero():
    from partpoint.backbones import GridGeometry

    geometry = GridGeometry(sx=10, ox=-20, sy=10, oy=0, grid=(2, 4), input_size=(40, 20), cell_px=(10, 10))
    feats = Features(layers={}, geometry=geometry, image_size=(20, 20))
    frac = feats.grid_mask(np.ones((20, 20), bool))
    assert np.allclose(frac, [[0, 0, 1, 1], [0, 0, 1, 1]])
