"""What one benchmark run measures and where it writes: ``BenchSettings.for_mode("full" | "quick" | "tiny")``."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from partpoint.data.paths import SHARED_DATA

REPO = Path(__file__).resolve().parent.parent
DEFAULT_BACKBONES = ("default-llava",)


@dataclass(kw_only=True)
class BenchSettings:
    """Sample caps, training budgets and paths of one run. Every field lands in ``results/settings.json``.

    ``cap``: samples per (backbone, dataset, method) cell, taken evenly spaced over the dataset (same
    samples for every method); ``text_cap`` the same for text pointing (greedy generation is slow).
    Ablations train every variant with the same budget: ``ablation_train_samples`` SynthParts train
    samples (seed 0), ``ablation_epochs`` epochs, scored on ``ablation_val_samples`` SynthParts val
    samples (seed 1). Speed: medians of ``speed_runs`` timed runs after ``speed_warmup`` untimed ones;
    the cached-epoch time is the median of ``cache_epochs`` epochs after an untimed one.
    """

    mode: str = "full"
    work_dir: Path = REPO / "runs" / "bench"
    results_dir: Path = REPO / "results"
    docs_dir: Path = REPO / "docs"
    backbones: tuple[str, ...] = DEFAULT_BACKBONES
    pointers: dict[str, str] = field(default_factory=dict)  # backbone -> pointer dir (default: bundled)
    carparts: Path | None = SHARED_DATA / "carparts" / "testset"
    instructpart: Path | None = SHARED_DATA / "instructpart-dev"
    ccp: Path | None = SHARED_DATA / "ccp" / "test"
    doordetect: Path | None = SHARED_DATA / "doordetect" / "test"
    synth_test_scenes: int = 120
    synth_test_seed: int = 1234
    cap: int = 160
    text_cap: int = 20
    ablation_backbone: str = "default-llava"
    ablation_train_samples: int = 750
    ablation_val_samples: int = 300
    ablation_epochs: int = 4
    ablation_k_max: int = 7
    ablation_select_samples: int = 32
    ablation_batch_size: int = 16
    ablation_groups: tuple[str, ...] | None = None  # run only these variant groups (None: all)
    speed_runs: int = 20
    speed_warmup: int = 3
    recompute_samples: int = 16
    cache_epochs: int = 3
    fidelity_scenes: int = 60
    fidelity_samples: int = 200
    gallery_synth: int = 4
    gallery_real: int = 4
    threads: int = 2
    device: str = "cpu"  # of the backbones (the pointer heads run on the CPU)
    dtype: str = "float32"  # backbone dtype (partpoint's one default); auto = bf16 where it is fast

    @classmethod
    def for_mode(cls, mode: str, **overrides) -> BenchSettings:
        """``full`` (<= 60 min on 2 cores with the real default-llava; its caps are sized for that), ``quick``
        (a few minutes), ``tiny`` (seconds, for tests)."""
        base = cls(mode=mode)
        if mode == "quick":
            base = replace(base, synth_test_scenes=20, cap=20, text_cap=6, ablation_train_samples=64,
                           ablation_val_samples=30, ablation_epochs=2, speed_runs=20, recompute_samples=4,
                           fidelity_scenes=6, fidelity_samples=10)
        elif mode == "tiny":
            base = replace(base, synth_test_scenes=3, cap=4, text_cap=2, ablation_train_samples=6,
                           ablation_val_samples=4, ablation_epochs=1, ablation_k_max=3, ablation_select_samples=4,
                           ablation_batch_size=4, speed_runs=20, speed_warmup=1, recompute_samples=2, cache_epochs=1,
                           gallery_synth=2, gallery_real=2, threads=1, fidelity_scenes=2, fidelity_samples=3)
        elif mode != "full":
            raise ValueError(f"unknown benchmark mode {mode!r}; use full, quick or tiny")
        return replace(base, **overrides)

    def to_json(self) -> dict:
        return {name: str(value) if isinstance(value, Path) else value for name, value in asdict(self).items()}
