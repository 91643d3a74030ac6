#!/usr/bin/env bash
# Train the default-llava pointer at scale (issue: training at scale): ~32,000 samples from SynthParts train
# (1,000 scenes, seed 0), Car-Parts train, Clothing Co-Parsing train and DoorDetect train, validated on
# SynthParts val (seed 1). Resumable across sessions: the feature caches are rebuilt by this same command
# (deterministic; ~30 min on 2 cores) and training continues from checkpoints/scale/ (checkpoint.pt,
# train_log.json and the best epoch's pointer), copied there after every run so they can be committed.
# Usage: bash scripts/train_scale.sh [extra partpoint-train flags, e.g. --stop-after-steps 2000]
set -euo pipefail
cd "$(dirname "$0")/.."
PP=${PP:-.venv/bin/partpoint}
DATA=${PARTPOINT_DATA:-../shared/data}
RUN=${RUN:-runs/scale}
KEEP=checkpoints/scale
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
mkdir -p "$RUN/pointer" "$KEEP"
[ -f runs/scale/synth-train/instructpart_train.json ] || $PP synth --out runs/scale/synth-train --split train --n 1000 --seed 0 --quiet
[ -f runs/synth/val/instructpart_val.json ] || $PP synth --out runs/synth/val --split val --n 100 --seed 1 --quiet
for f in checkpoint.pt train_log.json model.safetensors config.json; do  # an earlier session's run continues
  [ -f "$KEEP/$f" ] && [ ! -f "$RUN/pointer/$f" ] && cp "$KEEP/$f" "$RUN/pointer/$f"
done
$PP train --backbone default-llava --dtype float32 --heads src/partpoint/assets/pointers/default-llava/heads.json \
  --data runs/scale/synth-train --data "carparts:$DATA/carparts/trainingset" --data "labelmap:$DATA/ccp/train" \
  --data "yolo:$DATA/doordetect/train:handle" --val runs/synth/val --out "$RUN/pointer" --cache-dir "$RUN/cache" \
  --epochs 8 --seed 0 --threads 2 --checkpoint-every-steps 250 --resume "$@" || status=$?
for f in checkpoint.pt train_log.json model.safetensors config.json; do cp "$RUN/pointer/$f" "$KEEP/" 2>/dev/null || true; done
exit ${status:-0}
