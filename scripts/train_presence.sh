#!/usr/bin/env bash
# Third stage of the bundled default-llava pointer (issue: confidence): a presence head ("is the named part in
# the image at all?") over the vision tower's patch features and the heads' text queries, trained alone (the
# pointer frozen, so points do not move) on SynthParts train (1,000 scenes) and 2 negatives per scene, the best
# of 12 epochs by absent-part AUROC on SynthParts val; then the calibration refit on SynthParts val.
# Input: the second stage (checkpoints/negatives, scripts/train_negatives.sh). ~25 min of caching + ~8 min.
# Usage: bash scripts/train_presence.sh; then copy runs/presence/pointer/{config.json,model.safetensors,
# calibration.json,presence_log.json} into src/partpoint/assets/pointers/default-llava/.
set -euo pipefail
cd "$(dirname "$0")/.."
PP=${PP:-.venv/bin/partpoint}
RUN=${RUN:-runs/presence}
DATA=${PARTPOINT_DATA:-../shared/data}
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
[ -f runs/scale/synth-train/instructpart_train.json ] || $PP synth --out runs/scale/synth-train --split train --n 1000 --seed 0 --quiet
[ -f runs/synth/val/instructpart_val.json ] || $PP synth --out runs/synth/val --split val --n 100 --seed 1 --quiet
$PP presence --backbone default-llava --dtype float32 --pointer "${FROM:-checkpoints/negatives}" \
  --data runs/scale/synth-train --data "carparts:$DATA/carparts/trainingset" --data "labelmap:$DATA/ccp/train" \
  --negatives 2 --val runs/synth/val --val-negatives 4 --hold-out 10 --out "$RUN/pointer" \
  --cache-dir "$RUN/cache" --epochs 12 --lr 1e-3 --seed 0 --threads 2
$PP calibrate --backbone default-llava --dtype float32 --pointer "$RUN/pointer" --data runs/synth/val \
  --negatives 4 --cache-dir "$RUN/cache" --plot "$RUN/reliability_val.png" --quiet
