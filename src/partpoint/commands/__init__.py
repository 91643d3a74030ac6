"""The ``partpoint`` command line: ``main(argv)``.

Each sub-command lives in its own module of this package and exposes
``NAME``, ``HELP``, ``add_arguments(parser)`` and ``run(args) -> int``. Modules import heavy
libraries (torch, transformers) inside ``run`` so ``partpoint --help`` stays instant.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from ..errors import DataWarning, PartPointError


def _command_modules():
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if not info.name.startswith("_"):
            yield importlib.import_module(f"{__name__}.{info.name}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="partpoint",
                                     description="Part-level point grounding for frozen multimodal LLMs "
                                                 "(Q-Synth + A2P).")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in _command_modules():
        p = sub.add_parser(module.NAME, help=module.HELP, description=module.HELP)
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    import warnings

    show = warnings.showwarning  # a skipped annotation: one line, "warning: FILE:LINE: why (skipped)"
    warnings.showwarning = lambda message, category, *rest: print(f"warning: {message}", file=sys.stderr) \
        if issubclass(category, DataWarning) else show(message, category, *rest)
    args = build_parser().parse_args(argv)
    try:
        return int(args._run(args) or 0)
    except PartPointError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
