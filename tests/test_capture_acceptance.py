"""Acceptance check (issue 2): a tiny LLaVA made with transformers' own classes, not partpoint's builder.

Shapes, the 16x16 grid, softmax(q . k) == attn_last, and to_image_xy on a 320x240 image whose sides
are resized (240 -> 224, 320 -> 298) and centre-cropped (37 px off the left) must all hold.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from partpoint import load_backbone

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def llava_dir(tmp_path_factory):
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import (
        CLIPVisionConfig,
        LlamaConfig,
        LlavaConfig,
        LlavaForConditionalGeneration,
        LlavaProcessor,
        PreTrainedTokenizerFast,
    )
    from transformers.models.llava.image_processing_pil_llava import LlavaImageProcessorPil

    words = "<pad> <s> </s> <image> USER: ASSISTANT: point to the handle of red mug . \n".split(" ")
    vocab = {w: i for i, w in enumerate(words)} | {"[UNK]": len(words)}
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token="[UNK]"))
    core.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=core, bos_token="<s>", eos_token="</s>",
                                        pad_token="<pad>",
                                        unk_token="[UNK]", additional_special_tokens=["<image>"])
    torch.manual_seed(0)
    config = LlavaConfig(
        vision_config=CLIPVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                                       num_attention_heads=2,
                                       image_size=224, patch_size=14),
        text_config=LlamaConfig(vocab_size=len(vocab), hidden_size=32, intermediate_size=64,
                                num_hidden_layers=2,
                                num_attention_heads=4, num_key_value_heads=2, pad_token_id=0),
        image_token_index=vocab["<image>"], image_seq_length=256, vision_feature_layer=-1,
    )
    processor = LlavaProcessor(
        image_processor=LlavaImageProcessorPil(size={"shortest_edge": 224},
                                               crop_size={"height": 224, "width": 224}),
        tokenizer=tokenizer, patch_size=14, vision_feature_select_strategy="default",
        num_additional_image_tokens=1,
    )
    out = tmp_path_factory.mktemp("acceptance-llava")
    LlavaForConditionalGeneration(config).save_pretrained(out)
    processor.save_pretrained(out)
    return out


def test_tiny_transformers_llava_is_captured_exactly(llava_dir):
    bb = load_backbone(llava_dir)
    assert (bb.arch, bb.num_layers, bb.num_heads, bb.head_dim) == ("llava", 2, 4, 8)
    image = Image.fromarray(np.random.default_rng(0).integers(0, 256, (240, 320, 3), dtype=np.uint8))
    feats = bb.encode(image, "point to the handle of the red mug .", layers=[0, 1])
    assert feats.grid == (16, 16) and feats.image_size == (320, 240)
    for f in feats.layers.values():
        length = f.q_text.shape[1]
        assert length >= 8 and f.q_text.shape == (4, length, 8)
        assert f.k_image.shape == f.v_image.shape == (2, 256, 8) and f.attn_last.shape == (4,
                                                                                           256)  # 2 KV heads
        keys = f.k_image[[f.kv_head(h) for h in range(4)]]  # (H, P, d)
        attn = torch.softmax(torch.einsum("hd,hpd->hp", f.q_text[:, -1], keys) * 8**-0.5, dim=-1)
        assert (attn - f.attn_last).abs().max() < 1e-5
        assert torch.allclose(f.attn_last.sum(-1), torch.ones(4), atol=1e-6)

    # 320x240 -> shortest edge 224 -> 298x224 -> centre crop 224x224 starting 37 px from the left
    u = np.arange(16) + 0.5
    x, y = feats.to_image_xy(u, u)
    assert np.allclose(x, (u * 14 + 37) * 320 / 298)
    assert np.allclose(y, u * 14 * 240 / 224)
    x0, _ = feats.to_image_xy(0, 0)
    x16, y16 = feats.to_image_xy(16, 16)
    assert np.isclose(x0, 37 * 320 / 298) and np.isclose(x16, 261 * 320 / 298) and np.isclose(y16, 240)
