"""``--device`` / ``--dtype``: the options every command that runs a backbone shares."""

from __future__ import annotations


def add_backbone_options(p) -> None:
    from ..backbones.dtypes import DEFAULT_DTYPE, DTYPE_CHOICES

    p.add_argument("--device", default="cpu",
                   help="torch device of the backbone, e.g. cpu, cuda, cuda:1 (default cpu)")
    p.add_argument("--dtype", default=DEFAULT_DTYPE, choices=DTYPE_CHOICES,
                   help=f"backbone dtype (default {DEFAULT_DTYPE}); auto = bf16 on GPUs and on CPUs with "
                        "AMX/AVX512-BF16, else float32")


def backbone_kwargs(args) -> dict:
    return {"device": args.device, "dtype": args.dtype}
