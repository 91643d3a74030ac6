#!/usr/bin/env bash
# The target table for the bundled default-llava pointer: ours, attention pointing and the image centre on
# SynthParts test (seed 1234: never trained or tuned on), Car-Parts testset, Clothing Co-Parsing test and
# DoorDetect test handles (first 200 samples each, direct instructions) and the InstructPart dev subset
# (zero-shot; named-part instruction 2, reasoning 0-1).
# Writes results/targets/*.json (one summary per cell); runs/targets/ keeps the per-sample records.
# Usage: bash scripts/eval_targets.sh   (~20 min on the 2-core CPU)
set -euo pipefail
METHODS=${METHODS:-"ours attention center"}  # METHODS=ours: only the pointer (a new bundled pointer)
cd "$(dirname "$0")/.."
PP=${PP:-.venv/bin/partpoint}
DATA=${PARTPOINT_DATA:-../shared/data}
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
mkdir -p results/targets runs/targets
[ -f runs/synth/test/instructpart_test.json ] || $PP synth --out runs/synth/test --split test --n 20 --seed 1234 --quiet
cells=("synth_test=runs/synth/test" "carparts_test=carparts:$DATA/carparts/testset" \
       "instructpart_named=instructpart:$DATA/instructpart-dev#2" "instructpart_reason=instructpart:$DATA/instructpart-dev#0,1" \
       "ccp_test=labelmap:$DATA/ccp/test#direct" "doordetect_test=yolo:$DATA/doordetect/test:handle#direct")
for cell in "${cells[@]}"; do
  name=${cell%%=*}; spec=${cell#*=}
  limit=(); case $name in carparts_test|ccp_test|doordetect_test) limit=(--limit 200);; esac
  for method in $METHODS; do
    $PP eval --backbone default-llava --dtype float32 --method "$method" --data "$spec" "${limit[@]}" --json \
      --out "runs/targets/${name}_$method.json" > "results/targets/${name}_$method.json"
  done
done
echo "wrote results/targets/"
