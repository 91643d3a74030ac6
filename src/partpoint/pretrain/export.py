"""Save a pretrained backbone as fp16 safetensors that load back as float32 on CPU.

Weights are stored in fp16 (half the disk), but every ``dtype`` entry of ``config.json`` says
``float32``, so ``from_pretrained`` (whose default is the config's dtype) upcasts on load.
"""

from __future__ import annotations

import copy
import json
import os


def _force_float32(node):
    if isinstance(node, dict):
        return {k: ("float32" if k in ("dtype", "torch_dtype") and v is not None else _force_float32(v))
                for k, v in node.items()}
    if isinstance(node, list):
        return [_force_float32(v) for v in node]
    return node


def export_backbone(model, processor, out_dir: str) -> list[str]:
    """Write ``model`` (fp16 weights, float32 config) and ``processor`` to ``out_dir``; returns file names."""
    import torch

    os.makedirs(out_dir, exist_ok=True)
    half = copy.deepcopy(model).to(torch.float16)
    half.generation_config.pad_token_id = processor.tokenizer.pad_token_id
    half.save_pretrained(out_dir, safe_serialization=True)
    processor.save_pretrained(out_dir)
    config_path = os.path.join(out_dir, "config.json")
    with open(config_path) as f:
        config = json.load(f)
    config = _force_float32(config)
    config["dtype"] = "float32"
    with open(config_path, "w") as f:
        json.dump(config, f, indent=2, sort_keys=True)
    return sorted(os.listdir(out_dir))
