"""``partpoint serve``: the web page (Gradio) on ``--host`` (default 127.0.0.1) and ``--port``."""

from __future__ import annotations

from ._backbone_options import add_backbone_options, backbone_kwargs

NAME = "serve"
HELP = "Serve a web page to point at parts: upload an image, type instructions, see the overlay and JSON."


def add_arguments(p) -> None:
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=7860, help="port (default 7860)")
    p.add_argument("--backbone", default="default-llava", help="backbone preselected on the page")
    p.add_argument("--pointer", default=None, help="pointer directory preselected (default: the bundled one)")
    p.add_argument("--examples", default=None,
                   help="examples folder with examples.json (default: ./examples, else the source "
                        "checkout's)")
    add_backbone_options(p)


def default_examples():
    """``./examples`` when it holds an ``examples.json``, else the source checkout's (an editable install),
    else None."""
    from pathlib import Path

    for folder in (Path.cwd() / "examples", Path(__file__).resolve().parents[3] / "examples"):
        if (folder / "examples.json").is_file():
            return folder
    return None


def run(args) -> int:
    from pathlib import Path

    from ..backbones.defaults import DEFAULT_BACKBONES
    from ..web.app import build_app

    app = build_app(backbones=list(DEFAULT_BACKBONES), default_backbone=args.backbone,
                    default_pointer=args.pointer,
                    examples_dir=Path(args.examples) if args.examples else default_examples(),
                    **backbone_kwargs(args))
    print(f"serving on http://{args.host}:{args.port} (Ctrl-C stops)", flush=True)
    app.launch(server_name=args.host, server_port=args.port, show_error=True, quiet=True)
    return 0
