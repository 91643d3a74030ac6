#!/usr/bin/env bash
# Rebuild every bundled asset from scratch: the two default backbones (pretrained on scene QA, never on
# pointing), their reports, and the pointers bundled for them. Deterministic for the seeds below.
# Time on 2 CPU cores: ~50 + ~60 min of pretraining (run both at once with --threads 1 each), then
# ~20 min per pointer. Usage: bash scripts/build_defaults.sh [llava|qwen2_5_vl ...]  (default: both)
set -euo pipefail
cd "$(dirname "$0")/.."
PP=${PP:-.venv/bin/partpoint}
ASSETS=src/partpoint/assets
DATA=${PARTPOINT_DATA:-../shared/data}
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
archs=("${@:-llava qwen2_5_vl}")
archs=(${archs[@]})

# Pointer training data (SynthParts train seed 0, val seed 1; the benchmark tests on seed 1234).
[ -f runs/synth/train/instructpart_train.json ] || $PP synth --out runs/synth/train --split train --n 600 --seed 0
[ -f runs/synth/val/instructpart_val.json ] || $PP synth --out runs/synth/val --split val --n 100 --seed 1

for arch in "${archs[@]}"; do
  name=default-$arch
  case $arch in llava) steps=1000 ;; qwen2_5_vl) steps=600 ;; *) echo "unknown arch $arch" >&2; exit 2 ;; esac
  if [ ! -f "$ASSETS/backbones/$name/pretrain.json" ]; then
    $PP pretrain --arch "$arch" --out "$ASSETS/backbones/$name" --seed 0 --threads 1 --steps "$steps"
  fi
  [ -f "$ASSETS/backbones/$name/report.json" ] || $PP backbone-report "$ASSETS/backbones/$name" --threads 2
  $PP train --backbone "$name" \
    --data runs/synth/train --data "carparts:$DATA/carparts/trainingset" --val runs/synth/val \
    --out "$ASSETS/pointers/$name" --cache-dir "runs/cache/$name" --k 5 --epochs 6 --seed 0 --threads 2
done
