#!/usr/bin/env bash
# Second stage of the bundled default-llava pointer (issue: confidence): a presence head ("is the named part in
# the image at all?") over the vision tower's patch features and the heads' text queries, trained alone (the
# pointer frozen, so points do not move) on SynthParts train (1,000 scenes), Car-Parts train and CCP train, each
# with 2 negatives per image, less 10% of each set's images (by name hash: --hold-out 10), which are val beside
# SynthParts val; the best of 24 epochs by the val sets' mean absent-part AUROC (12 epochs: 0.920, 24: 0.939).
# Then the calibration, fitted on SynthParts val pooled with the held-out Car-Parts and CCP photos (no stage trains
# on those; a SynthParts-only fit left real photos under-confident and called half their parts absent:
# docs/METHOD.md).
# Input: the first stage (checkpoints/scale, scripts/train_scale.sh), whose caches (runs/cache) it shares; ~10 min
# once they exist (~30 min of caching on a fresh machine: the negatives).
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
$PP presence --backbone default-llava --dtype float32 --pointer "${FROM:-checkpoints/scale}" \
  --data runs/scale/synth-train --data "carparts:$DATA/carparts/trainingset" --data "labelmap:$DATA/ccp/train" \
  --negatives 2 --val runs/synth/val --val-negatives 4 --hold-out 10 --out "$RUN/pointer" \
  --cache-dir runs/cache --epochs 24 --lr 1e-3 --seed 0 --threads 2
$PP calibrate --backbone default-llava --dtype float32 --pointer "$RUN/pointer" --data runs/synth/val \
  --data "carparts:$DATA/carparts/trainingset%held10" --data "labelmap:$DATA/ccp/train%held10" \
  --negatives 4 --cache-dir runs/cache --plot "$RUN/reliability_val.png" --quiet
