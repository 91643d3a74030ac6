"""``partpoint point IMAGE "INSTRUCTION" ["INSTRUCTION" ...]``: a point per instruction in original pixels,
optionally an overlay PNG and 3-D camera coordinates from a depth image. Several instructions share one
encode of the image prefix.

``partpoint point --batch items.jsonl --out results.jsonl``: one JSON object per input line
(``{"image": PATH, "instructions": [...]}`` or ``"instruction"``; optional ``"id"``, ``"depth"``,
``"intrinsics"``), one result line per input line, in order. A bad line gets an ``"error"`` result and a
message with its line number; the run goes on. An interrupted run continues where it stopped: the lines
already in ``results.jsonl`` are kept and skipped (a half-written last line is dropped and redone).

With a calibrated pointer (``partpoint calibrate``) every point carries its ``confidence`` (the estimated
probability that it hits the part) and ``present``; a part judged absent is printed as "not found" and given
in JSON with ``x`` and ``y`` null (its peak as ``best_guess``), and gets no 3-D point. ``--max-points N|all``
gives every instance ("the handle of every mug") that clears the presence threshold.
"""

from __future__ import annotations

from ._backbone_options import add_backbone_options, backbone_kwargs

NAME = "point"
HELP = "Point at the part an instruction asks for in an image (prints x, y in original pixels)."


def add_arguments(p) -> None:
    p.add_argument("image", nargs="?", help="image file (any format PIL reads; EXIF orientation is applied)")
    p.add_argument("instruction", nargs="*",
                   help='what to point at, e.g. "Point to the handle of the mug."; several: one point each')
    p.add_argument("--batch", default=None, metavar="ITEMS.jsonl",
                   help="point for every line of a JSONL file instead (see --out); resumable")
    p.add_argument("--backbone", default="default-llava", help="default backbone name or model directory")
    p.add_argument("--pointer", default=None,
                   help="pointer directory (default: the one bundled for the backbone)")
    p.add_argument("--out", default=None,
                   help="single image: write the overlay PNG here; --batch: the results JSONL (required)")
    p.add_argument("--json", action="store_true",
                   help='print {"x", "y", "score", "width", "height"} (calibrated pointers: also '
                        '"confidence", "presence", "present"; not found: x, y null) as JSON (a list for '
                        'several instructions or points)')
    p.add_argument("--max-points", default=None, metavar="N|all",
                   help="every instance the instruction asks for (\"the handle of every mug\"): up to N "
                        "points (or all) that clear the pointer's presence threshold; one instruction")
    by_example = p.add_argument_group("point by example (the part marked once on a reference photo)")
    by_example.add_argument("--example", action="append", default=[], metavar="REF",
                            help="a reference photo (repeatable, 1-3); INSTRUCTION becomes optional")
    by_example.add_argument("--example-point", action="append", default=[], metavar="X,Y",
                            help="the part on each --example, in its pixels (in the same order)")
    by_example.add_argument("--example-mask", action="append", default=[], metavar="MASK.png",
                            help="or the part's mask on each --example (inside where > 0)")
    depth = p.add_argument_group("3-D points (camera frame: X right, Y down, Z forward)")
    depth.add_argument("--depth", default=None,
                       help="depth image aligned with the colour image (16-bit PNG, TIFF, .npy)")
    depth.add_argument("--intrinsics", default=None, metavar="FX,FY,CX,CY",
                       help="pinhole intrinsics in pixels")
    depth.add_argument("--depth-scale", type=float, default=1.0,
                       help="multiplies the raw depth values (0.001: millimetres to metres; default 1)")
    add_backbone_options(p)


def _camera(result, depth, intrinsics) -> dict:
    """The point in the camera frame from a depth array loaded (and scaled) once for its image; a depth image
    of another size than the colour image is refused there."""
    x, y, z = result.to_camera(depth, intrinsics)
    return {"X": x, "Y": y, "Z": z}


def _beside(path, base):
    """``path`` as given when it is absolute or exists, else relative to the batch file's folder ``base``."""
    from pathlib import Path

    path = Path(path)
    return path if path.is_absolute() or path.exists() else base / path


