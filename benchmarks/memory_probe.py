"""Peak memory of ``point()`` or of one cached training epoch in a FRESH process, so the number is not
mixed with whatever the benchmark process loaded before (both backbones, datasets, caches).

``python -m benchmarks.memory_probe point BACKBONE POINTER_DIR IMAGE TEXT`` and
``python -m benchmarks.memory_probe train BACKBONE POINTER_DIR CACHE_DIR BATCH_SIZE`` print one JSON object:
``loaded_mib`` (RSS once everything is loaded), ``peak_mib`` (process peak during the first call, one-time
allocations included) and ``peak_over_loaded_mib`` (their difference).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from .memory import _status_kib, peak_rss


def _measure(work) -> dict:
    with peak_rss() as memory:
        work()
    return {"loaded_mib": memory["start_mib"], "peak_mib": memory["peak_mib"],
            "peak_over_loaded_mib": memory["peak_delta_mib"], "method": f"fresh process, first call: {memory['method']}"}


def probe_point(backbone_name: str, pointer_dir: str, image: str, text: str) -> dict:
    from partpoint.predictor import load_pointer

    pointer = load_pointer(backbone_name, pointer_dir)
    return _measure(lambda: pointer.point(image, text))


def probe_train(backbone_name: str, pointer_dir: str, cache_dir: str, batch_size: str) -> dict:
    from dataclasses import replace

    from partpoint.pointer import PartPointer
    from partpoint.training import TrainConfig, fit, prepare_items
    from partpoint.training.cache import FeatureCache

    trained = PartPointer.from_pretrained(pointer_dir)
    items = prepare_items(FeatureCache.open(Path(cache_dir)).entries(), scale=trained.config.upsample)[0]
    train = replace(TrainConfig.of(progress=False, epochs=1, batch_size=int(batch_size)), pointer=trained.config)
    return _measure(lambda: fit(items, identity=trained.identity, config=train))


def run_probe(*args: str, threads: int = 2) -> dict:
    """Run a probe in a child process; ``{"error": ...}`` where that is impossible (e.g. no /proc)."""
    if _status_kib("VmRSS") is None:
        return {"error": "no /proc/self/status on this platform"}
    repo = Path(__file__).resolve().parent.parent
    env = {**os.environ, "OMP_NUM_THREADS": str(threads),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(repo), os.environ.get("PYTHONPATH")]))}
    done = subprocess.run([sys.executable, "-m", "benchmarks.memory_probe", *map(str, args)], capture_output=True,
                          text=True, env=env, cwd=repo)
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"exit {done.returncode}"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str]) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import torch
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))
    kind, *rest = argv
    result = {"point": probe_point, "train": probe_train}[kind](*rest)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
