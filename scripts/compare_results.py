"""Compare two benchmark result folders value by value, timings and machine records left out.

    python scripts/compare_results.py BEFORE/results AFTER/results

What a refactor must leave unchanged (hit rates, patch accuracies, head lists, losses at the same seeds)
is every other number and string; this prints each difference and exits 1 if there is any.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

SKIP_KEYS = {"run", "wall_s", "epoch_s", "seconds", "machine", "cache", "created", "date", "command", "spec"}


def leaves(value, path=""):
    if isinstance(value, dict):
        for key, item in value.items():
            if key in SKIP_KEYS or key.endswith("_s") or key.endswith("_dir"):
                continue
            yield from leaves(item, f"{path}.{key}" if path else key)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from leaves(item, f"{path}[{index}]")
    else:
        yield path, value


def main(before: str, after: str) -> int:
    differences, compared = 0, 0
    for old_path in sorted(Path(before).glob("*.json")):
        if old_path.name in ("machine.json", "settings.json"):
            continue
        new_path = Path(after) / old_path.name
        if not new_path.is_file():
            print(f"{old_path.name}: missing in {after}")
            differences += 1
            continue
        old, new = dict(leaves(json.loads(old_path.read_text()))), dict(leaves(json.loads(new_path.read_text())))
        for key in sorted(set(old) | set(new)):
            compared += 1
            if old.get(key) != new.get(key):
                differences += 1
                print(f"{old_path.name}: {key}: {old.get(key)!r} -> {new.get(key)!r}")
    print(f"{compared} values compared, {differences} differ")
    return 1 if differences else 0


if __name__ == "__main__":
    raise SystemExit(main(*sys.argv[1:3]))