def run(args) -> int:
    from ..errors import InstructionError

    if args.batch:
        if args.image or args.instruction:
            raise InstructionError("--batch reads images and instructions from its file; drop IMAGE and "
                                   "INSTRUCTION")
        return run_batch(args)
    if not args.image or not (args.instruction or args.example):
        raise InstructionError('give an IMAGE and at least one INSTRUCTION or --example (or --batch '
                               'ITEMS.jsonl --out RESULTS.jsonl)')
    return run_single(args)


def examples_of(args) -> list:
    """The ``Example`` objects of ``--example`` with ``--example-point`` or ``--example-mask`` (in order)."""
    from ..example import Example, ExampleError
    from ..io.images import load_image

    points, masks = args.example_point, args.example_mask
    if (points and masks) or len(points or masks) != len(args.example):
        raise ExampleError("give one --example-point X,Y or one --example-mask MASK.png per --example (all "
                           "points or all masks, in the same order)")
    marks = []
    for text in points:
        try:
            x, y = (float(v) for v in text.split(","))
        except ValueError:
            raise ExampleError(f"--example-point {text!r} is not X,Y (pixels of the reference)") from None
        marks.append({"point": (x, y)})
    marks += [{"mask": mask} for mask in masks]
    examples = [Example(load_image(path), **mark) for path, mark in zip(args.example, marks)]
    # each mask file is read once, here, so a bad one fails before the model loads
    return [Example(e.image, mask=e.load_mask(e.image.size)) if e.mask is not None else e for e in examples]


def _load(args):
    import torch
    from transformers.utils import logging as hf_logging

    from ..predictor import load_pointer

    hf_logging.disable_progress_bar()
    torch.manual_seed(0)
    return load_pointer(args.backbone, args.pointer, **backbone_kwargs(args))


def run_single(args) -> int:
    import json
    import sys
    from pathlib import Path

    from ..errors import ImageError
    from ..io.camera import DepthError, Intrinsics, load_depth
    from ..io.images import check_instruction, load_image
    from ..io.viz import overlay

    image = load_image(args.image)  # bad input fails before the model loads
    instructions = [check_instruction(text) for text in args.instruction] or [None]
    examples = examples_of(args)
    depth = None
    if args.depth or args.intrinsics:
        if not (args.depth and args.intrinsics):
            raise DepthError("3-D points need both --depth and --intrinsics fx,fy,cx,cy")
        Intrinsics.parse(args.intrinsics)
        depth = load_depth(args.depth, depth_scale=args.depth_scale)
    max_points = parse_max_points(args.max_points, instructions, examples)
    pointer = _load(args)
    if max_points is not False:
        results = pointer.point_all(image, instructions[0], max_points=max_points)
        instructions = instructions * len(results)
        several = True
    else:
        several = len(instructions) > 1
        results = pointer.point_many(image, instructions, examples=examples)  # loaded images pass as they are
    records = [r.to_dict() for r in results]
    if depth is not None:
        for record, result in zip(records, results):
            if result.found:  # no 3-D point where the part is not found
                record.update(_camera(result, depth, args.intrinsics))
    if args.json:
        named = [{"instruction": text, **record} for text, record in zip(instructions, records)]
        print(json.dumps(named if several else records[0]))
    else:
        if not results:
            print(f"{args.instruction[0]!r}: not found (no peak clears the presence threshold)")
        for text, result, record in zip(instructions, results, records):
            prefix = f"{text!r}: " if several else ""
            xyz = "" if depth is None or not result.found else \
                f", camera ({record['X']:.3f}, {record['Y']:.3f}, {record['Z']:.3f})"
            print(f"{prefix}{result.describe()}{xyz}")
    if args.out and results:
        out = Path(args.out)
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            overlay(image, results).save(out, format="PNG")  # the results carry their geometry
        except OSError as error:
            raise ImageError(f"cannot write the overlay to {out} ({error.strerror or error}); pick a "
                             "writable path") from None
        print(f"overlay written to {out}", file=sys.stderr if args.json else sys.stdout)
    return 0


def parse_max_points(text, instructions, examples):
    """``--max-points``: False when not given, else a positive number or None (``all``); one instruction and
    no examples."""
    from ..errors import InstructionError

    if text is None:
        return False
    if len(instructions) != 1 or instructions[0] is None or examples:
        raise InstructionError("--max-points takes exactly one INSTRUCTION and no --example")
    if text == "all":
        return None
    if not text.isdigit() or int(text) < 1:
        raise InstructionError(f"--max-points {text!r}: pass a positive number or 'all'")
    return int(text)


