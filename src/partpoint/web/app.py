"""``partpoint serve``: a Gradio page that points at parts, for people who would rather look than type.

Upload an image (or pick an example), write one instruction per line, choose the backbone (a bundled
default or a model directory) and pointer (bundled or a directory), and the method (ours, or the
backbone's own attention pointing on the same heads, to compare). The page shows the overlay (a
colour per instruction: heatmap tint, marker, legend line) and the JSON result; with a calibrated pointer
each point carries its confidence and a part judged absent is shown as "not found".

Point by example: add a reference photo and click the part on it (or type its ``x, y``); the instruction
then becomes optional (the reference alone) or is fused with it.

A model is loaded once per (backbone, pointer, device, dtype) and kept; requests queue (one runs at a
time, the model is not thread-safe); several instructions share one encode of the image prefix. Bad
input (an unreadable upload, no instruction, a wrong checkpoint) shows its one-line error on the page.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

from ..errors import InstructionError, PartPointError

#: What the page offers: the methods that draw a heatmap from one encode (evaluation.METHODS has them all).
METHODS = ("ours", "attention")
CUSTOM = "(directory below)"


class Models:
    """Loaded ``Pointer`` predictors by ``(backbone, pointer, device, dtype)``; loads each once."""

    def __init__(self, *, device: str = "cpu", dtype: str = "float32"):
        self.device, self.dtype = device, dtype
        self._loaded: dict[tuple, object] = {}
        self._lock = threading.Lock()

    def get(self, backbone: str, pointer: str | None):
        from ..predictor import load_pointer

        key = (backbone, pointer or None, self.device, self.dtype)
        with self._lock:
            if key not in self._loaded:
                self._loaded[key] = load_pointer(backbone, pointer or None, device=self.device,
                                                 dtype=self.dtype)
            return self._loaded[key]


def parse_instructions(text: str | None) -> list[str]:
    """One instruction per non-empty line; :class:`InstructionError` when there is none."""
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    if not lines:
        raise InstructionError("no instruction given; write what to point at, one instruction per line")
    return lines


def parse_reference_point(text: str | None) -> tuple[float, float]:
    """The clicked (or typed) ``"x, y"`` of the part on the reference photo."""
    from ..example import ExampleError

    try:
        x, y = (float(v) for v in (text or "").replace("(", "").replace(")", "").split(","))
    except ValueError:
        raise ExampleError("click the part on the reference photo (or type its x, y in pixels)") from None
    return x, y


def point_image(pointer, image, instructions: list[str | None], method: str = "ours", examples=()) -> list:
    """``PointResult`` per instruction (None: the examples alone) with ``method`` ``"ours"`` or
    ``"attention"`` (the pointer's heads; no examples)."""
    if method == "ours":
        return pointer.point_many(image, instructions, examples=examples)
    if examples:
        raise PartPointError("a reference photo works with method ours only")
    if method == "attention":
        from ..baselines import attention_point

        features = pointer.backbone.encode_many(image, instructions, layers=pointer.model.identity.layers)
        return [attention_point(f, pointer.heads, instruction=t) for f, t in zip(features, instructions)]
    raise PartPointError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")


def answer(models: Models, upload, instructions_text: str, backbone: str, backbone_dir: str, pointer_dir: str,
           method: str, reference=None, reference_point: str | None = None):
    """One request: ``(overlay image, JSON text)``; any partpoint error becomes a one-line page error.
    ``reference`` (a PIL image) with ``reference_point`` ("x, y" on it) points by example."""
    import gradio as gr

    from ..io.images import load_image
    from ..io.viz import overlay as draw

    path = None
    try:
        if upload is None:
            raise PartPointError("no image given; upload an image or pick an example")
        path = upload if isinstance(upload, str) else getattr(upload, "name", upload)
        image = load_image(path)
        examples = []
        if reference is not None:
            from ..example import Example

            examples = [Example(load_image(reference), point=parse_reference_point(reference_point))]
        typed = (instructions_text or "").strip() or not examples
        instructions = parse_instructions(instructions_text) if typed else [None]
        name = (backbone_dir or "").strip() if backbone == CUSTOM else backbone
        if not name:
            raise PartPointError("no backbone directory given; type one or pick a bundled backbone")
        pointer = models.get(name, (pointer_dir or "").strip() or None)
        results = point_image(pointer, image, instructions, method, examples)
        overlay = draw(image, results)
    except PartPointError as error:
        message = str(error)
        if upload is not None:  # name the file the user chose, not the server's temporary copy
            message = message.replace(str(path), Path(str(path)).name)
        raise gr.Error(message) from None
    records = [{"instruction": text or "(the reference's part)",
                **{k: round(v, 4) if isinstance(v, float) else v
                   for k, v in r.to_dict().items() if k not in ("width", "height")},
                "method": method} for text, r in zip(instructions, results)]
    return overlay, json.dumps({"width": image.width, "height": image.height, "points": records}, indent=2)


def example_inputs(examples_dir: Path | None) -> list[list[str]]:
    """``[[image path, instruction], ...]`` from an InstructPart-style ``examples.json`` (if there is one)."""
    if examples_dir is None or not (Path(examples_dir) / "examples.json").is_file():
        return []
    from ..data import open_dataset

    try:
        dataset = open_dataset(f"instructpart:{Path(examples_dir) / 'examples.json'}#2")
        return [[str(dataset[i].meta["image_path"]),
                 dataset[i].instruction] for i in range(min(len(dataset), 6))]
    except (PartPointError, IndexError):
        return []


def require_gradio():
    """Import gradio, or say how to install it (it is the ``web`` extra)."""
    try:
        import gradio  # noqa: F401
    except ImportError:
        raise PartPointError("the web page needs gradio: pip install 'partpoint[web]' (make setup installs "
                             "it)") from None


def build_app(*, backbones: list[str], default_backbone: str, default_pointer: str | None = None,
              device: str = "cpu", dtype: str = "float32", examples_dir: Path | None = None):
    """The Gradio ``Blocks`` of the page (not launched)."""
    require_gradio()
    import gradio as gr

    models = Models(device=device, dtype=dtype)
    choices = list(dict.fromkeys([default_backbone, *backbones, CUSTOM]))
    with gr.Blocks(title="partpoint: point at parts") as app:
        gr.Markdown("# partpoint\nPart-level points from a frozen multimodal LLM: upload an image, write "
                    "what to point at (one instruction per line), press **Point**.")
        with gr.Row():
            with gr.Column():
                upload = gr.File(label="image", file_types=["image"], type="filepath", elem_id="image-upload")
                instructions = gr.Textbox(label="instructions (one per line)", lines=3,
                                          elem_id="instructions",
                                          placeholder="Point to the handle of the mug.")
                with gr.Row():
                    backbone = gr.Dropdown(choices, value=default_backbone, label="backbone",
                                           elem_id="backbone")
                    method = gr.Radio(list(METHODS), value="ours", label="method", elem_id="method")
                backbone_dir = gr.Textbox(label="backbone directory (when the backbone is a directory)",
                                          elem_id="backbone-dir")
                pointer_dir = gr.Textbox(label="pointer directory (empty: the one bundled for the backbone)",
                                         value=default_pointer or "", elem_id="pointer-dir")
                with gr.Accordion("point by example (optional)", open=False):
                    reference = gr.Image(label="reference photo: click the part on it", type="pil",
                                         elem_id="reference")
                    reference_point = gr.Textbox(label="the part on the reference (x, y pixels; a click sets "
                                                       "it)", elem_id="reference-point")
                button = gr.Button("Point", variant="primary", elem_id="point-button")
            with gr.Column():
                overlay = gr.Image(label="overlay", type="pil", elem_id="overlay", interactive=False)
                result = gr.Textbox(label="result (JSON)", lines=12, elem_id="result-json", interactive=False)
        examples = example_inputs(examples_dir)
        if examples:
            gr.Examples(examples=examples, inputs=[upload, instructions], label="examples")
        def clicked(event) -> str:  # a click on the reference photo -> its "x, y"
            return f"{event.index[0]}, {event.index[1]}"

        clicked.__annotations__ = {"event": gr.SelectData}  # how Gradio knows to pass the click
        reference.select(clicked, outputs=reference_point)
        button.click(lambda *a: answer(models, *a), inputs=[upload, instructions, backbone, backbone_dir,
                                                            pointer_dir, method, reference, reference_point],
                     outputs=[overlay, result], concurrency_limit=1)
    app.queue(default_concurrency_limit=1)
    return app
