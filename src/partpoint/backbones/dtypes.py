"""Which torch dtype a backbone runs in: :data:`DEFAULT_DTYPE` (float32: exact, the same numbers on every
machine) unless asked otherwise; ``"auto"`` picks bf16 only where it is fast.

bf16 is fast on GPUs and on CPUs with AMX or AVX512-BF16 units. On a CPU without them PyTorch
emulates bf16 matrix products: on the AMD EPYC (AVX2) machine partpoint is built on, a
1320x576 @ 576x1536 product took 1.81 s in bf16 against 0.023 s in fp32, and a SmolLM2 forward was
3x slower. So ``auto`` = bf16 on CUDA (fp16 where bf16 is unsupported), bf16 on a CPU that lists
``amx_bf16`` or ``avx512_bf16``, fp32 elsewhere.
"""

from __future__ import annotations

from functools import lru_cache

from ..errors import BackboneError

DTYPE_CHOICES = ("auto", "float32", "bfloat16", "float16")
#: The one default of every entry point (load_backbone, load_pointer, the CLI's --dtype, the web page).
DEFAULT_DTYPE = "float32"
_ALIASES = {"fp32": "float32", "float": "float32", "bf16": "bfloat16", "fp16": "float16", "half": "float16"}


@lru_cache(maxsize=1)
def cpu_has_fast_bf16() -> bool:
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((line for line in f if line.startswith("flags")), "")
    except OSError:
        return False
    return any(flag in flags.split() for flag in ("amx_bf16", "avx512_bf16"))


def resolve_dtype(dtype, device="cpu"):
    """``None`` -> float32; ``"auto"`` -> see the module docstring; a name or a ``torch.dtype`` as given."""
    import torch

    if dtype is None:
        return torch.float32
    if isinstance(dtype, torch.dtype):
        return dtype
    name = _ALIASES.get(str(dtype).lower(), str(dtype).lower())
    if name == "auto":
        if str(device).startswith("cuda"):
            bf16 = torch.cuda.is_available() and torch.cuda.is_bf16_supported()
            return torch.bfloat16 if bf16 else torch.float16
        return torch.bfloat16 if cpu_has_fast_bf16() else torch.float32
    if name not in DTYPE_CHOICES:
        raise BackboneError(f"unknown dtype {dtype!r}; use one of {', '.join(DTYPE_CHOICES)}")
    return getattr(torch, name)
