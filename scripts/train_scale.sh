#!/usr/bin/env bash
# First stage of the bundled default-llava pointer (issue: training at scale): the localization heads plus a
# vision head (pointer/vision_head.py), trained from scratch on 30,003 samples: SynthParts train (1,000 scenes,
# seed 0), Car-Parts train and Clothing Co-Parsing train, each less the 10% of its images held out by name hash
# (spec suffix %kept10), and all of DoorDetect train. The best of 8 epochs by the mean hit rate on three val sets:
# SynthParts val (seed 1) and the held-out Car-Parts and CCP photos (%held10), which no stage trains on.
# Resumable across sessions: the feature caches (runs/cache, shared with scripts/train_presence.sh) are rebuilt
# by this same command (~35 min on 2 cores) and training continues from checkpoints/scale/ (checkpoint, log and
# the best epoch's pointer), copied there after every run so that they can be committed.
# Usage: bash scripts/train_scale.sh [extra partpoint-train flags, e.g. --stop-after-steps 2000]; its pointer
# (checkpoints/scale) is the input of scripts/train_presence.sh, whose output is the bundled pointer.
set -euo pipefail
cd "$(dirname "$0")/.."
PP=${PP:-.venv/bin/partpoint}
DATA=${PARTPOINT_DATA:-../shared/data}  # spelled as given: the held-out images are a hash of the path
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
  --vision-head --data "runs/scale/synth-train%kept10" --data "carparts:$DATA/carparts/trainingset%kept10" \
  --data "labelmap:$DATA/ccp/train%kept10" --data "yolo:$DATA/doordetect/train:handle" \
  --val runs/synth/val --val "carparts:$DATA/carparts/trainingset%held10" --val "labelmap:$DATA/ccp/train%held10" \
  --out "$RUN/pointer" --cache-dir runs/cache --epochs 8 --seed 0 --threads 2 --checkpoint-every-steps 250 \
  --resume "$@" || status=$?
for f in checkpoint.pt train_log.json model.safetensors config.json; do cp "$RUN/pointer/$f" "$KEEP/" 2>/dev/null || true; done
exit ${status:-0}
