#!/usr/bin/env bash
# Second stage of the bundled default-llava pointer (issue: confidence): fine-tune the scale run's pointer
# (scripts/train_scale.sh, bundled) on the same data plus 2 negatives per training image (instructions
# borrowed from other images, naming something the image does not show: partpoint.data.negatives), so the
# patch-wise BCE learns "nothing here"; then fit its confidence and presence threshold on SynthParts val
# (partpoint calibrate). Resumable like train_scale.sh (checkpoints/negatives/).
# Usage: bash scripts/train_negatives.sh [extra partpoint-train flags]; its pointer (checkpoints/negatives) is the
# input of scripts/train_presence.sh, whose output is the bundled pointer (scripts/build_defaults.sh runs all three).
set -euo pipefail
cd "$(dirname "$0")/.."
PP=${PP:-.venv/bin/partpoint}
DATA=${PARTPOINT_DATA:-../shared/data}
RUN=${RUN:-runs/negatives}
KEEP=checkpoints/negatives
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
mkdir -p "$RUN/pointer" "$KEEP"
[ -f runs/scale/synth-train/instructpart_train.json ] || $PP synth --out runs/scale/synth-train --split train --n 1000 --seed 0 --quiet
[ -f runs/synth/val/instructpart_val.json ] || $PP synth --out runs/synth/val --split val --n 100 --seed 1 --quiet
for f in checkpoint.pt train_log.json model.safetensors config.json; do  # an earlier session's run continues
  [ -f "$KEEP/$f" ] && [ ! -f "$RUN/pointer/$f" ] && cp "$KEEP/$f" "$RUN/pointer/$f"
done
$PP train --backbone default-llava --dtype float32 --init "${INIT:-checkpoints/scale}" --negatives 2 \
  --data runs/scale/synth-train --data "carparts:$DATA/carparts/trainingset" --data "labelmap:$DATA/ccp/train" \
  --data "yolo:$DATA/doordetect/train:handle" --val runs/synth/val --out "$RUN/pointer" \
  --cache-dir runs/scale/cache --epochs 2 --lr 3e-4 --seed 0 --threads 2 --checkpoint-every-steps 250 \
  --resume "$@" || status=$?
for f in checkpoint.pt train_log.json model.safetensors config.json; do cp "$RUN/pointer/$f" "$KEEP/" 2>/dev/null || true; done
[ -n "${status:-}" ] && exit "$status"
$PP calibrate --backbone default-llava --dtype float32 --pointer "$RUN/pointer" --data runs/synth/val \
  --negatives 4 --cache-dir runs/scale/cache --plot "$RUN/reliability_val.png" --quiet
cp "$RUN/pointer/calibration.json" "$KEEP/"
