#!/usr/bin/env bash
# Your own objects, end to end (README: "Your own objects"): a folder of annotated photos -> a fine-tuned
# pointer -> a point. Here the "own" photos are the first N DoorDetect training photos with their YOLO handle
# boxes (any of the three formats works the same way: coco:, yolo:, labelmap:); ~45 s on 2 CPU cores.
# Usage: bash examples/own_objects.sh [N=50]
set -euo pipefail
cd "$(dirname "$0")/.."
PP=${PP:-.venv/bin/partpoint}
DATA=${PARTPOINT_DATA:-../shared/data}
N=${1:-50}
OWN=runs/own
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1

# 1. Your annotations: photos/train/images/NAME.jpg + photos/train/labels/NAME.txt (class cx cy w h) + obj.names
rm -rf "$OWN/photos" && mkdir -p "$OWN/photos/train/images" "$OWN/photos/train/labels"
cp "$DATA/doordetect/obj.names" "$OWN/photos/"
for label in $(ls "$DATA/doordetect/train/labels" | sort | head -n "$N"); do
  name=${label%.txt}
  cp "$DATA/doordetect/train/labels/$label" "$OWN/photos/train/labels/"
  ln -sf "$(realpath "$DATA/doordetect/train/images/$name.jpg")" "$OWN/photos/train/images/$name.jpg"
done

# 2. Fine-tune the bundled pointer on them (features are cached once; --resume continues an interrupted run)
$PP train --backbone default-llava --init default --data "yolo:$OWN/photos/train:handle" \
  --out "$OWN/pointer" --cache-dir "$OWN/cache" --epochs 8 --seed 0 --quiet

# 3. Point with it on a photo it has not seen
PHOTO="$DATA/doordetect/test/images/00bb60b91c5335b1.jpg"
$PP point "$PHOTO" "Point to the handle of the door." --pointer "$OWN/pointer" --json --out "$OWN/overlay.png"
echo "overlay: $OWN/overlay.png"