def read_items(path) -> list[tuple[int, dict | None, str | None]]:
    """``(line number, item, error)`` for every non-empty line of a JSONL file (1-based line numbers)."""
    import json

    out = []
    for number, text in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not text.strip():
            continue
        try:
            item = json.loads(text)
        except ValueError as error:
            out.append((number, None, f"not JSON ({error.msg})"))
            continue
        if not isinstance(item, dict):
            out.append((number, None, "not a JSON object"))
            continue
        out.append((number, item, None))
    return out


def done_lines(out_path) -> set[int]:
    """Input line numbers already answered in ``out_path``; a half-written last line is cut off."""
    import json

    if not out_path.is_file():
        return set()
    data = out_path.read_bytes()
    keep = data.rfind(b"\n") + 1  # whatever follows the last newline was cut by an interruption
    if keep != len(data):
        with open(out_path, "r+b") as f:
            f.truncate(keep)
    done = set()
    for text in data[:keep].decode("utf-8").splitlines():
        try:
            done.add(int(json.loads(text)["line"]))
        except (ValueError, KeyError, TypeError):
            continue
    return done


def run_batch(args) -> int:
    import json
    import os
    import sys
    import time
    from pathlib import Path

    from tqdm.auto import tqdm

    from ..errors import DataError, PartPointError
    from ..io.camera import load_depth
    from ..io.images import check_instruction, load_image

    items_path = Path(args.batch)
    if not items_path.is_file():
        raise DataError(f"batch file not found: {items_path}")
    if not args.out:
        raise DataError("--batch needs --out RESULTS.jsonl (where the results go, one line per input line)")
    out_path = Path(args.out)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    items = read_items(items_path)
    done = done_lines(out_path)
    todo = [entry for entry in items if entry[0] not in done]
    if done:
        print(f"resuming: {len(done)} of {len(items)} lines already in {out_path}", file=sys.stderr)
    pointer = _load(args) if todo else None
    base = items_path.parent
    failures, instructions_done, start = 0, 0, time.perf_counter()
    bar = tqdm(todo, desc="pointing", unit="image",
               disable=not sys.stderr.isatty() and not os.environ.get("TQDM_FORCE"))
    with open(out_path, "a", encoding="utf-8") as out:
        for number, item, error in bar:
            record = {"line": number}
            try:
                if error:
                    raise DataError(error)
                record["id"] = item.get("id", number)
                texts = item.get("instructions", item.get("instruction"))
                texts = [texts] if isinstance(texts, str) else texts
                if not isinstance(texts, list) or not texts:
                    raise DataError('no "instruction" or "instructions" list')
                texts = [check_instruction(t) for t in texts]
                if "image" not in item:
                    raise DataError('no "image"')
                image = load_image(_beside(item["image"], base))
                results = pointer.point_many(image, texts)
                record.update(image=str(item["image"]), width=image.width, height=image.height,
                              points=[{"instruction": t, **{k: v for k, v in r.to_dict().items()
                                                            if k not in ("width", "height")}}
                                      for t, r in zip(texts, results)])
                if item.get("depth"):
                    intrinsics = item.get("intrinsics") or args.intrinsics
                    if intrinsics is None:
                        raise DataError('"depth" needs "intrinsics" [fx, fy, cx, cy] (or --intrinsics)')
                    depth = load_depth(_beside(item["depth"], base), depth_scale=args.depth_scale)  # once
                    for point, result in zip(record["points"], results):
                        if result.found:
                            point.update(_camera(result, depth, intrinsics))
                instructions_done += len(texts)
            except PartPointError as failure:
                failures += 1
                record = {"line": number, "id": (item or {}).get("id", number), "error": str(failure)}
                print(f"{items_path}:{number}: {failure} (skipped)", file=sys.stderr)
            out.write(json.dumps(record) + "\n")
            out.flush()
            os.fsync(out.fileno())  # a finished line survives an interruption
            elapsed = max(time.perf_counter() - start, 1e-9)
            bar.set_postfix_str(f"{instructions_done / elapsed:.2f} instructions/s")
    print(f"{len(todo) - failures} lines pointed, {failures} bad lines skipped, {len(done)} kept from before "
          f"-> {out_path}", file=sys.stderr)
    return 0
